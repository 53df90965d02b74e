{#-
    One row identifying the data a fit sees: the valid customers' ids and
    imputed measures, hashed row by row and summed, so it does not depend on
    row order or on the last bits of parallel floating-point aggregates.
-#}
with

customers_imputed as (

    select * from {{ ref("int_customers_imputed") }}

),

fingerprint as (

    select
        count(*) as n_rows,
        md5(
            cast(
                sum(hash(cust_id, {{ cc_feature_names() | join(", ") }}))
                as varchar
            ) || ':' || count(*)
        ) as input_fingerprint
    from customers_imputed

)

select * from fingerprint
