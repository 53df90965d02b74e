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
    select {{ scaling_columns(model_feature_names()) }}
    from feature_scaling

),

standardized as (

    select
        customers_imputed.cust_id,
        customers_imputed.source_row_number,
        {{ z_score_columns(
            "customers_imputed", "scaling_row", model_feature_names()
        ) }}
    from customers_imputed
    cross join scaling_row

)

select * from standardized
