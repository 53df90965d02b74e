{#-
    Each valid customer's model features as z-scores, computed from the
    stored fit state in feature_scaling (transform, mean, stddev), never from
    the rows being scored.
-#}
with

customers_imputed as (

    select * from {{ ref("int_customers_imputed") }}

),

feature_scaling as (

    select * from {{ ref("feature_scaling") }}

),

scaling_row as (

    -- One row, three columns per feature, so the customers join it once.
    select
        {% for feature in model_feature_names() -%}
            max(transform) filter (where feature_name = '{{ feature }}')
                as {{ feature }}__transform,
            max(mean) filter (where feature_name = '{{ feature }}')
                as {{ feature }}__mean,
            max(stddev) filter (where feature_name = '{{ feature }}')
                as {{ feature }}__stddev{% if not loop.last %},{% endif %}
        {% endfor %}
    from feature_scaling

),

standardized as (

    select
        customers_imputed.cust_id,
        {% for feature in model_feature_names() -%}
            (
                {{ transformed(
                    "customers_imputed." ~ feature,
                    "scaling_row." ~ feature ~ "__transform"
                ) }}
                - scaling_row.{{ feature }}__mean
            ) / scaling_row.{{ feature }}__stddev
                as {{ feature }}_z{% if not loop.last %},{% endif %}
        {% endfor %}
    from customers_imputed
    cross join scaling_row

)

select * from standardized
