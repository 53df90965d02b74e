{#-
    The current KMeans fit: the rows of int_kmeans_fits for the current
    input and settings (int_kmeans_fit_settings).  Centroids in long form,
    segments numbered 1..k by size, largest first, with the fit's
    model-level figures repeated on every row.
-#}
with

kmeans_fits as (

    select * from {{ ref("int_kmeans_fits") }}

),

kmeans_fit_settings as (

    select * from {{ ref("int_kmeans_fit_settings") }}

),

final as (

    select
        kmeans_fits.model_id,
        kmeans_fits.segment_id,
        kmeans_fits.feature_name,
        kmeans_fits.feature_position,
        kmeans_fits.centroid_z,
        kmeans_fits.segment_size,
        kmeans_fits.n_clusters,
        kmeans_fits.features,
        kmeans_fits.n_init,
        kmeans_fits.random_state,
        kmeans_fits.max_iter,
        kmeans_fits.inertia,
        kmeans_fits.membership_temperature,
        kmeans_fits.n_iter,
        kmeans_fits.n_rows,
        kmeans_fits.input_fingerprint,
        kmeans_fits.fitted_at,
        kmeans_fits.n_sample_rows,
        kmeans_fits.n_refinement_passes
    from kmeans_fits
    inner join kmeans_fit_settings
        on kmeans_fits.model_id = kmeans_fit_settings.model_id

)

select * from final
order by segment_id, feature_position
