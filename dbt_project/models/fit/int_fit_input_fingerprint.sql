{#-
    One row identifying the data a fit sees: the valid customers' ids and
    imputed measures, hashed row by row and summed, so it does not depend on
    row order or on the last bits of parallel floating-point aggregates.

    k_scan_key adds every setting the k scan depends on: the same key means
    the same matrix, sample and scan, so a rebuild reuses the stored scan
    (int_k_selection_scores) instead of running it again.  dbscan_key does
    the same for DBSCAN on the sample (int_dbscan_sample_label_cache).
-#}
-- {{ reads_published_model() }}
{% set features = model_feature_names() %}
{% set transforms = [] %}
{% for feature in features %}
    {% do transforms.append(feature_transform(feature)) %}
{% endfor %}
{#- what every key depends on, in the order the keys were first written -#}
{% set base_settings = [
    "features=" ~ features | join(","),
    "transforms=" ~ transforms | join(","),
    "impute=" ~ var("impute_method"),
] %}
{% set scan_only_settings = [
    "k=" ~ var("k_min") ~ ".." ~ var("k_max"),
    "n_init=" ~ var("n_init"),
    "seed=" ~ var("random_state"),
    "max_iter=" ~ var("max_iter"),
    "k_auto_min=" ~ var("k_auto_min"),
    "k_min_stability=" ~ var("k_min_stability"),
    "k_min_segment_share=" ~ var("k_min_segment_share"),
    "k_selection_max_rows=" ~ var("k_selection_max_rows"),
    "k_selection_silhouette_rows=" ~ var("k_selection_silhouette_rows"),
] %}
{#- clipping changes every z-score; 0 (off) keeps the keys of before it -#}
{% set clip_quantile = var("scaling_clip_quantile") | float %}
{% set input_settings = base_settings + (
    ["clip=" ~ clip_quantile] if clip_quantile > 0 else []
) %}
{#- "stability=by-id-20" names the stability estimate (20 resamples drawn
    by customer id), so that no scan of the earlier estimate is reused -#}
{% set scan_settings = (
    input_settings + scan_only_settings + ["stability=by-id-20"]
) | join("|") %}
{#- The scan text of models stored before segmentation_models kept their
    k_scan_key: no clipping, and the five-resample stability estimate. -#}
{% set legacy_scan_settings = (
    base_settings + scan_only_settings
) | join("|") %}
{% set dbscan_settings = (input_settings + [
    "seed=" ~ var("random_state"),
    "dbscan_max_rows=" ~ var("dbscan_max_rows"),
]) | join("|") %}
{#- A refit: false build standardizes with the published model's scaling,
    whatever the vars say: its DBSCAN cache is that model's. -#}
{% set frozen_id = none if refit() else frozen_model_id() %}
{% if frozen_id is not none %}
    {% set dbscan_settings = dbscan_settings ~ "|scored_with=" ~ frozen_id %}
{% endif %}

with

customers_imputed as (

    select * from {{ ref("int_customers_imputed") }}

),

fingerprint as (

    select
        count(*) as n_rows,
        md5(
            cast(
                sum({{ row_hash(["cust_id"] + cc_feature_names()) }})
                as string
            ) || ':' || count(*)
        ) as input_fingerprint
    from customers_imputed

),

{% if not refit() %}
    published_model as (

        -- refit: false keeps the k scan that chose the published model's k:
        -- the one stored with it, or for a model stored before that, the
        -- key its scan had then
        select
            coalesce(
                k_scan_key,
                left({{ sha256_hex(
                    "input_fingerprint || '|" ~ legacy_scan_settings ~ "'"
                ) }}, 16)
            ) as fit_k_scan_key
        from {{ published_state("segmentation_models") }}
        where model_id = '{{ frozen_id }}'

    ),
{% endif %}

{#- What the k scan and DBSCAN depend on: their hashes are the cache keys. -#}
{% set k_scan_text = (
    "fingerprint.input_fingerprint || '|" ~ scan_settings ~ "'"
) %}
{% set dbscan_text = (
    "fingerprint.input_fingerprint || '|" ~ dbscan_settings ~ "'"
) %}

final as (

    select
        fingerprint.n_rows,
        fingerprint.input_fingerprint,
        {% if refit() %}
            left({{ sha256_hex(k_scan_text) }}, 16) as k_scan_key,
        {% else %}
            published_model.fit_k_scan_key as k_scan_key,
        {% endif %}
        left({{ sha256_hex(dbscan_text) }}, 16) as dbscan_key
    from fingerprint
    {% if not refit() %}
        cross join published_model
    {% endif %}

)

select * from final
