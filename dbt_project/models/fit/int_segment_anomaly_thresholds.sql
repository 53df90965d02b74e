{#-
    Fit state for the distance-based anomaly flag: per segment, the
    var('anomaly_quantile') quantile of its members' distance to the
    centroid (like BigQuery ML's DETECT_ANOMALIES contamination: with 0.99,
    about 1 % of each segment is flagged).  Scoring compares a customer's
    distance with its segment's threshold.  A refit: false build takes the
    published model's thresholds from fitted_segments (macros/registry/frozen_model.sql).
-#}
-- {{ reads_published_model() }}
with

customers_assigned as (

    select * from {{ ref("int_customers_assigned") }}

),

thresholds as (

    {% if refit() %}
        select
            segment_id,
            {{ var("anomaly_quantile") | float }} as anomaly_quantile,
            percentile_cont(
                {{ var("anomaly_quantile") | float }}
            ) within group (order by distance_to_centroid) as distance_threshold
        from customers_assigned
        group by segment_id
    {% else %}
        select
            segment_id,
            anomaly_quantile,
            distance_threshold
        from {{ published_state("fitted_segments") }}
        where model_id = '{{ frozen_model_id() }}'
    {% endif %}

)

select * from thresholds
