{#-
    Deliverable file: customer_with_clusters plus the CRM strategy of each
    customer's segment.  Parquet, with a CSV copy beside it.
-#}
-- After segment_profiles, whose medians hold every customer's measures,
-- and after the other export: each COPY in insertion order holds about
-- 2 GiB at 10 M customers, and two at once ran out of DuckDB's memory.
-- depends_on: {{ ref("segment_profiles") }}
-- depends_on: {{ ref("customer_with_clusters") }}
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
