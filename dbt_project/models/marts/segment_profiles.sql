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

customer_segments as (

    select * from {{ ref("customer_segments") }}

),

segments_named as (

    select * from {{ ref("int_segments_named") }}

),

segment_centroids as (

    select * from {{ ref("segment_centroids") }}

),

measures as (

    unpivot (
        select
            segment_id,
            {{ cc_feature_names() | join(", ") }}
        from customer_segments
    )
    on {{ cc_feature_names() | join(", ") }}
    into name feature_name value reported_value

),

segment_stats as (

    select
        segment_id,
        feature_name,
        avg(reported_value) as mean_value,
        median(reported_value) as median_value
    from measures
    group by segment_id, feature_name

),

portfolio_stats as (

    select
        feature_name,
        avg(reported_value) as portfolio_mean,
        median(reported_value) as portfolio_median
    from measures
    group by feature_name

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
