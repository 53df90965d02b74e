{#-
    Valid customers with every missing measure replaced by its fitted impute
    value, and a flag per measure saying which ones were imputed (scoring
    chain steps, scoring_chain.sql, shared with scoring_query).
-#}
with

customers_validated as (

    select * from {{ ref("int_customers_validated") }}

),

feature_impute_values as (

    select * from {{ ref("int_feature_impute_values") }}

),

valid_customers as (

    select * from customers_validated
    where is_valid

),

impute_row as (

    {{ chain_impute_row("feature_impute_values") }}

),

imputed as (

    {{ chain_imputed(
        "valid_customers", "impute_row", ["cust_id", "source_row_number"]
    ) }}

)

select * from imputed
