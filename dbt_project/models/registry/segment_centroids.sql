{#-
    The fitted centroids under their lasting segment ids, standardized and
    in original units: int_segment_centroids, the fit state the assignment
    uses, under its contract.
-#}
with

segment_centroids as (
    select * from {{ ref("int_segment_centroids") }}
),

final as (
    select
        model_id,
        segment_id,
        feature_name,
        feature_position,
        centroid_z,
        centroid_value
    from segment_centroids
)

select * from final
order by segment_id, feature_position
