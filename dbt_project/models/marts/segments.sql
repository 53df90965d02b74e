{#-
    One row per segment of the current fit: its name and persona, its size
    and share of the valid customers, and the CRM strategy to apply.  The
    public face of int_segments_named, for the dashboard, the reports and
    CRM tools.
-#}
with

segments_named as (

    select * from {{ ref("int_segments_named") }}

),

final as (

    select
        segment_id,
        segment_name,
        persona_id,
        persona_description,
        identity_status,
        n_customers,
        share_of_customers,
        crm_objective,
        crm_actions,
        crm_channel,
        crm_priority,
        risk_note,
        model_id
    from segments_named

)

select * from final
order by segment_id
