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
    - probability_<j> for every segment j (in segment_id order), and
      probability / second_probability / third_probability for the three
      nearest: a softmax of -squared distance / temperature.  With temperature
      2 sigma^2 (sigma^2 the within-segment variance per feature) this is
      the posterior of an equal-weight spherical Gaussian mixture centred on
      the centroids.  `temperature` is a SQL expression.
    - reason_<n>_feature / _contribution / _direction, n = 1..3: the features
      that pull the row towards its segment rather than the runner-up, by
      their share of the difference of squared distances,
      (z - second centroid)^2 - (z - nearest centroid)^2, largest first, and
      among equal contributions the feature that comes first in `features`
      (model order; before issue 7, a sort broke such ties by feature name,
      descending); direction 'higher' when the nearest centroid is higher on the feature
      than the runner-up's, else 'lower'.  Only features that pull towards
      the segment (positive contribution) are listed; with one segment there
      is no runner-up and no reason.

    With nearest_only=true it returns only the `keys`, every `<feature>_z`,
    segment_id (the nearest, ties to the lower id) and sq_distance (the
    squared distance to it), and ignores `temperature`: the cheap pass that
    Lloyd refinement of KMeans runs several times over every customer.

    Built for tens of millions of rows (tests/benchmarks/
    benchmark_assignment.py): every value is an expression over columns, so
    DuckDB evaluates it vector by vector.  Distances are unrolled over one
    pivoted centroid row ((z - c) * (z - c): pow() costs several times
    more); the three nearest segments and the three reasons are each picked
    with one least()/greatest() and one CASE (nearest_centroid_picks), not
    by sorting a list per row; the nearest and runner-up centroids are
    looked up by position in a constant list of structs, not by CASE per
    feature or by a join (a join would make DuckDB insert the result
    single-threaded to keep the row order).
