{#-
    The one nearest-centroid rule of the project.

    Returns a query that places every row of `customers` (which has the
    `keys` columns and a `<feature>_z` column per feature) among the
    centroids in `centroids` (long form: segment_id, feature_name,
    centroid_z), by Euclidean distance in standardized space:

    - segment_id, second_segment_id, third_segment_id and their distances:
      the three nearest segments.  Ties go to the lower segment_id, so the
      result never depends on scan order.
    - confidence = (second_distance - distance_to_centroid) / second_distance:
      0 on the border between two segments, 1 on the centroid (NULL with one
      segment).
    - probability_<j> for every segment j, and probability /
      second_probability / third_probability for the three nearest: a
      softmax of -squared distance / temperature.  With temperature
      2 sigma^2 (sigma^2 the within-segment variance per feature) this is
      the posterior of an equal-weight spherical Gaussian mixture centred on
      the centroids.  `temperature` is a SQL expression.
    - reason_<n>_feature / _contribution / _direction, n = 1..3: the features
      that pull the row towards its segment rather than the runner-up, by
      their share of the difference of squared distances,
      (z - second centroid)^2 - (z - nearest centroid)^2, largest first;
      direction 'higher' when the nearest centroid is higher on the feature
      than the runner-up's, else 'lower'.  Only features that pull towards
      the segment (positive contribution) are listed; with one segment there
      is no runner-up and no reason.

    The distances are unrolled into one expression per segment over a single
    pivoted centroid row: on millions of rows this is several times faster
    than CROSS JOIN + arg_min over long-form centroids.
-#}
{% macro nearest_centroid(
    customers,
    centroids,
    features,
    segment_ids,
    temperature,
    keys=["cust_id"]
) %}
    with

    centroid_row as (

        select
            {% for j in segment_ids %}
            {% set outer = loop %}
            {% for feature in features %}
            max(centroid_z) filter (
                where segment_id = {{ j }} and feature_name = '{{ feature }}'
            ) as c{{ j }}__{{ feature }}
            {{- "," if not (loop.last and outer.last) }}
            {% endfor %}
            {% endfor %}
        from {{ centroids }}

    ),

    squared_distances as (

        select
            {% for key in keys %}
            scored.{{ key }},
            {% endfor %}
            {% for feature in features %}
            scored.{{ feature }}_z,
            {% endfor %}
            centroid_row.*,
            {% for j in segment_ids %}
            (
                {% for feature in features %}
                (scored.{{ feature }}_z - centroid_row.c{{ j }}__{{ feature }})
                ** 2{{ " +" if not loop.last }}
                {% endfor %}
            ) as sq_distance_{{ j }}{{ "," if not loop.last }}
            {% endfor %}
        from {{ customers }} as scored
        cross join centroid_row

    ),

    ranked as (

        -- structs sort by squared distance, then by segment id (ties)
        select
            *,
            list_sort([
                {% for j in segment_ids %}
                {'sq': sq_distance_{{ j }}, 'segment_id': {{ j }}::bigint}
                {{- "," if not loop.last }}
                {% endfor %}
            ]) as by_distance
        from squared_distances

    ),

    nearest as (

        select
            *,
            {% for n, name in [(1, ""), (2, "second_"), (3, "third_")] %}
            struct_extract(by_distance[{{ n }}], 'segment_id')
                as {{ name }}segment_id,
            struct_extract(by_distance[{{ n }}], 'sq') as {{ name }}sq,
            {% endfor %}
            {{ temperature }} as temperature
        from ranked

    ),

    weighted as (

        -- exp(-(d_j^2 - d_min^2) / T): the nearest weighs 1, no underflow
        select
            *,
            {% for j in segment_ids %}
            exp(-(sq_distance_{{ j }} - sq) / temperature)
                as weight_{{ j }},
            {% endfor %}
            {% for feature in features %}
            case segment_id
                {% for j in segment_ids %}
                when {{ j }} then c{{ j }}__{{ feature }}
                {% endfor %}
            end as nearest__{{ feature }},
            case second_segment_id
                {% for j in segment_ids %}
                when {{ j }} then c{{ j }}__{{ feature }}
                {% endfor %}
            end as second__{{ feature }}{{ "," if not loop.last }}
            {% endfor %}
        from nearest

    ),

    explained as (

        select
            *,
            {% for j in segment_ids %}
            weight_{{ j }}{{ " +" if not loop.last else " as total_weight," }}
            {% endfor %}
            list_sort([
                {% for feature in features %}
                {
                    'contribution':
                        ({{ feature }}_z - second__{{ feature }}) ** 2
                        - ({{ feature }}_z - nearest__{{ feature }}) ** 2,
                    'feature': '{{ feature }}',
                    'direction':
                        case
                            when nearest__{{ feature }} > second__{{ feature }}
                                then 'higher'
                            else 'lower'
                        end
                }{{ "," if not loop.last }}
                {% endfor %}
            ], 'DESC') as reasons
        from weighted

    ),

    assigned as (

        select
            {% for key in keys %}
            {{ key }},
            {% endfor %}
            segment_id,
            sqrt(sq) as distance_to_centroid,
            second_segment_id,
            sqrt(second_sq) as second_distance,
            third_segment_id,
            sqrt(third_sq) as third_distance,
            case
                when second_sq > 0
                    then (sqrt(second_sq) - sqrt(sq)) / sqrt(second_sq)
                when second_sq = 0 then 0.0
            end as confidence,
            1.0 / total_weight as probability,
            exp(-(second_sq - sq) / temperature) / total_weight
                as second_probability,
            exp(-(third_sq - sq) / temperature) / total_weight
                as third_probability,
            {% for j in segment_ids %}
            weight_{{ j }} / total_weight as probability_{{ j }},
            {% endfor %}
            {% for n in [1, 2, 3] %}
            {% set pulls = "struct_extract(reasons[" ~ n ~ "], 'contribution') > 0" %}
            case when {{ pulls }} then
                struct_extract(reasons[{{ n }}], 'feature')
            end as reason_{{ n }}_feature,
            case when {{ pulls }} then
                struct_extract(reasons[{{ n }}], 'contribution')
            end as reason_{{ n }}_contribution,
            case when {{ pulls }} then
                struct_extract(reasons[{{ n }}], 'direction')
            end as reason_{{ n }}_direction{{ "," if not loop.last }}
            {% endfor %}
        from explained

    )

    select * from assigned
{% endmacro %}


{#-
    The segment ids of the fitted model, read from segment_centroids when the
    model runs (k is only known after the fit).  Unit tests override it.
-#}
{% macro fitted_segment_ids() %}
    {% if not execute %}
        {{ return([1]) }}
    {% endif %}
    {% set result = run_query(
        "select distinct segment_id from " ~ ref("segment_centroids")
        ~ " order by segment_id"
    ) %}
    {{ return(result.columns[0].values() | map("int") | list) }}
{% endmacro %}
