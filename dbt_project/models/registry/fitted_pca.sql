{#-
    The PCA behind each model's 2-D map, kept for as long as the warehouse
    (incremental): per model, component (1, 2) and model feature, the
    loading and centering value, and the component's explained variance.
    Written once per model, by the first build that scores with it: the
    build that fits it, or, for a model stored before maps were kept, the
    first refit: false build that scores with it.  Every later build that
    scores with the model draws its map with these rows (pca_components),
    so a customer whose measures do not change keeps its place on the map
    from month to month.
-#}
{{ config(
    materialized="incremental",
    incremental_strategy="append",
    on_schema_change="fail",
) }}

with

pca_fit as (

    select * from {{ ref("int_pca_fit") }}

),

kmeans_fit_settings as (

    select * from {{ ref("int_kmeans_fit_settings") }}

),

final as (

    select
        kmeans_fit_settings.model_id,
        cast(pca_fit.component as bigint) as component,
        pca_fit.feature_name,
        cast(pca_fit.feature_position as bigint) as feature_position,
        pca_fit.loading,
        pca_fit.center,
        pca_fit.explained_variance,
        pca_fit.explained_variance_ratio
    from pca_fit
    cross join kmeans_fit_settings

)

select * from final
{% if is_incremental() %}
    -- a model's map is written once, by the first build that scores with it
    where model_id not in (select kept.model_id from {{ this }} as kept)
{% endif %}
order by model_id, component, feature_position
