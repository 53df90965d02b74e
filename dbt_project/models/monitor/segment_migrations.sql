{#-
    How customers moved between segments from the previous scoring run to
    this one (incremental, append: each run adds its pair's rows, the first
    run none).  Segment ids are the stable ids, so across a refit a row is
    between the same named segments.  A customer only in this run appears
    (NULL from segment); one only in the previous run disappears (NULL to
    segment), quarantined this time included.
-#}
{{ config(
    materialized="incremental",
    incremental_strategy="append",
    on_schema_change="fail",
) }}

with

scoring_runs as (

    select * from {{ ref("scoring_runs") }}

),

-- read twice (two runs): not materialized, so that each read keeps only its
-- run's row groups rather than DuckDB copying the whole history first
customer_segment_history as {{ cte_not_materialized() }} (

    select * from {{ ref("customer_segment_history") }}

),

run_pair as (

    select
        from_run.run_id as from_run_id,
        to_run.run_id as to_run_id,
        from_run.as_of as from_as_of,
        to_run.as_of as to_as_of
    from scoring_runs as to_run
    inner join scoring_runs as from_run
        on to_run.previous_run_id = from_run.run_id
    where to_run.run_id = '{{ invocation_id }}'

),

from_customers as (

    select
        customer_segment_history.cust_id,
        customer_segment_history.segment_id,
        customer_segment_history.segment_name
    from customer_segment_history
    inner join run_pair
        on customer_segment_history.run_id = run_pair.from_run_id

),

to_customers as (

    select
        customer_segment_history.cust_id,
        customer_segment_history.segment_id,
        customer_segment_history.segment_name
    from customer_segment_history
    inner join run_pair
        on customer_segment_history.run_id = run_pair.to_run_id

),

moves as (

    select
        from_customers.segment_id as from_segment_id,
        from_customers.segment_name as from_segment_name,
        to_customers.segment_id as to_segment_id,
        to_customers.segment_name as to_segment_name
    from from_customers
    full outer join to_customers
        on from_customers.cust_id = to_customers.cust_id

),

counted as (

    select
        from_segment_id,
        from_segment_name,
        to_segment_id,
        to_segment_name,
        count(*) as customers
    from moves
    group by all

),

final as (

    select
        run_pair.from_run_id,
        run_pair.to_run_id,
        run_pair.from_as_of,
        run_pair.to_as_of,
        counted.from_segment_id,
        counted.from_segment_name,
        counted.to_segment_id,
        counted.to_segment_name,
        counted.customers,
        -- appearing customers belong to no from-segment: no share
        case
            when counted.from_segment_id is not null
                then
                    counted.customers
                    / sum(counted.customers)
                        over (partition by counted.from_segment_id)
        end as share_of_from_segment
    from counted
    cross join run_pair

)

select * from final
order by from_segment_id nulls last, to_segment_id nulls last
