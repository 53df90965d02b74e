{#-
    The current fit's live segments: stable segment id, the fit's own
    cluster number, and the persona (int_segment_history).
-#}
with

segment_history as (

    select * from {{ ref("int_segment_history") }}

),

kmeans_fit as (

    select * from {{ ref("int_kmeans_fit") }}

),

current_model as (

    select distinct model_id from kmeans_fit

),

current_segments as (

    select
        segment_history.model_id,
        segment_history.status,
        segment_history.persona_id,
        segment_history.persona_occurrence,
        segment_history.persona_match_distance,
        cast(segment_history.segment_id as bigint) as segment_id,
        cast(segment_history.fit_segment_id as bigint) as fit_segment_id
    from segment_history
    inner join current_model
        on segment_history.model_id = current_model.model_id
    where segment_history.status <> 'vanished'

)

select * from current_segments
