{#-
    Deliverable file: every valid customer's measures with its segment.
    A view, written to Parquet and CSV by its post-hooks (macro export_file)
    under the profile's external_root, warehouse/exports by default.
-#}
-- Written to its files at the end of the run, alone (on-run-end,
-- macros/exports/export_files.sql).
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
