{#-
    The one nearest-centroid rule of the project.

    Returns a query that assigns every row of `customers` (which has a
    `<feature>_z` column per feature) to the nearest of the centroids in
    `centroids` (long form: segment_id, feature_name, centroid_z), by
    Euclidean distance in standardized space.

    The distances are unrolled into one expression per segment over a single
    pivoted centroid row: on millions of rows this is several times faster
    than CROSS JOIN + arg_min over long-form centroids.

    Ties go to the lowest segment_id (nearest and runner-up alike), so the
    result never depends on scan order.

    confidence = (second_distance - distance_to_centroid) / second_distance:
    0 on the border between two segments, 1 on the centroid itself (NULL
    when there is only one segment).
-#}
{% macro nearest_centroid(customers, centroids, features, segment_ids, keys=["cust_id"]) %}
    {%- set ns = namespace(distances=[], runner_up=[]) -%}
    {%- for j in segment_ids -%}
        {%- do ns.distances.append("sq_distance_" ~ j) -%}
        {%- do ns.runner_up.append(
            "case when segment_id = " ~ j ~ " then null else sq_distance_"
            ~ j ~ " end"
        ) -%}
    {%- endfor %}
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

    nearest as (

        select
            *,
            least({{ ns.distances | join(", ") }}) as sq_nearest,
            case
                {% for j in segment_ids %}
                when sq_distance_{{ j }} = least({{ ns.distances | join(", ") }})
                    then {{ j }}
                {% endfor %}
            end::bigint as segment_id
        from squared_distances

    ),

    runner_up as (

        select
            *,
            least({{ ns.runner_up | join(", ") }}) as sq_second
        from nearest

    ),

    assigned as (

        select
            {% for key in keys %}
            {{ key }},
            {% endfor %}
            segment_id,
            sqrt(sq_nearest) as distance_to_centroid,
            case
                {% for j in segment_ids %}
                when segment_id <> {{ j }} and sq_distance_{{ j }} = sq_second
                    then {{ j }}
                {% endfor %}
            end::bigint as second_segment_id,
            sqrt(sq_second) as second_distance,
            case
                when sq_second > 0
                    then (sqrt(sq_second) - sqrt(sq_nearest)) / sqrt(sq_second)
                when sq_second = 0 then 0.0
            end as confidence
        from runner_up

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
