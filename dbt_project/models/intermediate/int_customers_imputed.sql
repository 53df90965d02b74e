{#-
    Valid customers with every missing measure replaced by its fitted impute
    value, and a flag per measure saying which ones were imputed.
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

    -- One row, one column per measure, so the customers join it once.
    select {{ impute_value_columns(cc_feature_names()) }}
    from feature_impute_values

),

imputed as (

    select
        valid_customers.cust_id,
        valid_customers.source_row_number,
        {% for feature in cc_feature_names() -%}
            coalesce(
                cast(valid_customers.{{ feature }} as double),
                impute_row.{{ feature }}
            ) as {{ feature }},
        {% endfor -%}
        {% for feature in cc_feature_names() -%}
            valid_customers.{{ feature }} is null
                as is_imputed_{{ feature }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from valid_customers
    cross join impute_row

)

select * from imputed
