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

feature_columns as (

    -- one row, every statistic of every measure: the measures are
    -- aggregated as columns, never unpivoted into a row per value; the
    -- quantiles are one call for the four: one sort per measure, not four
    select
        {% for feature in cc_feature_names() -%}
            {{ sql_struct({
                "feature_name": "'" ~ feature ~ "'",
                "n_rows": "count(*)",
                "n_reported": "count(" ~ feature ~ ")",
                "share_zero": "count_if(" ~ feature ~ " = 0) / nullif(count("
                    ~ feature ~ "), 0)",
                "mean": "avg(" ~ feature ~ ")",
                "stddev": "stddev_samp(" ~ feature ~ ")",
                "min": "min(" ~ feature ~ ")",
                "quantiles": quantiles_cont(feature, [0.25, 0.5, 0.75, 0.99]),
                "max": "max(" ~ feature ~ ")",
                "skewness": sample_skewness(feature),
            }) }} as {{ feature }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from valid_customers

),

feature_rows as (

    select {{ unnest_list(sql_list(cc_feature_names())) }} as feature
    from feature_columns

),

feature_stats as (

    -- one read of feature_rows: Spark inlines a CTE read twice, and a
    -- second read here made it aggregate every measure twice (5 times
    -- slower)
    select
        feature.feature_name,
        feature.n_rows,
        feature.n_reported,
        feature.share_zero,
        feature.mean,
        feature.stddev,
        feature.min,
        {{ list_element("feature.quantiles", 1) }} as p25,
        {{ list_element("feature.quantiles", 2) }} as median,
        {{ list_element("feature.quantiles", 3) }} as p75,
        {{ list_element("feature.quantiles", 4) }} as p99,
        feature.max,
        feature.skewness,
        feature.n_rows - feature.n_reported as n_missing,
        (feature.n_rows - feature.n_reported) / feature.n_rows
            as share_missing
    from feature_rows

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
        feature_stats.p25,
        feature_stats.median,
        feature_stats.p75,
        feature_stats.p99,
        feature_stats.max,
        feature_stats.skewness
    from feature_stats
    inner join feature_catalogue
        on feature_stats.feature_name = feature_catalogue.feature_name

)

select * from final
order by feature_position
