{#-
    Fit-time baseline of the segment checks (segment_drift): per model and
    stable segment, the share of the fit's customers in the segment, the
    share of its customers beyond its anomaly threshold, and its median
    confidence; and, on every row, the same figures for the whole model.

    Incremental and written once per model and anomaly_quantile, like
    feature_drift_bins: only a refit build whose model_id (with the var
    anomaly_quantile it flags anomalies at) is not stored yet adds rows, so
    a scoring run never overwrites the fit's figures with those of the
    customers it scores.  The quantile is part of the key because it is
    not part of model_id: a rebuild of the same fit with another
    anomaly_quantile flags another share of customers (0.95: 5 %), and
    compared with the 1 % of the first baseline that would be an anomaly
    ratio of 5.  Every segment of the model has a row, even one that no
    customer is nearest to (its shares are then 0).
-#}
{{ config(
    materialized="incremental",
    incremental_strategy="append",
    on_schema_change="fail",
) }}

with

customer_segments as (

    select * from {{ ref("customer_segments") }}

),

segments as (

    select * from {{ ref("segments") }}

),

segment_anomaly_thresholds as (

    select * from {{ ref("int_segment_anomaly_thresholds") }}

),

scoring_model as (

    select * from {{ ref("int_scoring_model") }}

),

anomaly_setting as (

    select cast(max(anomaly_quantile) as double) as anomaly_quantile
    from segment_anomaly_thresholds

),

stored_baselines as (

    {% if is_incremental() %}
        select
            kept.model_id,
            kept.anomaly_quantile
        from {{ this }} as kept
    {% else %}
        select
            model_id,
            cast(null as double) as anomaly_quantile
        from scoring_model
        where false
    {% endif %}

),

new_model as (

    -- a scoring run's customers (refit: false) are not the fit's
    select
        scoring_model.model_id,
        anomaly_setting.anomaly_quantile
    from scoring_model
    cross join anomaly_setting
    where
        scoring_model.is_fitted_on_this_file
        and not exists (
            select 1 from stored_baselines
            where
                stored_baselines.model_id = scoring_model.model_id
                and stored_baselines.anomaly_quantile
                = anomaly_setting.anomaly_quantile
        )

),

fit_customers as (

    -- empty unless this build fitted a model without a baseline
    select
        customer_segments.segment_id,
        customer_segments.confidence,
        customer_segments.is_distance_anomaly
    from customer_segments
    cross join new_model

),

segment_figures as (

    select
        segment_id,
        count(*) as fit_customers,
        median(confidence) as fit_median_confidence,
        avg(cast(is_distance_anomaly as double)) as fit_anomaly_share
    from fit_customers
    group by segment_id

),

model_figures as (

    select
        count(*) as n_fit_customers,
        median(confidence) as model_median_confidence,
        avg(cast(is_distance_anomaly as double)) as model_anomaly_share
    from fit_customers

),

final as (

    select
        new_model.model_id,
        segments.segment_id,
        segments.segment_name,
        coalesce(segment_figures.fit_customers, 0) as fit_customers,
        coalesce(segment_figures.fit_customers, 0)
        / model_figures.n_fit_customers as fit_share,
        coalesce(segment_figures.fit_anomaly_share, 0) as fit_anomaly_share,
        segment_figures.fit_median_confidence,
        model_figures.n_fit_customers,
        model_figures.model_anomaly_share,
        model_figures.model_median_confidence,
        new_model.anomaly_quantile,
        '{{ invocation_id }}' as fit_run_id,
        {{ as_of_timestamp() }} as fit_as_of
    from segments
    inner join new_model
        on segments.model_id = new_model.model_id
    left join segment_figures
        on segments.segment_id = segment_figures.segment_id
    cross join model_figures

)

select * from final
order by model_id, anomaly_quantile, segment_id
