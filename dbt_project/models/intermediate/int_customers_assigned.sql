{#- Every valid customer to its nearest centroid (macro nearest_centroid). -#}
with

customers_standardized as (

    select * from {{ ref("int_customers_standardized") }}

),

segment_centroids as (

    select * from {{ ref("segment_centroids") }}

),

segmentation_models as (

    select * from {{ ref("int_kmeans_fit") }}

),

assigned as (

    {{ nearest_centroid(
        "customers_standardized",
        "segment_centroids",
        model_feature_names(),
        fitted_segment_ids(),
        "(select max(membership_temperature) from segmentation_models)",
    ) }}

)

select * from assigned
