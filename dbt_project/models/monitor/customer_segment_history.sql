{#-
    One row per segmented customer per scoring run (incremental, append
    only: a run adds its rows, earlier runs' rows are never rewritten).
    The run is this build's row of scoring_runs, so every run here is a
    recorded run (a build that did not record one adds nothing).
    Quarantined customers have no segment and are not here: scoring_runs
    counts them, and segment_migrations has them disappear.
-#}
{{ config(
    materialized="incremental",
    incremental_strategy="append",
    on_schema_change="fail",
) }}

with

scoring_runs as (

    select * from {{ ref("scoring_runs") }}

),

customer_segments as (

    select * from {{ ref("customer_segments") }}

),

this_run as (

    select
        run_id,
        as_of
    from scoring_runs
    where run_id = '{{ invocation_id }}'

),

final as (

    select
        this_run.run_id,
        this_run.as_of,
        customer_segments.model_id,
        customer_segments.cust_id,
        customer_segments.segment_id,
        customer_segments.segment_name,
        customer_segments.distance_to_centroid,
        customer_segments.confidence
    from customer_segments
    cross join this_run

)

select * from final
order by cust_id
