{#-
    The latest scoring run's rows in customer_segment_history are its
    segmented customers: as many as scoring_runs.n_segmented, all scored by
    the run's model_id and as of the run's as_of.  Returns the run when
    they disagree.
-#}
with

scoring_runs as (

    select * from {{ ref("scoring_runs") }}

),

customer_segment_history as (

    select * from {{ ref("customer_segment_history") }}

),

latest_run as (

    select *
    from scoring_runs
    order by run_number desc
    limit 1

),

run_history as (

    select
        count(*) as n_rows,
        count(distinct customer_segment_history.model_id) as n_models,
        min(customer_segment_history.model_id) as model_id,
        count(distinct customer_segment_history.as_of) as n_as_of,
        min(customer_segment_history.as_of) as as_of
    from customer_segment_history
    inner join latest_run
        on customer_segment_history.run_id = latest_run.run_id

)

select
    latest_run.run_id,
    latest_run.n_segmented,
    run_history.n_rows as history_rows,
    latest_run.model_id,
    run_history.model_id as history_model_id,
    latest_run.as_of,
    run_history.as_of as history_as_of
from latest_run
cross join run_history
where
    run_history.n_rows <> latest_run.n_segmented
    or run_history.n_models <> 1
    or run_history.model_id <> latest_run.model_id
    or run_history.n_as_of <> 1
    or run_history.as_of <> latest_run.as_of
