{#-
    How segments carry over from fit to fit: for every fit, each segment's
    stable id, its status ('first fit', 'kept', 'returned' for a segment
    absent from the previous fit that comes back with its old id, 'new', or
    'vanished' for a segment of the previous fit with no match), the
    previous fit it was matched to and how far its centroid moved.
-#}
with

segment_history as (

    select * from {{ ref("int_segment_history") }}

),

crm_strategies as (

    select * from {{ ref("crm_strategies") }}

),

final as (

    select
        segment_history.model_id,
        -- the contract's type, whichever timestamp the fit's engine wrote
        cast(segment_history.fitted_at as timestamp) as fitted_at,
        segment_history.status,
        segment_history.previous_model_id,
        segment_history.match_distance,
        segment_history.persona_id,
        cast(segment_history.segment_id as bigint) as segment_id,
        cast(segment_history.fit_segment_id as bigint) as fit_segment_id,
        {{ segment_name(
            "coalesce(crm_strategies.persona_name, segment_history.persona_id)",
            "segment_history.persona_occurrence",
        ) }} as segment_name
    from segment_history
    left join crm_strategies
        on segment_history.persona_id = crm_strategies.persona_id

)

select * from final
order by fitted_at, model_id, segment_id
