{#-
    One row: everything the KMeans fit depends on, and the model id that
    hashes it.  The same input and settings give the same model_id, so a
    rebuild finds the fit it already made (int_kmeans_sample_fits,
    int_kmeans_fits) instead of fitting again.

    n_clusters 'auto' takes the k chosen by the current k scan; a number
    wins.  fit_max_rows and kmeans_refinement_passes only change the fit
    when there are more customers than fit_max_rows, so only then are they
    part of the id (a file that is fitted on every row keeps its id).

    A refit: false build takes the published model's settings as stored in
    segmentation_models and int_kmeans_fits (macros/registry/frozen_model.sql), so
    every fit step finds that model stored and reuses it.
-#}
-- {{ reads_published_model(["int_kmeans_fits"]) }}
{% set n_clusters = var("n_clusters") | string | trim %}

with

fit_input_fingerprint as (

    select * from {{ ref("int_fit_input_fingerprint") }}

),

k_selection_scores as (

    select * from {{ ref("int_k_selection_scores") }}

),

feature_scaling as (

    select * from {{ ref("int_feature_scaling") }}

),

chosen_k as (

    {% if n_clusters == "auto" %}
        select k_selection_scores.k as n_clusters
        from k_selection_scores
        inner join fit_input_fingerprint
            on k_selection_scores.k_scan_key = fit_input_fingerprint.k_scan_key
        where k_selection_scores.is_chosen
    {% else %}
        select {{ n_clusters | int }} as n_clusters
    {% endif %}

),

model_features as (

    select
        {{ ordered_string_agg("feature_name", "','", "feature_position") }}
            as features,
        {{ ordered_string_agg("transform", "','", "feature_position") }}
            as transforms,
        {{ ordered_string_agg("impute_method", "','", "feature_position") }}
            as impute_methods
    from feature_scaling

),

settings as (

    select
        fit_input_fingerprint.input_fingerprint,
        fit_input_fingerprint.n_rows,
        model_features.features,
        model_features.transforms,
        model_features.impute_methods,
        cast(chosen_k.n_clusters as integer) as n_clusters,
        {{ var("n_init") | int }} as n_init,
        {{ var("random_state") | int }} as random_state,
        {{ var("max_iter") | int }} as max_iter,
        {{ var("fit_max_rows") | int }} as fit_max_rows,
        {{ var("kmeans_refinement_passes") | int }}
            as kmeans_refinement_passes
    from fit_input_fingerprint
    cross join model_features
    cross join chosen_k

),

{#- Every setting that makes a fit differ: its hash is the model_id.
    Clipping (scaling_clip_quantile) changes every z-score; when it is off
    the text, so the id, is what it was before clipping existed. -#}
{% set clip_quantile = var("scaling_clip_quantile") | float %}
{% set clip_setting = "|clip=" ~ clip_quantile if clip_quantile > 0 else "" %}
{% set model_settings_text %}
            input_fingerprint
            || '|' || features
            || '|' || transforms
            || '|' || impute_methods
            || '|k=' || n_clusters
            || '|n_init=' || n_init
            || '|seed=' || random_state
            || '|max_iter=' || max_iter
            || '{{ clip_setting }}'
            || case
                when n_rows > fit_max_rows
                    then
                        '|fit_max_rows=' || fit_max_rows
                        || '|passes=' || kmeans_refinement_passes
                else ''
            end
{% endset %}

identified_settings as (

    select
        *,
        left(
            {{ sha256_hex(model_settings_text) }},
            16
        ) as model_id
    from settings

),

{% if not refit() %}
    {% set frozen_id = frozen_model_id() %}
    stored_model as (

        select * from {{ published_state("segmentation_models") }}
        where model_id = '{{ frozen_id }}'

    ),

    stored_fit as (

        select distinct
            model_id,
            n_sample_rows,
            n_refinement_passes
        from {{ published_state("int_kmeans_fits") }}
        where model_id = '{{ frozen_id }}'

    ),
{% endif %}

final as (

    {% if not refit() %}
        select
            stored_model.model_id,
            stored_model.input_fingerprint,
            stored_model.n_rows,
            stored_model.features,
            stored_model.n_clusters,
            stored_model.n_init,
            stored_model.random_state,
            stored_model.max_iter,
            -- the sample the model was fitted on, whatever the var says now
            stored_fit.n_sample_rows as fit_max_rows,
            stored_fit.n_refinement_passes as kmeans_refinement_passes,
            stored_fit.n_sample_rows,
            stored_model.model_id
            || ':{{ var("silhouette_max_rows") | int }}' as silhouette_key
        from stored_model
        inner join stored_fit
            on stored_model.model_id = stored_fit.model_id
    {% else %}
        select
            model_id,
            input_fingerprint,
            n_rows,
            features,
            n_clusters,
            n_init,
            random_state,
            max_iter,
            fit_max_rows,
            kmeans_refinement_passes,
            least(n_rows, fit_max_rows) as n_sample_rows,
            -- key of the model's silhouette (int_silhouette_score_cache)
            model_id
            || ':{{ var("silhouette_max_rows") | int }}' as silhouette_key
        from identified_settings
    {% endif %}

)

select * from final
