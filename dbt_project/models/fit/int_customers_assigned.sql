{#-
    Every valid customer to its nearest centroid (scoring chain step
    chain_assigned, shared with scoring_query; macro nearest_centroid).
-#}
with

customers_standardized as (

    select * from {{ ref("int_customers_standardized") }}

),

segment_centroids as (

    select * from {{ ref("int_segment_centroids") }}

),

segmentation_models as (

    select * from {{ ref("int_kmeans_fit") }}

),

assigned as (

    {{ chain_assigned(
        "customers_standardized",
        "segment_centroids",
        "segmentation_models",
        ["cust_id", "n_clipped_features"],
    ) }}

)

select * from assigned
