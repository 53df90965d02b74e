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

    select kmeans_fits.*
    from kmeans_fits
    inner join kmeans_fit_settings
        on kmeans_fits.model_id = kmeans_fit_settings.model_id

)

select * from final
order by segment_id, feature_position
