{#-
    The new file's valid customers as the champion scores them: its own
    stored fit state (impute values, transform, clip bounds, mean and
    stddev of fitted_features; centroids of int_kmeans_fits under the
    lasting segment ids of int_segment_history), never this build's, with
    the scoring chain's macros (scoring_chain.sql).  What the promotion
    gate compares the challenger with (promotion_moves).

    Empty when there is no champion, or when this build's model is the
    champion (refit: false, or a refit that found the same model): there
    is nothing to compare, and nothing is computed.
-#}
-- {{ reads_published_model(["int_kmeans_fits", "int_segment_history"]) }}
-- depends_on: {{ ref("int_kmeans_fit_settings") }}
{% set champion = published_champion() %}
{% set compared = champion is not none
    and champion.model_id != challenger_model_id() %}

with

customers_validated as (
    select * from {{ ref("int_customers_validated") }}
),

{% if not compared %}

    final as (

        select
            cast(null as string) as cust_id,
            cast(null as string) as champion_model_id,
            cast(null as bigint) as segment_id
        from customers_validated
        where 1 = 0

    )

{% else %}
    {% set model_id = sql_literal(champion.model_id) %}
    {% set features = champion.features.split(",") %}

    valid_customers as (
        select * from customers_validated
        where is_valid
    ),

    champion_features as (
        -- clip bounds NULL for a model from before clipping: it clips nothing
        select * from {{ published_state("fitted_features") }}
        where model_id = {{ model_id }}
    ),

    champion_centroids as (
        select
            history.segment_id,
            fits.feature_name,
            fits.centroid_z
        from {{ published_state("int_kmeans_fits") }} as fits
        inner join {{ published_state("int_segment_history") }} as history
            on
                fits.model_id = history.model_id
                and fits.segment_id = history.fit_segment_id
        where fits.model_id = {{ model_id }}
    ),

    impute_row as (
        {{ chain_impute_row("champion_features") }}
    ),

    imputed as (
        {{ chain_imputed("valid_customers", "impute_row", ["cust_id"]) }}
    ),

    model_features as (
        select * from champion_features
        where is_model_feature
    ),

    scaling_row as (
        {{ chain_scaling_row("model_features", features) }}
    ),

    standardized as (
        {{ chain_standardized(
            "imputed", "scaling_row", ["cust_id"], features=features
        ) }}
    ),

    assigned as (
        {{ nearest_centroid(
            "standardized",
            "champion_centroids",
            features,
            champion_segment_ids(champion.model_id),
            "null",
            keys=["cust_id"],
            nearest_only=true,
        ) }}
    ),

    final as (

        select
            cust_id,
            {{ model_id }} as champion_model_id,
            cast(segment_id as bigint) as segment_id
        from assigned

    )

{% endif %}

select * from final
