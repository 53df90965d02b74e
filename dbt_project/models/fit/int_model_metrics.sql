{#-
    Figures of the fitted segmentation, over every valid customer, in SQL:
    one row for the model, one per segment.

    - n_customers, inertia, mean_distance, radius: each customer against
      its own (fitted) centroid, by the project's nearest-centroid rule.
    - davies_bouldin and calinski_harabasz exactly as sklearn.metrics
      computes them: from the segments' member means (not the fitted
      centroids), the mean distance of members to their member mean, the
      within- and between-segment dispersions.  Two passes over the
      customers; every other step works on k rows.
    - silhouette from int_silhouette_scores (the fixed-seed sample).
-#}
{% set features = model_feature_names() %}

with

customers_standardized as (

    select * from {{ ref("int_customers_standardized") }}

),

segment_centroids as (

    select * from {{ ref("int_segment_centroids") }}

),

silhouette_scores as (

    select * from {{ ref("int_silhouette_scores") }}

),

assigned as (

    {{ nearest_centroid(
        "customers_standardized",
        "segment_centroids",
        features,
        fitted_segment_ids(),
        "1.0",
        nearest_only=true,
    ) }}
    -- read by both passes: computed once (the query above ends with a
    -- select from its last step, which this condition completes)
    {{ computed_once() }}

),

segment_sums as (

    -- pass 1: sizes, distances to the fitted centroid, member means
    select
        segment_id,
        count(*) as n_customers,
        sum(sq_distance) as inertia,
        avg(sqrt(sq_distance)) as mean_distance,
        max(sqrt(sq_distance)) as radius,
        {% for feature in features -%}
            avg({{ feature }}_z) as mean__{{ feature }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from assigned
    group by segment_id

),

member_spread as (

    -- pass 2: each customer against its segment's member mean
    select
        assigned.segment_id,
        avg(sqrt(
            {% for feature in features %}
                power(
                    assigned.{{ feature }}_z - segment_sums.mean__{{ feature }},
                    2
                ){{ " +" if not loop.last }}
            {% endfor %}
        )) as mean_distance_to_mean,
        sum(
            {% for feature in features %}
                power(
                    assigned.{{ feature }}_z - segment_sums.mean__{{ feature }},
                    2
                ){{ " +" if not loop.last }}
            {% endfor %}
        ) as within_dispersion
    from assigned
    inner join segment_sums
        on assigned.segment_id = segment_sums.segment_id
    group by assigned.segment_id

),

overall_mean as (

    select
        {% for feature in features %}
            sum(n_customers * mean__{{ feature }}) / sum(n_customers)
                as mean__{{ feature }},
        {% endfor %}
        sum(n_customers) as n_customers,
        count(*) as n_segments
    from segment_sums

),

separations as (

    -- Davies-Bouldin: (s_i + s_j) / d(m_i, m_j) for every ordered pair
    select
        segment.segment_id,
        (spread.mean_distance_to_mean + other_spread.mean_distance_to_mean)
        / nullif(sqrt(
            {% for feature in features %}
                power(
                    segment.mean__{{ feature }}
                    - other_segment.mean__{{ feature }},
                    2
                ){{ " +" if not loop.last }}
            {% endfor %}
        ), 0) as similarity
    from segment_sums as segment
    inner join segment_sums as other_segment
        on segment.segment_id <> other_segment.segment_id
    inner join member_spread as spread
        on segment.segment_id = spread.segment_id
    inner join member_spread as other_spread
        on other_segment.segment_id = other_spread.segment_id

),

worst_similarity as (

    select
        segment_id,
        -- sklearn: coinciding means count as infinitely far apart
        coalesce(max(similarity), 0) as similarity
    from separations
    group by segment_id

),

model_row as (

    select
        overall_mean.n_customers,
        sum(segment_sums.inertia) as inertia,
        sum(segment_sums.mean_distance * segment_sums.n_customers)
        / overall_mean.n_customers as mean_distance,
        max(segment_sums.radius) as radius,
        sum(
            segment_sums.n_customers * (
                {% for feature in features %}
                    power(
                        segment_sums.mean__{{ feature }}
                        - overall_mean.mean__{{ feature }},
                        2
                    ){{ " +" if not loop.last }}
                {% endfor %}
            )
        ) as between_dispersion,
        sum(member_spread.within_dispersion) as within_dispersion,
        max(overall_mean.n_segments) as n_segments
    from segment_sums
    inner join member_spread
        on segment_sums.segment_id = member_spread.segment_id
    cross join overall_mean
    group by overall_mean.n_customers

),

model_scores as (

    select
        model_row.*,
        (
            select avg(worst_similarity.similarity) from worst_similarity
        ) as davies_bouldin,
        case
            when model_row.within_dispersion = 0 then 1.0
            else
                model_row.between_dispersion
                * (model_row.n_customers - model_row.n_segments)
                / (model_row.within_dispersion * (model_row.n_segments - 1))
        end as calinski_harabasz
    from model_row

),

final as (

    select
        (
            select max(segment_centroids.model_id) from segment_centroids
        ) as model_id,
        'model' as scope,
        cast(null as bigint) as segment_id,
        model_scores.n_customers,
        model_scores.inertia,
        model_scores.mean_distance,
        model_scores.radius,
        silhouette_scores.silhouette,
        model_scores.davies_bouldin,
        model_scores.calinski_harabasz
    from model_scores
    cross join silhouette_scores
    where silhouette_scores.scope = 'model'

    union all

    select
        (
            select max(segment_centroids.model_id) from segment_centroids
        ) as model_id,
        'segment' as scope,
        segment_sums.segment_id,
        segment_sums.n_customers,
        segment_sums.inertia,
        segment_sums.mean_distance,
        segment_sums.radius,
        silhouette_scores.silhouette,
        cast(null as double) as davies_bouldin,
        cast(null as double) as calinski_harabasz
    from segment_sums
    left join silhouette_scores
        on
            segment_sums.segment_id = silhouette_scores.segment_id
            and silhouette_scores.scope = 'segment'

)

select * from final
order by segment_id nulls first
