{#-
    Deliverable file: every valid customer's measures with its segment.
    Written as Parquet by the external materialization (under the profile's
    external_root, warehouse/exports by default) and copied to CSV beside it.
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
-- (preserve_insertion_order): sorting 10 M wide rows again ran out of memory
select * from final
