{#-
    What each segment looks like, one row per (segment, measure): size,
    mean and median of every measure in original units (as reported: missing
    values are left out, not imputed), the same for the whole portfolio, and
    the centroid's z-score for the model's features.
-#}
with

feature_catalogue as (

    select * from {{ ref("int_feature_catalogue") }}

),

-- read twice below: materialized, this CTE would hold every customer's
-- row in memory (4.8 instead of 3.5 GiB at 10 M customers)
customer_segments as {{ cte_not_materialized() }} (

    select * from {{ ref("customer_segments") }}

),

segments_named as (

    select * from {{ ref("int_segments_named") }}

),

segment_centroids as (

    select * from {{ ref("segment_centroids") }}

),

segment_columns as (

    -- per segment, every measure's mean and median as columns: the
    -- measures are never unpivoted into a row per customer and measure
    select
        segment_id,
        {% for feature in cc_feature_names() -%}
            {{ sql_struct({
                "feature_name": "'" ~ feature ~ "'",
                "mean_value": "avg(" ~ feature ~ ")",
                "median_value": "median(" ~ feature ~ ")",
            }) }} as {{ feature }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from customer_segments
    group by segment_id

),

portfolio_columns as (

    select
        {% for feature in cc_feature_names() -%}
            {{ sql_struct({
                "feature_name": "'" ~ feature ~ "'",
                "portfolio_mean": "avg(" ~ feature ~ ")",
                "portfolio_median": "median(" ~ feature ~ ")",
            }) }} as {{ feature }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from customer_segments

),

segment_rows as (

    select
        segment_id,
        {{ unnest_list(sql_list(cc_feature_names())) }} as stats
    from segment_columns

),

portfolio_rows as (

    select {{ unnest_list(sql_list(cc_feature_names())) }} as stats
    from portfolio_columns

),

segment_stats as (

    select
        segment_rows.segment_id,
        stats.feature_name,
        stats.mean_value,
        stats.median_value
    from segment_rows

),

portfolio_stats as (

    select
        stats.feature_name,
        stats.portfolio_mean,
        stats.portfolio_median
    from portfolio_rows

),

final as (

    select
        segments_named.model_id,
        segments_named.segment_id,
        segments_named.segment_name,
        segments_named.persona_id,
        segments_named.n_customers,
        segments_named.share_of_customers,
        feature_catalogue.feature_position,
        segment_stats.feature_name,
        segment_stats.mean_value,
        segment_stats.median_value,
        portfolio_stats.portfolio_mean,
        portfolio_stats.portfolio_median,
        segment_centroids.centroid_z,
        segment_centroids.feature_name is not null as is_model_feature,
        segment_stats.mean_value / nullif(portfolio_stats.portfolio_mean, 0)
            as mean_to_portfolio_ratio
    from segment_stats
    inner join segments_named
        on segment_stats.segment_id = segments_named.segment_id
    inner join portfolio_stats
        on segment_stats.feature_name = portfolio_stats.feature_name
    inner join feature_catalogue
        on segment_stats.feature_name = feature_catalogue.feature_name
    left join segment_centroids
        on
            segment_stats.segment_id = segment_centroids.segment_id
            and segment_stats.feature_name = segment_centroids.feature_name

)

select * from final
order by segment_id, feature_position
