{{ config(
    materialized="incremental",
    incremental_strategy="delete+insert",
    unique_key="model_id",
    on_schema_change="fail",
) }}
{#-
    Every KMeans fit made in this warehouse, one model_id each (the current
    one is int_kmeans_fit).

    Up to fit_max_rows customers the fit on the sample is the fit on every
    customer, and passes through.  Above it, kmeans_refinement_passes Lloyd
    passes over every customer refine the sample's centroids in SQL, as
    MADlib and BigQuery ML fit in-database: assign every customer to its
    nearest centroid (macro nearest_centroid), then move each centroid to
    the mean of its customers (a segment left empty keeps its centroid).
    Sizes, inertia and the soft-membership temperature are those of every
    customer under the final centroids, and segments are numbered again by
    size, largest first, ties by their centroids (as in
    cc_segmentation.segmentation.kmeans.canonical_order).

    A model_id already stored is not fitted again.
-#}
-- depends_on: {{ ref("int_kmeans_fit_settings") }}
-- depends_on: {{ ref("int_customers_standardized") }}
{% set fit = {} %}
{% if execute %}
    {% set settings = run_query(
        "select model_id, n_rows, n_sample_rows, n_clusters, features,"
        ~ " kmeans_refinement_passes from " ~ ref("int_kmeans_fit_settings")
    ).rows[0] %}
    {% do fit.update({
        "model_id": settings[0],
        "refine": settings[1] > settings[2],
        "segment_ids": range(1, settings[3] + 1) | list,
        "features": settings[4].split(","),
        "passes": settings[5] | int,
    }) %}
    {% if is_incremental() %}
        {% set stored = run_query(
            "select count(*) from " ~ this
            ~ " where model_id = '" ~ fit.model_id ~ "'"
        ).rows[0][0] %}
        {% do fit.update({"stored": stored > 0}) %}
    {% endif %}
{% endif %}

{% if fit.stored %}
    {% do log("KMeans fit " ~ fit.model_id ~ ": stored, reused", info=true) %}

    with

    final as (

        -- already stored: insert nothing, keep the stored rows
        select * from {{ this }}
        where false

    )

{% else %}

    with

    kmeans_sample_fits as (

        select * from {{ ref("int_kmeans_sample_fits") }}

    ),

    sample_fit as (

        select * from kmeans_sample_fits
        where model_id = '{{ fit.model_id }}'

    ),

{% endif %}
{% if fit.stored %}
{% elif not fit.refine %}

    final as (

        select
            *,
            n_rows as n_sample_rows,
            0 as n_refinement_passes
        from sample_fit

    )

{% else %}

    customers_standardized as (

        select * from {{ ref("int_customers_standardized") }}

    ),

    centroids_0 as (

        select
            segment_id,
            feature_name,
            centroid_z
        from sample_fit

    ),

    {% for pass in range(1, fit.passes + 1) %}

        assigned_{{ pass }} as (

            {{ nearest_centroid(
                "customers_standardized",
                "centroids_" ~ (pass - 1),
                fit.features,
                fit.segment_ids,
                "1.0",
                nearest_only=true,
            ) }}

        ),

        means_{{ pass }} as (

            select
                segment_id,
                {% for feature in fit.features -%}
                    avg({{ feature }}_z) as {{ feature }}_z
                    {%- if not loop.last %},{% endif %}
                {% endfor %}
            from assigned_{{ pass }}
            group by segment_id

        ),

        centroids_{{ pass }} as (

            select
                previous.segment_id,
                previous.feature_name,
                coalesce(
                    case previous.feature_name
                        {% for feature in fit.features %}
                            when '{{ feature }}'
                                then means.{{ feature }}_z
                        {% endfor %}
                    end,
                    previous.centroid_z
                ) as centroid_z
            from centroids_{{ pass - 1 }} as previous
            left join means_{{ pass }} as means
                on previous.segment_id = means.segment_id

        ),

    {% endfor %}

    assigned_final as (

        {{ nearest_centroid(
            "customers_standardized",
            "centroids_" ~ fit.passes,
            fit.features,
            fit.segment_ids,
            "1.0",
            nearest_only=true,
        ) }}

    ),

    segment_sums as (

        select
            segment_id,
            count(*) as segment_size,
            sum(sq_distance) as segment_inertia
        from assigned_final
        group by segment_id

    ),

    refined_segments as (

        select
            centroids.segment_id,
            coalesce(segment_sums.segment_size, 0) as segment_size,
            {% for feature in fit.features -%}
                max(centroids.centroid_z) filter (
                    where centroids.feature_name = '{{ feature }}'
                ) as c__{{ feature }}
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        from centroids_{{ fit.passes }} as centroids
        left join segment_sums
            on centroids.segment_id = segment_sums.segment_id
        group by centroids.segment_id, segment_sums.segment_size

    ),

    renumbered as (

        select
            segment_id as refined_segment_id,
            segment_size,
            row_number() over (
                order by
                    segment_size desc,
                    {% for feature in fit.features -%}
                        c__{{ feature }}{% if not loop.last %},{% endif %}
                    {% endfor %}
            ) as segment_id
        from refined_segments

    ),

    totals as (

        select
            sum(segment_inertia) as inertia,
            -- count(*) is a bigint, its sum a hugeint: keep the fit's type
            cast(sum(segment_size) as bigint) as n_rows
        from segment_sums

    ),

    final as (

        select
            sample_fit.model_id,
            renumbered.segment_id,
            sample_fit.feature_name,
            sample_fit.feature_position,
            centroids.centroid_z,
            renumbered.segment_size,
            sample_fit.n_clusters,
            sample_fit.features,
            sample_fit.n_init,
            sample_fit.random_state,
            sample_fit.max_iter,
            totals.inertia,
            2 * totals.inertia
            / (totals.n_rows * {{ fit.features | length }})
                as membership_temperature,
            sample_fit.n_iter,
            totals.n_rows,
            sample_fit.input_fingerprint,
            sample_fit.fitted_at,
            sample_fit.n_rows as n_sample_rows,
            {{ fit.passes }} as n_refinement_passes
        from centroids_{{ fit.passes }} as centroids
        inner join renumbered
            on centroids.segment_id = renumbered.refined_segment_id
        -- the sample fit's rows give the feature positions and the settings
        inner join sample_fit
            on
                centroids.segment_id = sample_fit.segment_id
                and centroids.feature_name = sample_fit.feature_name
        cross join totals

    )

{% endif %}

-- the table's columns, named once for whichever branch built final
select
    model_id,
    segment_id,
    feature_name,
    feature_position,
    centroid_z,
    segment_size,
    n_clusters,
    features,
    n_init,
    random_state,
    max_iter,
    inertia,
    membership_temperature,
    n_iter,
    n_rows,
    input_fingerprint,
    fitted_at,
    n_sample_rows,
    n_refinement_passes
from final
