{#-
    Each model's segment baseline (per anomaly_quantile) covers its fit
    customers: the segments' customers add up to the model's, their shares
    to 1 and their anomalies to the model's anomaly share.  Returns a row
    per baseline that does not.
-#}
with

segment_drift_baselines as (

    select * from {{ ref("segment_drift_baselines") }}

),

models as (

    select
        model_id,
        anomaly_quantile,
        sum(fit_customers) as fit_customers,
        max(n_fit_customers) as n_fit_customers,
        sum(fit_share) as total_share,
        sum(fit_anomaly_share * fit_customers) as anomalies,
        max(model_anomaly_share * n_fit_customers) as model_anomalies
    from segment_drift_baselines
    group by model_id, anomaly_quantile

)

select * from models
where
    fit_customers <> n_fit_customers
    or abs(total_share - 1) > 1e-9
    or abs(anomalies - model_anomalies) > 1e-6
