{#-
    One row per scoring run, every run kept (incremental, append): a
    published build is a scoring run, whether it refitted the model or
    scored the file with the published one.  run_number orders the runs as
    they were recorded; previous_run_id names the run before this one, the
    pair segment_migrations compares.  The published model is the model_id
    of the run with the highest run_number.
-#}
-- After the drift bins, for memory at 10 M customers (see feature_drift_bins).
-- depends_on: {{ ref("feature_drift_bins") }}
{{ config(
    materialized="incremental",
    incremental_strategy="append",
    on_schema_change="fail",
) }}

with

customer_segments as (

    select * from {{ ref("customer_segments") }}

),

quarantined_customers as (

    select * from {{ ref("quarantined_customers") }}

),

customers_validated as (

    select * from {{ ref("int_customers_validated") }}

),

fit_input_fingerprint as (

    select * from {{ ref("int_fit_input_fingerprint") }}

),

scoring_model as (

    select * from {{ ref("int_scoring_model") }}

),

segmented as (

    -- every customer of a run carries the model that scored it
    select
        min(model_id) as model_id,
        count(*) as n_segmented
    from customer_segments

),

quarantined as (

    select count(*) as n_quarantined from quarantined_customers

),

rows_read as (

    -- one row per raw row, valid or not
    select count(*) as n_rows_read from customers_validated

),

previous_run as (

    {% if is_incremental() %}
        select
            max_by(run_id, run_number) as run_id,
            max(run_number) as run_number
        from {{ this }}
    {% else %}
        select
            cast(null as string) as run_id,
            cast(null as integer) as run_number
    {% endif %}

),

this_run as (

    select
        '{{ invocation_id }}' as run_id,
        coalesce(run_number, 0) + 1 as run_number,
        run_id as previous_run_id
    from previous_run

),

final as (

    select
        this_run.run_id,
        this_run.run_number,
        this_run.previous_run_id,
        {{ as_of_timestamp() }} as as_of,
        cast(
            '{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}'
            as timestamp
        ) as recorded_at,
        segmented.model_id,
        scoring_model.is_fitted_on_this_file as is_refit,
        {{ sql_literal(var("raw_path")) }} as raw_path,
        fit_input_fingerprint.input_fingerprint,
        rows_read.n_rows_read,
        segmented.n_segmented,
        quarantined.n_quarantined
    from this_run
    cross join segmented
    cross join quarantined
    cross join rows_read
    cross join fit_input_fingerprint
    cross join scoring_model

)

select * from final
