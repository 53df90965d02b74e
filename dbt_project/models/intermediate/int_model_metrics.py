"""Figures of the fitted segmentation (thin shell, see cc_segmentation.selection)."""

from cc_segmentation.kmeans import model_matrix
from cc_segmentation.selection import segment_metrics


def model(dbt, session):
    dbt.config(materialized="table")
    feature_scaling = dbt.ref("feature_scaling").df()
    standardized = dbt.ref("int_customers_standardized").df()
    assigned = dbt.ref("int_customers_assigned").df()
    centroids = dbt.ref("segment_centroids").df()

    cust_ids, features, matrix = model_matrix(standardized, feature_scaling)
    labels = assigned.set_index("cust_id").loc[cust_ids, "segment_id"].to_numpy()
    wide = centroids.pivot(
        index="segment_id", columns="feature_name", values="centroid_z"
    ).sort_index()
    metrics = segment_metrics(
        matrix,
        labels,
        wide[features].to_numpy(),
        wide.index.to_numpy(),
        silhouette_max_rows=int(dbt.config.get("silhouette_max_rows")),
    )
    metrics.insert(0, "model_id", centroids["model_id"].iloc[0])
    return metrics
