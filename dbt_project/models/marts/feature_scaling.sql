{#-
    Fit state, part 2: one row per model feature with everything scoring
    needs (impute value, transform, mean, standard deviation).  Written once
    per build from the valid customers; int_customers_standardized and any
    later scoring read it and never recompute scaling from the rows they score.
    A refit: false build takes the published model's rows from
    fitted_features instead (macros/frozen_model.sql).
-#}
with

customers_imputed as (

    select * from {{ ref("int_customers_imputed") }}

),

feature_impute_values as (

    select * from {{ ref("int_feature_impute_values") }}

),

model_features as (

    select
        feature_position,
        feature_name,
        transform,
        upper(feature_name) as raw_column
    from (
        values
        {% for feature in model_feature_names() -%}
            (
                {{ loop.index }},
                '{{ feature }}',
                '{{ feature_transform(feature) }}'
            ){% if not loop.last %},{% endif %}
        {% endfor %}
    -- the alias names the VALUES columns; sqlfluff misreads it as unused
    ) as model_features ( -- noqa: AL05
        feature_position, feature_name, transform
    )

),

imputed_values as (

    {{ unpivot_columns(
        "customers_imputed", model_feature_names(), "feature_name", "imputed_value"
    ) }}

),

moments as (

    -- Population moments (ddof = 0), as scikit-learn's StandardScaler.
    select
        model_features.feature_name,
        avg(
            {{ transformed(
                "imputed_values.imputed_value", "model_features.transform"
            ) }}
        ) as mean,
        stddev_pop(
            {{ transformed(
                "imputed_values.imputed_value", "model_features.transform"
            ) }}
        ) as stddev,
        -- exactly, where a stddev_pop could be a rounding error above 0
        min(imputed_values.imputed_value) = max(imputed_values.imputed_value)
            as is_constant,
        count(*) as n_rows
    from imputed_values
    inner join model_features
        on imputed_values.feature_name = model_features.feature_name
    group by model_features.feature_name

),

final as (

    {% if not refit() %}
        select
            feature_name,
            feature_position,
            raw_column,
            impute_value,
            impute_method,
            transform,
            mean,
            n_rows,
            is_constant,
            stddev
        from {{ frozen_state("fitted_features") }}
        where model_id = '{{ frozen_model_id() }}' and is_model_feature
    {% else %}
        select
            model_features.feature_name,
            model_features.feature_position,
            model_features.raw_column,
            feature_impute_values.impute_value,
            feature_impute_values.impute_method,
            model_features.transform,
            moments.mean,
            moments.n_rows,
            moments.is_constant,
            -- A constant feature is divided by 1, as StandardScaler does: every
            -- fitted customer's z is 0, so it weighs nothing in the fit.
            case
                when moments.is_constant then 1.0 else moments.stddev
            end as stddev
        from model_features
        inner join moments
            on model_features.feature_name = moments.feature_name
        inner join feature_impute_values
            on model_features.feature_name = feature_impute_values.feature_name
    {% endif %}

)

select * from final
order by feature_position
