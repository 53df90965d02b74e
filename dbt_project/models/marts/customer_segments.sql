{#-
    One row per valid customer: its segment, how sure the assignment is, the
    runner-up, and the CRM action ("customer with clusters and CRM").
-#}
with

customers_assigned as (

    select * from {{ ref("int_customers_assigned") }}

),

customers_validated as (

    select * from {{ ref("int_customers_validated") }}

),

segments_named as (

    select * from {{ ref("int_segments_named") }}

),

final as (

    select
        customers_assigned.cust_id,
        segments_named.model_id,
        customers_assigned.segment_id,
        segments_named.segment_name,
        segments_named.persona_id,
        customers_assigned.distance_to_centroid,
        customers_assigned.second_segment_id,
        runner_up.segment_name as second_segment_name,
        customers_assigned.second_distance,
        customers_assigned.confidence,
        segments_named.crm_objective,
        segments_named.crm_actions,
        segments_named.crm_channel,
        segments_named.crm_priority,
        segments_named.risk_note,
        -- valid rows' missing measures are exactly the imputed ones
        customers_validated.n_missing_measures as n_imputed_measures,
        customers_validated.is_frequency_capped,
        customers_validated.has_purchase_split_mismatch,
        customers_validated.source_row_number,
        {% for feature in cc_feature_names() -%}
            customers_validated.{{ feature }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from customers_assigned
    inner join segments_named
        on customers_assigned.segment_id = segments_named.segment_id
    left join segments_named as runner_up
        on customers_assigned.second_segment_id = runner_up.segment_id
    inner join customers_validated
        on
            customers_assigned.cust_id = customers_validated.cust_id
            and customers_validated.is_valid

)

select * from final
order by cust_id
