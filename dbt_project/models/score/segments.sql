{#-
    One row per segment of the model in use: its name and persona, its size
    and share of this run's valid customers (a refit: false build scores a
    new file with the published model, so they are counted here, not taken
    from the fit), and the CRM strategy to apply.  The public face of
    int_segments_named, for the dashboard, the reports and CRM tools.
-#}
with

segments_named as (

    select * from {{ ref("int_segments_named") }}

),

customers_assigned as (

    select * from {{ ref("int_customers_assigned") }}

),

segment_counts as (

    select
        segment_id,
        count(*) as n_customers,
        count(*) / sum(count(*)) over () as share_of_customers
    from customers_assigned
    group by segment_id

),

counted as (

    select
        segments_named.*,
        coalesce(segment_counts.n_customers, 0) as run_customers,
        coalesce(segment_counts.share_of_customers, 0) as run_share
    from segments_named
    left join segment_counts
        on segments_named.segment_id = segment_counts.segment_id

),

final as (

    select
        counted.segment_id,
        counted.segment_name,
        counted.persona_id,
        counted.persona_description,
        counted.identity_status,
        counted.run_customers as n_customers,
        counted.run_share as share_of_customers,
        counted.crm_objective,
        counted.crm_actions,
        counted.crm_channel,
        counted.crm_priority,
        counted.risk_note,
        counted.model_id
    from counted

)

select * from final
order by segment_id
