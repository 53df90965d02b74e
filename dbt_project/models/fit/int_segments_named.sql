{#-
    One row per segment (stable ids, see int_segment_history): its persona,
    a readable name, its size and the persona's CRM strategy.
    A persona without a strategy leaves the CRM columns empty; the
    relationships test on persona_id then fails the build.
-#}
with

segment_personas as (

    select * from {{ ref("int_segment_personas") }}

),

crm_strategies as (

    select * from {{ ref("crm_strategies") }}

),

kmeans_fit as (

    select * from {{ ref("int_kmeans_fit") }}

),

segment_sizes as (

    select distinct
        model_id,
        segment_id,
        segment_size,
        n_rows
    from kmeans_fit

),

named as (

    select
        segment_sizes.model_id,
        segment_personas.segment_id,
        segment_personas.persona_id,
        segment_personas.status as identity_status,
        segment_personas.persona_match_distance,
        segment_sizes.segment_size as n_customers,
        crm_strategies.persona_description,
        crm_strategies.crm_objective,
        crm_strategies.crm_actions,
        crm_strategies.crm_channel,
        crm_strategies.crm_priority,
        crm_strategies.risk_note,
        {{ segment_name(
            "coalesce(crm_strategies.persona_name, segment_personas.persona_id)",
            "segment_personas.persona_occurrence",
        ) }} as segment_name,
        segment_sizes.segment_size / segment_sizes.n_rows
            as share_of_customers
    from segment_personas
    inner join segment_sizes
        on segment_personas.fit_segment_id = segment_sizes.segment_id
    left join crm_strategies
        on segment_personas.persona_id = crm_strategies.persona_id

)

select * from named
