{#-
    Deliverable file: customer_with_clusters plus the CRM strategy of each
    customer's segment.  Parquet, with a CSV copy beside it.
-#}
-- Written to its files at the end of the run, alone (on-run-end,
-- macros/exports/export_files.sql): each COPY in insertion order holds
-- about 2 GiB at 10 M customers.
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
        segment_name,
        persona_id,
        confidence,
        crm_objective,
        crm_actions,
        crm_channel,
        crm_priority,
        risk_note
    from customer_segments

)

-- customer_segments is stored in cust_id order, and DuckDB keeps it
-- (preserve_insertion_order): no second sort of every customer
select * from final
