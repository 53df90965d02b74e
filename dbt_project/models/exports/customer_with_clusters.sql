{#-
    Deliverable file: every valid customer's measures with its segment.
    A view, written to Parquet and CSV at the end of the run, alone
    (on-run-end, macros/exports/export_files.sql), under the profile's
    external_root, warehouse/exports by default.
-#}
with

customer_segments as (

    select * from {{ ref("customer_segments") }}

),

final as (

    select
        cust_id,
        {% for feature in cc_feature_names() %}
            {{ feature }},
        {% endfor %}
        segment_id,
        segment_name
    from customer_segments

)

-- customer_segments is stored in cust_id order, and DuckDB keeps it
-- (preserve_insertion_order): no second sort of every customer
select * from final