-#}
{% macro nearest_centroid(
    customers,
    centroids,
    features,
    segment_ids,
    temperature,
    keys=["cust_id"],
    nearest_only=false
) %}
    {#- position i in segment_ids is segment i's column; sorted, the first
        of equal distances is the lower segment id -#}
    {%- set segment_ids = segment_ids | sort -%}
    {%- set segment_id_list = sql_list(segment_ids, "bigint") -%}
    {#- position i in features is feature i's name -#}
    {%- set feature_literals = [] -%}
    {%- for feature in features -%}
        {%- do feature_literals.append(sql_literal(feature)) -%}
    {%- endfor -%}
    {%- set feature_list = sql_list(feature_literals) -%}
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
        {{ one_row_pivot_grouping() }}

    ),

    squared_distances as (

        select
            {% for key in keys %}
            scored.{{ key }},
            {% endfor %}
            {% for feature in features %}
            scored.{{ feature }}_z,
            {% endfor %}
            {% if not nearest_only %}
            {{ temperature }} as temperature,
            {% endif %}
            {% for j in segment_ids %}
            (
                {% for feature in features %}
                {% set difference -%}
                    (scored.{{ feature }}_z - centroid_row.c{{ j }}__{{ feature }})
                {%- endset %}
                {{ difference }} * {{ difference }}{{ " +" if not loop.last }}
                {% endfor %}
            ) as sq_distance_{{ j }}{{ "," if not loop.last }}
            {% endfor %}
        from {{ customers }} as scored
        cross join centroid_row

    ),

    {%- set distance_columns = [] -%}
    {%- for j in segment_ids -%}
        {%- do distance_columns.append("sq_distance_" ~ j) -%}
    {%- endfor %}
    {{ nearest_centroid_picks(
        "squared_distances",
        distance_columns,
        "least",
        "nearest",
        1 if nearest_only else 3,
    ) }}

    {% if nearest_only %}

    assigned as (

        select
            {% for key in keys %}
            {{ key }},
            {% endfor %}
            {% for feature in features %}
            {{ feature }}_z,
            {% endfor %}
            {{ list_element(segment_id_list, "nearest_1_position") }}
                as segment_id,
            nearest_1 as sq_distance
        from nearest_1

    )

    {% else %}

    centroid_structs as (

        -- segment i's centroid is element i, so a position looks it up
        {%- set structs = [] -%}
        {%- for j in segment_ids -%}
            {%- set fields = [] -%}
            {%- for feature in features -%}
                {%- do fields.append((feature, "c" ~ j ~ "__" ~ feature)) -%}
            {%- endfor -%}
            {%- do structs.append(sql_struct(fields)) -%}
        {%- endfor %}
        select
            {{ sql_list(structs) }} as centroids
        from centroid_row

    ),

    runner_up_looked_up as (

        select
            ranked.*,
            {{ list_element(
                "centroid_structs.centroids", "ranked.nearest_1_position"
            ) }} as nearest_centroid,
            {{ list_element(
                "centroid_structs.centroids", "ranked.nearest_2_position"
            ) }} as second_centroid
        from nearest_3 as ranked
        cross join centroid_structs

    ),

    contributions as (

        -- exp(-(d_j^2 - d_min^2) / T): the nearest weighs 1, no underflow
        select
            *,
            {% for j in segment_ids %}
            exp(-(sq_distance_{{ j }} - nearest_1) / temperature)
                as weight_{{ j }},
            {% endfor %}
            {% for feature in features %}
            {% set z = feature ~ "_z" %}
            {% set second = "second_centroid." ~ feature %}
            {% set nearest = "nearest_centroid." ~ feature %}
            ({{ z }} - {{ second }}) * ({{ z }} - {{ second }})
            - ({{ z }} - {{ nearest }}) * ({{ z }} - {{ nearest }})
                as contribution__{{ feature }}{{ "," if not loop.last }}
            {% endfor %}
        from runner_up_looked_up

    ),

    {%- set contribution_columns = [] -%}
    {%- for feature in features -%}
        {%- do contribution_columns.append("contribution__" ~ feature) -%}
    {%- endfor %}
    {{ nearest_centroid_picks(
        "contributions",
        contribution_columns,
        "greatest",
        "reason",
        3,
    ) }}

    weights_summed as (

        select
            *,
            {% for j in segment_ids %}
            weight_{{ j }}{{ " +" if not loop.last else " as total_weight" }}
            {% endfor %}
        from reason_3

    ),

    assigned as (

        select
            {% for key in keys %}
            {{ key }},
            {% endfor %}
            {{ list_element(segment_id_list, "nearest_1_position") }}
                as segment_id,
            sqrt(nearest_1) as distance_to_centroid,
            {{ list_element(segment_id_list, "nearest_2_position") }}
                as second_segment_id,
            sqrt(nearest_2) as second_distance,
            {{ list_element(segment_id_list, "nearest_3_position") }}
                as third_segment_id,
            sqrt(nearest_3) as third_distance,
            case
                when nearest_2 > 0
                    then (sqrt(nearest_2) - sqrt(nearest_1)) / sqrt(nearest_2)
                when nearest_2 = 0 then 0.0
            end as confidence,
            1.0 / total_weight as probability,
            exp(-(nearest_2 - nearest_1) / temperature) / total_weight
                as second_probability,
            exp(-(nearest_3 - nearest_1) / temperature) / total_weight
                as third_probability,
            {% for j in segment_ids %}
            weight_{{ j }} / total_weight as probability_{{ j }},
            {% endfor %}
            {% for n in [1, 2, 3] %}
            {% set pulls = "reason_" ~ n ~ " > 0" %}
            case when {{ pulls }} then
                {{ list_element(feature_list, "reason_" ~ n ~ "_position") }}
            end as reason_{{ n }}_feature,
            case when {{ pulls }} then reason_{{ n }} end
                as reason_{{ n }}_contribution,
            case when {{ pulls }} then
                if(
                    case reason_{{ n }}_position
                        {% for feature in features %}
                        when {{ loop.index }} then
                            nearest_centroid.{{ feature }}
                            > second_centroid.{{ feature }}
                        {% endfor %}
                    end,
                    'higher',
                    'lower'
                )
            end as reason_{{ n }}_direction{{ "," if not loop.last }}
            {% endfor %}
        from weights_summed

    )

    {% endif %}

    select * from assigned
{% endmacro %}


{#-
    CTEs <name>_1 .. <name>_<n> that pick, row by row, the n best of
    `columns` by `pick` ("least" or "greatest"): column <name>_<r> holds the
    r-th best value and <name>_<r>_position its position in `columns`
    (1-based).  Among equal values the earlier column wins.  Each pass moves
    the column picked before out of reach by adding a huge sentinel to it
    (+1e308 for least, -1e308 for greatest; every other column gets + 0.0,
    which leaves its value exactly as it was) and takes one
    least()/greatest() and one CASE.  Measured at 10 M rows, the sentinel
    costs a fraction of the former if(position = i, null, value) per column,
    which DuckDB evaluates as a CASE with selection vectors.  The columns of
    a row are all NULL (no pick) or all finite, far below 1e308 (squared
    distances, contributions); ranks beyond the number of columns are NULL.
    Ends with a comma: CTEs only.
-#}
{% macro nearest_centroid_picks(source, columns, pick, name, n) %}
    {% set sentinel = "1e308" if pick == "least" else "-1e308" %}
    {% for rank in range(1, n + 1) %}
    {% set candidate = name ~ "_" ~ rank ~ "_candidate_" %}

    {% if rank > columns | length %}

    {{ name }}_{{ rank }} as (

        select
            *,
            null::double as {{ name }}_{{ rank }},
            null::integer as {{ name }}_{{ rank }}_position
        from {{ name ~ "_" ~ (rank - 1) }}

    ),

    {% else %}

    {{ name }}_{{ rank }}_candidates as (

        select
            *,
            {% for column in columns %}
            {% if rank == 1 %}
            {{ column }}
            {%- else %}
            {{ name }}_{{ rank - 1 }}_candidate_{{ loop.index }}
            + ({{ name }}_{{ rank - 1 }}_position = {{ loop.index }})::double
            * {{ sentinel }}
            {%- endif %} as {{ candidate }}{{ loop.index }}
            {{- "," if not loop.last }}
            {% endfor %}
        from {{ source if rank == 1 else name ~ "_" ~ (rank - 1) }}

    ),

    {{ name }}_{{ rank }}_value as (

        select
            *,
            {{ pick }}(
                {% for column in columns %}
                {{ candidate }}{{ loop.index }}{{ "," if not loop.last }}
                {% endfor %}
            ) as {{ name }}_{{ rank }}
        from {{ name }}_{{ rank }}_candidates

    ),

    {{ name }}_{{ rank }} as (

        select
            *,
            case
                {% for column in columns %}
                when {{ candidate }}{{ loop.index }} = {{ name }}_{{ rank }}
                    then {{ loop.index }}
                {% endfor %}
            end as {{ name }}_{{ rank }}_position
        from {{ name }}_{{ rank }}_value

    ),

    {% endif %}
    {% endfor %}
{% endmacro %}


{#-
    The segment ids of the fitted model, read from segment_centroids when the
    model runs (k is only known after the fit).  Unit tests override it.
-#}
{% macro fitted_segment_ids() %}
    {% if not execute %}
        {{ return([1]) }}
    {% endif %}
    {{ return(distinct_segment_ids(ref("int_segment_centroids"))) }}
{% endmacro %}


{#- The segment ids a relation holds (where `where` holds), in order. -#}
{% macro distinct_segment_ids(relation, where="true") %}
    {% set result = run_query(
        "select distinct segment_id from " ~ relation
        ~ " where " ~ where ~ " order by segment_id"
    ) %}
    {{ return(result.columns[0].values() | map("int") | list) }}
{% endmacro %}
