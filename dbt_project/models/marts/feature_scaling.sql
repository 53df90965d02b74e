{#-
    Fit state, part 2: one row per model feature with everything scoring
    needs (impute value, transform, mean, standard deviation).  Written once
    per build from the valid customers; int_customers_standardized and any
    later scoring read it and never recompute scaling from the rows they score.
-#}
with

customers_imputed as (

    select * from {{ ref("int_customers_imputed") }}

),

feature_impute_values as (

    select * from {{ ref("int_feature_impute_values") }}

),

transformed as (

    unpivot (
        select
            {% for feature in model_feature_names() %}
            {{ transformed(feature, "'" ~ feature_transform(feature) ~ "'") }}
                as {{ feature }},
            {% endfor %}
        from customers_imputed
    )
    on {{ model_feature_names() | join(", ") }}
    into name feature_name value transformed_value

),

moments as (

    -- Population moments (ddof = 0), as scikit-learn's StandardScaler.
    select
        feature_name,
        avg(transformed_value) as mean,
        stddev_pop(transformed_value) as stddev,
        count(*) as n_rows
    from transformed
    group by feature_name

),

feature_positions as (

    select * from (
        values
        {% for feature in model_feature_names() %}
        (
            {{ loop.index }},
            '{{ feature }}',
            '{{ feature | upper }}',
            '{{ feature_transform(feature) }}'
        ){{ "," if not loop.last }}
        {% endfor %}
    ) as positions (feature_position, feature_name, raw_column, transform)

),

final as (

    select
        feature_positions.feature_name,
        feature_positions.feature_position,
        feature_positions.raw_column,
        feature_impute_values.impute_value,
        feature_impute_values.impute_method,
        feature_positions.transform,
        moments.mean,
        -- A constant feature is divided by 1, as StandardScaler does.
        case
            when moments.stddev > 0 then moments.stddev else 1.0
        end as stddev,
        moments.n_rows
    from feature_positions
    inner join moments
        on feature_positions.feature_name = moments.feature_name
    inner join feature_impute_values
        on feature_positions.feature_name = feature_impute_values.feature_name

)

select * from final
order by feature_position
