{#-
    The fit state of every model, per segment, kept for as long as the
    warehouse (incremental): the distance beyond which a customer of the
    segment is flagged an anomaly (the var('anomaly_quantile') quantile of
    its members' distances at fit).  Written once, by the build that fits
    the model; a refit: false build and scoring_query flag anomalies with it.
-#}
{{ config(
    materialized="incremental",
    incremental_strategy="append",
    on_schema_change="fail",
) }}

with

segment_anomaly_thresholds as (

    select * from {{ ref("int_segment_anomaly_thresholds") }}

),

kmeans_fit_settings as (

    select * from {{ ref("int_kmeans_fit_settings") }}

),

final as (

    select
        kmeans_fit_settings.model_id,
        segment_anomaly_thresholds.segment_id,
        cast(segment_anomaly_thresholds.anomaly_quantile as double)
            as anomaly_quantile,
        segment_anomaly_thresholds.distance_threshold
    from segment_anomaly_thresholds
    cross join kmeans_fit_settings

)

select * from final
{% if is_incremental() %}
    -- a model's fit state is written once, by the build that fits it
    where model_id not in (select kept.model_id from {{ this }} as kept)
{% endif %}
order by model_id, segment_id
