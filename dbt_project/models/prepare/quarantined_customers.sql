{#-
    Raw rows that cannot be segmented, with the values as read and why.
    Together with customer_segments this accounts for every raw row.
-#}
with

customers_validated as (

    select * from {{ ref("int_customers_validated") }}

),

final as (

    select
        source_row_number,
        cust_id,
        quarantine_reason,
        {{ sql_literal(var("raw_path")) }} as source_file,
        {% for feature in cc_feature_names() -%}
            raw_{{ feature }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from customers_validated
    where not is_valid

)

select * from final
order by source_row_number
