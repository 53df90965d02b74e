{#-
    Drift alarms: every build is a scoring run, and this model adds one row
    per check of the run, comparing the run's customers with the fit-time
    baseline stored for the model the run scores with (feature_drift_bins,
    segment_drift_baselines).  Incremental, append only: earlier runs' rows
    are never rewritten.

    Checks (check_value, and the vars of its warn and error thresholds):
    - feature_psi, per model feature: PSI of the customers' (imputed)
      values over the fit's decile bins (drift_psi_warn / _error);
    - segment_mix_psi, 'all': PSI over the segments' shares
      (drift_mix_psi_warn / _error);
    - confidence_drop, 'all' and per segment: the fit's median confidence
      minus this run's (drift_confidence_drop_warn / _error);
    - anomaly_ratio, 'all' and per segment: this run's share of customers
      beyond their segment's anomaly threshold divided by the fit's
      (drift_anomaly_ratio_warn / _error);
    - baseline, 'all', only when no baseline is stored for the model (a
      model fitted before the drift alarms existed) and the run's
      anomaly_quantile: status warn.

    A check is 'error' at or above its error threshold, 'warn' at or above
    its warn threshold, else 'ok' (also when there is nothing to compare,
    e.g. a segment no customer is in this run: the mix PSI reports that).
    refit_recommended is true on every row of a run in which any check is
    not 'ok'.  The dbt tests on this model warn or fail the build on the
    current run's rows only.

    PSI = sum over bins of (current - fit) * ln(current / fit), each share
    floored at 0.0001 (macro psi_term).
-#}
{{ config(
    materialized="incremental",
    incremental_strategy="append",
    on_schema_change="fail",
) }}
{% set features = model_feature_names() %}

with

customers_imputed as (

    select * from {{ ref("int_customers_imputed") }}

),

customer_segments as (

    select * from {{ ref("customer_segments") }}

),

feature_drift_bins as (

    select * from {{ ref("feature_drift_bins") }}

),

segment_drift_baselines as (

    select * from {{ ref("segment_drift_baselines") }}

),

segment_anomaly_thresholds as (

    select * from {{ ref("int_segment_anomaly_thresholds") }}

),

anomaly_setting as (

    -- the quantile this run flags anomalies at picks the baseline
    select cast(max(anomaly_quantile) as double) as anomaly_quantile
    from segment_anomaly_thresholds

),

run_model as (

    -- every customer carries the model that segmented it
    select max(model_id) as model_id from customer_segments

),

model_bins as (

    select feature_drift_bins.*
    from feature_drift_bins
    inner join run_model
        on feature_drift_bins.model_id = run_model.model_id

),

baselines as (

    select segment_drift_baselines.*
    from segment_drift_baselines
    inner join run_model
        on segment_drift_baselines.model_id = run_model.model_id
    inner join anomaly_setting
        on
            segment_drift_baselines.anomaly_quantile
            = anomaly_setting.anomaly_quantile

),

baseline_state as (

    select
        (select count(*) from model_bins) > 0
        and (select count(*) from baselines) > 0 as is_stored

),

bin_counts as (

    {{ drift_bin_counts("customers_imputed", "model_bins", features) }}

),

current_segments as (

    select
        segment_id,
        count(*) as n_customers,
        median(confidence) as median_confidence,
        avg(cast(is_distance_anomaly as double)) as anomaly_share
    from customer_segments
    group by segment_id

),

current_model as (

    select
        count(*) as n_customers,
        median(confidence) as median_confidence,
        avg(cast(is_distance_anomaly as double)) as anomaly_share
    from customer_segments

),

baseline_model as (

    -- the model-level figures repeat on every segment's row
    select
        max(n_fit_customers) as n_fit_customers,
        max(model_median_confidence) as median_confidence,
        max(model_anomaly_share) as anomaly_share
    from baselines

),

feature_psi as (

    select
        'feature_psi' as check_name,
        1 as check_order,
        model_bins.feature_name as subject,
        min(model_bins.feature_position) as subject_order,
        cast(null as bigint) as segment_id,
        max(bin_counts.n_customers) as n_customers,
        cast(null as double) as fit_value,
        cast(null as double) as current_value,
        sum(
            {{ psi_term(
                "bin_counts.n_in_bin / bin_counts.n_customers",
                "model_bins.fit_share",
            ) }}
        ) as check_value,
        {{ drift_threshold("psi", "warn") }} as warn_threshold,
        {{ drift_threshold("psi", "error") }} as error_threshold
    from model_bins
    inner join bin_counts
        on
            model_bins.feature_name = bin_counts.feature_name
            and model_bins.bin_number = bin_counts.bin_number
    group by model_bins.feature_name

),

segment_shares as (

    -- a segment with no customers in the run (or none at fit) counts with
    -- the floor share in psi_term
    select
        coalesce(baselines.fit_share, 0) as fit_share,
        coalesce(current_segments.n_customers, 0)
        / current_model.n_customers as current_share
    from baselines
    full outer join current_segments
        on baselines.segment_id = current_segments.segment_id
    cross join current_model

),

segment_mix_psi as (

    select
        'segment_mix_psi' as check_name,
        2 as check_order,
        'all' as subject,
        0 as subject_order,
        cast(null as bigint) as segment_id,
        current_model.n_customers,
        cast(null as double) as fit_value,
        cast(null as double) as current_value,
        (
            select sum({{ psi_term("current_share", "fit_share") }})
            from segment_shares
        ) as check_value,
        {{ drift_threshold("mix_psi", "warn") }} as warn_threshold,
        {{ drift_threshold("mix_psi", "error") }} as error_threshold
    from current_model

),

segment_figures as (

    -- the whole model ('all') and each of its segments, fit and now
    select
        'all' as subject,
        0 as subject_order,
        cast(null as bigint) as segment_id,
        current_model.n_customers,
        baseline_model.median_confidence as fit_median_confidence,
        current_model.median_confidence,
        baseline_model.anomaly_share as fit_anomaly_share,
        current_model.anomaly_share
    from current_model
    cross join baseline_model

    union all

    select
        baselines.segment_name as subject,
        baselines.segment_id as subject_order,
        baselines.segment_id,
        coalesce(current_segments.n_customers, 0) as n_customers,
        baselines.fit_median_confidence,
        current_segments.median_confidence,
        baselines.fit_anomaly_share,
        current_segments.anomaly_share
    from baselines
    left join current_segments
        on baselines.segment_id = current_segments.segment_id

),

confidence_drop as (

    select
        'confidence_drop' as check_name,
        3 as check_order,
        subject,
        subject_order,
        segment_id,
        n_customers,
        fit_median_confidence as fit_value,
        median_confidence as current_value,
        fit_median_confidence - median_confidence as check_value,
        {{ drift_threshold("confidence_drop", "warn") }} as warn_threshold,
        {{ drift_threshold("confidence_drop", "error") }} as error_threshold
    from segment_figures

),

anomaly_ratio as (

    select
        'anomaly_ratio' as check_name,
        4 as check_order,
        subject,
        subject_order,
        segment_id,
        n_customers,
        fit_anomaly_share as fit_value,
        anomaly_share as current_value,
        -- the fit's share floored as in PSI: a segment with no anomaly at
        -- fit (a tiny one) does not divide by zero
        anomaly_share / greatest(
            fit_anomaly_share, {{ drift_share_floor() }}
        ) as check_value,
        {{ drift_threshold("anomaly_ratio", "warn") }} as warn_threshold,
        {{ drift_threshold("anomaly_ratio", "error") }} as error_threshold
    from segment_figures

),

checks as (

    select * from feature_psi
    union all
    select * from segment_mix_psi
    union all
    select * from confidence_drop
    union all
    select * from anomaly_ratio

),

judged as (

    select
        checks.*,
        case
            when checks.check_value >= checks.error_threshold then 'error'
            when checks.check_value >= checks.warn_threshold then 'warn'
            else 'ok'
        end as status
    from checks
    cross join baseline_state
    where baseline_state.is_stored

    union all

    -- nothing to compare with: say so rather than report no drift
    select
        'baseline' as check_name,
        0 as check_order,
        'all' as subject,
        0 as subject_order,
        cast(null as bigint) as segment_id,
        current_model.n_customers,
        cast(null as double) as fit_value,
        cast(null as double) as current_value,
        cast(null as double) as check_value,
        cast(null as double) as warn_threshold,
        cast(null as double) as error_threshold,
        'warn' as status
    from current_model
    cross join baseline_state
    where not baseline_state.is_stored

),

final as (

    select
        '{{ invocation_id }}' as run_id,
        {{ as_of_timestamp() }} as as_of,
        {{ drift_recorded_at() }} as recorded_at,
        run_model.model_id,
        judged.check_name,
        judged.subject,
        judged.segment_id,
        judged.n_customers,
        judged.fit_value,
        judged.current_value,
        judged.check_value,
        judged.warn_threshold,
        judged.error_threshold,
        judged.status,
        bool_or(judged.status <> 'ok') over () as refit_recommended,
        judged.check_order,
        judged.subject_order
    from judged
    cross join run_model

)

select
    run_id,
    as_of,
    recorded_at,
    model_id,
    check_name,
    subject,
    segment_id,
    n_customers,
    fit_value,
    current_value,
    check_value,
    warn_threshold,
    error_threshold,
    status,
    refit_recommended
from final
order by check_order, subject_order, subject
