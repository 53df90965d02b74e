{#-
    Runs are numbered 1, 2, 3 ... in the order they were recorded, each
    names the run before it as previous_run_id, and recorded_at grows with
    run_number: so "the last run" is the same run by run_number and by
    recorded_at (a clock set back would break that, and fails here).
    Returns the runs that break it.
-#}
with

scoring_runs as (

    select * from {{ ref("scoring_runs") }}

),

ordered as (

    select
        run_id,
        run_number,
        previous_run_id,
        recorded_at,
        lag(run_id) over (order by run_number) as expected_previous_run_id,
        lag(recorded_at) over (order by run_number) as previous_recorded_at,
        row_number() over (order by run_number) as expected_run_number
    from scoring_runs

)

select * from ordered
where
    run_number <> expected_run_number
    or previous_run_id is distinct from expected_previous_run_id
    or recorded_at <= previous_recorded_at
