{#-
    The latest run in segment_drift has every check: one feature_psi row
    per model feature, one segment_mix_psi row, a confidence_drop and an
    anomaly_ratio row for 'all' and for each segment of its model's
    baseline (at this build's anomaly_quantile); or, when no baseline is
    stored for them, the one baseline row.  Without it the alarm tests could pass on a run whose
    checks were never made.  Returns a row per missing or extra check.
-#}
{% set features = model_feature_names() %}

with

segment_drift as (

    select * from {{ ref("segment_drift") }}

),

segment_drift_baselines as (

    select * from {{ ref("segment_drift_baselines") }}

),

segment_anomaly_thresholds as (

    select * from {{ ref("int_segment_anomaly_thresholds") }}

),

latest_run as (

    select *
    from segment_drift
    where recorded_at = (select max(recorded_at) from segment_drift)

),

run_model as (

    select distinct model_id from latest_run

),

baseline_segments as (

    select segment_drift_baselines.segment_name
    from segment_drift_baselines
    inner join run_model
        on segment_drift_baselines.model_id = run_model.model_id
    where segment_drift_baselines.anomaly_quantile = (
        select cast(max(anomaly_quantile) as double)
        from segment_anomaly_thresholds
    )

),

expected as (

    {% for feature in features %}
        select
            'feature_psi' as check_name,
            '{{ feature }}' as subject
        union all
    {% endfor %}
    select
        'segment_mix_psi' as check_name,
        'all' as subject
    union all
    select
        checks.check_name,
        subjects.subject
    from (
        values ('confidence_drop'), ('anomaly_ratio')
    ) as checks (check_name)
    cross join (
        select 'all' as subject
        union all
        select segment_name as subject from baseline_segments
    ) as subjects

),

expected_or_baseline as (

    -- no baseline for the model: the run has only the baseline row
    select * from expected
    where exists (select 1 from baseline_segments)
    union all
    select
        'baseline' as check_name,
        'all' as subject
    where not exists (select 1 from baseline_segments)

),

compared as (

    select
        expected_or_baseline.check_name as expected_check,
        expected_or_baseline.subject as expected_subject,
        latest_run.check_name as found_check,
        latest_run.subject as found_subject
    from expected_or_baseline
    full outer join latest_run
        on
            expected_or_baseline.check_name = latest_run.check_name
            and expected_or_baseline.subject = latest_run.subject

)

select * from compared
where expected_check is null or found_check is null
