{#-
    Each valid customer's model features as z-scores, computed from the
    stored fit state in feature_scaling (transform, clip bounds, mean,
    stddev), never from the rows being scored (scoring chain steps,
    scoring_chain.sql, shared with scoring_query), and how many of its
    features were clipped to the fit's bounds (n_clipped_features).
-#}
with

customers_imputed as (

    select * from {{ ref("int_customers_imputed") }}

),

feature_scaling as (

    select * from {{ ref("int_feature_scaling") }}

),

scaling_row as (

    {{ chain_scaling_row("feature_scaling") }}

),

standardized as (

    {{ chain_standardized(
        "customers_imputed",
        "scaling_row",
        ["cust_id", "source_row_number"],
        count_clipped=true,
    ) }}

)

select * from standardized
