{#-
    The latest scoring run's migrations add up to the two runs' segments in
    customer_segment_history: summed by from segment they give the from-run's
    segment sizes (customers who disappear included), summed by to segment
    the to-run's (customers who appear included); the customers who appear
    are the to-run's customers not in the from-run, and those who disappear
    the from-run's customers not in the to-run.  Returns one row per
    disagreement.  The latest run, not this invocation's, so that a later
    `dbt test` checks the published pair too.
-#}
with

scoring_runs as (

    select * from {{ ref("scoring_runs") }}

),

-- read twice (two runs): not materialized, so that each read keeps only its
-- run's row groups rather than DuckDB copying the whole history first
customer_segment_history as {{ cte_not_materialized() }} (

    select * from {{ ref("customer_segment_history") }}

),

segment_migrations as (

    select * from {{ ref("segment_migrations") }}

),

latest_run as (

    select
        run_id as to_run_id,
        previous_run_id as from_run_id
    from scoring_runs
    order by run_number desc
    limit 1

),

run_pair as (

    select * from latest_run
    where from_run_id is not null

),

pair_migrations as (

    select segment_migrations.*
    from segment_migrations
    inner join run_pair
        on segment_migrations.to_run_id = run_pair.to_run_id

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

history_counts as (

    select
        'from' as side,
        segment_id,
        segment_name,
        count(*) as customers
    from from_customers
    group by segment_id, segment_name
    union all
    select
        'to' as side,
        segment_id,
        segment_name,
        count(*) as customers
    from to_customers
    group by segment_id, segment_name
    union all
    -- appeared: in the to-run only (NULL from segment)
    select
        'from' as side,
        null as segment_id,
        null as segment_name,
        count(*) as customers
    from to_customers
    anti join from_customers
        on to_customers.cust_id = from_customers.cust_id
    having count(*) > 0
    union all
    -- disappeared: in the from-run only (NULL to segment)
    select
        'to' as side,
        null as segment_id,
        null as segment_name,
        count(*) as customers
    from from_customers
    anti join to_customers
        on from_customers.cust_id = to_customers.cust_id
    having count(*) > 0

),

migration_counts as (

    select
        'from' as side,
        from_segment_id as segment_id,
        from_segment_name as segment_name,
        sum(customers) as customers
    from pair_migrations
    group by from_segment_id, from_segment_name
    union all
    select
        'to' as side,
        to_segment_id as segment_id,
        to_segment_name as segment_name,
        sum(customers) as customers
    from pair_migrations
    group by to_segment_id, to_segment_name

),

disagreements as (

    select
        coalesce(history_counts.side, migration_counts.side) as side,
        coalesce(history_counts.segment_id, migration_counts.segment_id)
            as segment_id,
        coalesce(history_counts.segment_name, migration_counts.segment_name)
            as segment_name,
        history_counts.customers as history_customers,
        migration_counts.customers as migration_customers
    from history_counts
    full outer join migration_counts
        on
            history_counts.side = migration_counts.side
            and history_counts.segment_id
            is not distinct from migration_counts.segment_id
            and history_counts.segment_name
            is not distinct from migration_counts.segment_name
    where
        history_counts.customers is distinct from migration_counts.customers

),

wrong_pair as (

    -- rows of the latest run must pair it with its previous run
    select
        'pair' as side,
        null as segment_id,
        pair_migrations.from_run_id as segment_name,
        null as history_customers,
        count(*) as migration_customers
    from pair_migrations
    inner join run_pair
        on pair_migrations.to_run_id = run_pair.to_run_id
    where pair_migrations.from_run_id <> run_pair.from_run_id
    group by pair_migrations.from_run_id

)

select * from disagreements
union all
select * from wrong_pair
