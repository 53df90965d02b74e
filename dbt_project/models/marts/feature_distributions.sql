{#-
    How each raw measure is distributed among the valid customers, one row
    per measure in file order.  Values are as reported: a missing value is
    counted, not imputed, and frequencies are already capped at 1 by
    int_customers_validated.  stddev is the sample one (n - 1); quantiles
    interpolate linearly (numpy's default); skewness is DuckDB's, the adjusted
    Fisher-Pearson G1 that pandas .skew() also gives.
-#}
with

feature_catalogue as (

    select * from {{ ref("int_feature_catalogue") }}

),

customers_validated as (

    select * from {{ ref("int_customers_validated") }}

),

valid_customers as (

    select * from customers_validated
    where is_valid

),

measure_values as (

    -- include nulls: a missing value stays a row, so that it is counted; the
    -- aggregates below skip it
    select *
    from (
        select {{ cc_feature_names() | join(", ") }}
        from valid_customers
    ) as measures
    unpivot include nulls (
        reported_value for feature_name in (
            {{ cc_feature_names() | join(", ") }}
        )
    )

),

feature_stats as (

    select
        feature_name,
        count(*) as n_rows,
        count(reported_value) as n_reported,
        count(*) - count(reported_value) as n_missing,
        (count(*) - count(reported_value)) / count(*) as share_missing,
        count_if(reported_value = 0) / nullif(count(reported_value), 0)
            as share_zero,
        avg(reported_value) as mean,
        stddev_samp(reported_value) as stddev,
        min(reported_value) as min,
        -- one call for the four: one sort per measure, not four
        quantile_cont(reported_value, [0.25, 0.5, 0.75, 0.99]) as quantiles,
        max(reported_value) as max,
        skewness(reported_value) as skewness
    from measure_values
    group by feature_name

),

feature_quantiles as (

    select
        feature_name,
        quantiles[1] as p25,
        quantiles[2] as median,
        quantiles[3] as p75,
        quantiles[4] as p99
    from feature_stats

),

final as (

    select
        feature_stats.feature_name,
        feature_catalogue.feature_position,
        feature_stats.n_rows,
        feature_stats.n_reported,
        feature_stats.n_missing,
        feature_stats.share_missing,
        feature_stats.share_zero,
        feature_stats.mean,
        feature_stats.stddev,
        feature_stats.min,
        feature_quantiles.p25,
        feature_quantiles.median,
        feature_quantiles.p75,
        feature_quantiles.p99,
        feature_stats.max,
        feature_stats.skewness
    from feature_stats
    inner join feature_quantiles
        on feature_stats.feature_name = feature_quantiles.feature_name
    inner join feature_catalogue
        on feature_stats.feature_name = feature_catalogue.feature_name

)

select * from final
order by feature_position
