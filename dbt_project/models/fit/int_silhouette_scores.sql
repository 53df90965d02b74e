{#-
    Silhouette of the current fit: the rows of int_silhouette_score_cache
    under the current silhouette_key (int_kmeans_fit_settings).
-#}
with

silhouette_score_cache as (

    select * from {{ ref("int_silhouette_score_cache") }}

),

kmeans_fit_settings as (

    select * from {{ ref("int_kmeans_fit_settings") }}

),

final as (

    select
        silhouette_score_cache.scope,
        silhouette_score_cache.segment_id,
        silhouette_score_cache.silhouette,
        silhouette_score_cache.n_silhouette_rows
    from silhouette_score_cache
    inner join kmeans_fit_settings
        on
            silhouette_score_cache.silhouette_key
            = kmeans_fit_settings.silhouette_key

)

select * from final
