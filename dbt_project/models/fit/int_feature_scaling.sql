{#-
    Fit state, part 2: one row per model feature with everything scoring
    needs (impute value, transform, clip bounds, mean, standard deviation).
    Written once per build from the valid customers; int_customers_standardized
    and any later scoring read it and never recompute scaling from the rows
    they score.  A refit: false build takes the published model's rows from
    fitted_features instead (macros/registry/frozen_model.sql).

    Clipping (var scaling_clip_quantile, q): each transformed feature is
    clipped to its q and 1 - q quantiles over the fitted customers
    (percentile_cont; above fit_max_rows customers, over the fixed-seed
    sample of that many the KMeans fit uses) before the moments are taken, and every customer
    scored later is clipped to the same bounds, so one extreme but valid
    value moves neither the mean nor the standard deviation of the others.
-#}
-- {{ reads_published_model() }}
{% set clip_quantile = var("scaling_clip_quantile") | float %}
{#- The bounds are quantiles of at most this many customers: every one up
    to it (the real file), a fixed-seed sample above it (a quantile holds
    every value it orders: 17 measures of 10 M customers ran out of
    memory), the sample the KMeans fit uses. -#}
{% set clip_sample_rows = var("fit_max_rows") | int %}
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

transformed_values as (

    select
        model_features.feature_name,
        imputed_values.imputed_value,
        {{ transformed(
            "imputed_values.imputed_value", "model_features.transform"
        ) }} as transformed_value
    from imputed_values
    inner join model_features
        on imputed_values.feature_name = model_features.feature_name

),

clip_sample as (

    select *
    from customers_imputed
    order by
        {{ row_hash(["cust_id", var("random_state") | int]) }},
        cust_id
    limit {{ clip_sample_rows }}

),

sampled_values as (

    {{ unpivot_columns(
        "clip_sample", model_feature_names(), "feature_name", "imputed_value"
    ) }}

),

sampled_transformed as (

    select
        model_features.feature_name,
        {{ transformed(
            "sampled_values.imputed_value", "model_features.transform"
        ) }} as transformed_value
    from sampled_values
    inner join model_features
        on sampled_values.feature_name = model_features.feature_name

),

clip_bounds as (

    select
        feature_name,
        {% if clip_quantile > 0 %}
            percentile_cont({{ clip_quantile }}) within group (
                order by transformed_value
            ) as clip_low,
            percentile_cont({{ 1 - clip_quantile }}) within group (
                order by transformed_value
            ) as clip_high
        {% else %}
            cast(null as double) as clip_low,
            cast(null as double) as clip_high
        {% endif %}
    from sampled_transformed
    group by feature_name

),

clipped_values as (

    select
        transformed_values.feature_name,
        transformed_values.imputed_value,
        -- greatest and least skip a NULL bound (no clipping) on both engines
        least(
            greatest(
                transformed_values.transformed_value, clip_bounds.clip_low
            ),
            clip_bounds.clip_high
        ) as clipped_value,
        transformed_values.transformed_value < clip_bounds.clip_low
        or transformed_values.transformed_value > clip_bounds.clip_high
            as is_clipped
    from transformed_values
    inner join clip_bounds
        on transformed_values.feature_name = clip_bounds.feature_name

),

moments as (

    -- Population moments (ddof = 0), as scikit-learn's StandardScaler.
    select
        clipped_values.feature_name,
        avg(clipped_values.clipped_value) as mean,
        stddev_pop(clipped_values.clipped_value) as stddev,
        -- exactly, where a stddev_pop could be a rounding error above 0
        min(clipped_values.imputed_value) = max(clipped_values.imputed_value)
            as is_constant,
        min(clipped_values.clipped_value) = max(clipped_values.clipped_value)
            as is_constant_when_clipped,
        count(*) as n_rows,
        count(*) filter (where clipped_values.is_clipped) as n_clipped
    from clipped_values
    group by clipped_values.feature_name

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
            stddev,
            -- NULL for a model from before clipping: it clips nothing
            clip_low,
            clip_high,
            n_clipped
        from {{ published_state("fitted_features") }}
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
            clip_bounds.clip_low,
            clip_bounds.clip_high,
            moments.n_clipped,
            -- A constant feature is divided by 1, as StandardScaler does: every
            -- fitted customer's z is 0, so it weighs nothing in the fit.  So
            -- is one that clipping makes constant (fewer than q of customers
            -- differ from the rest).
            case
                when moments.is_constant or moments.is_constant_when_clipped
                    then 1.0
                else moments.stddev
            end as stddev
        from model_features
        inner join moments
            on model_features.feature_name = moments.feature_name
        inner join clip_bounds
            on model_features.feature_name = clip_bounds.feature_name
        inner join feature_impute_values
            on model_features.feature_name = feature_impute_values.feature_name
    {% endif %}

)

select * from final
order by feature_position
