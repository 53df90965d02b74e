{#-
    The fitted centroids, long form, under their stable segment ids:
    standardized (what assignment uses) and back in original units (what
    people read): undo the z-score with the stored mean and stddev, then the
    log1p transform.
-#}
with

kmeans_fit as (

    select * from {{ ref("int_kmeans_fit") }}

),

segment_personas as (

    select * from {{ ref("int_segment_personas") }}

),

feature_scaling as (

    select * from {{ ref("int_feature_scaling") }}

),

centroids as (

    select
        kmeans_fit.model_id,
        segment_personas.segment_id,
        kmeans_fit.feature_name,
        kmeans_fit.feature_position,
        kmeans_fit.centroid_z,
        feature_scaling.transform,
        kmeans_fit.centroid_z * feature_scaling.stddev
        + feature_scaling.mean as centroid_transformed
    from kmeans_fit
    inner join segment_personas
        on kmeans_fit.segment_id = segment_personas.fit_segment_id
    inner join feature_scaling
        on kmeans_fit.feature_name = feature_scaling.feature_name

),

final as (

    select
        model_id,
        segment_id,
        feature_name,
        feature_position,
        centroid_z,
        case transform
            when 'log1p' then exp(centroid_transformed) - 1
            else centroid_transformed
        end as centroid_value
    from centroids

)

select * from final
order by segment_id, feature_position
