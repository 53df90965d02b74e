{#-
    Warns when the latest run is as of an earlier date than the run before
    it (a month built again after a later one, or a wrong as_of).  Runs are
    paired in the order they were recorded, not by as_of, so its migrations
    would then compare a later month with an earlier one.
-#}
{{ config(severity="warn") }}

with

scoring_runs as (

    select * from {{ ref("scoring_runs") }}

),

latest_run as (

    select *
    from scoring_runs
    order by run_number desc
    limit 1

)

select
    latest_run.run_id,
    latest_run.as_of,
    previous_run.run_id as previous_run_id,
    previous_run.as_of as previous_as_of
from latest_run
inner join scoring_runs as previous_run
    on latest_run.previous_run_id = previous_run.run_id
where latest_run.as_of < previous_run.as_of
