"""Fit KMeans on the standardized customers (thin shell, see cc_segmentation)."""

from cc_segmentation.kmeans import fit_segmentation


def model(dbt, session):
    dbt.config(materialized="table")
    feature_scaling = dbt.ref("feature_scaling").df()
    standardized = dbt.ref("int_customers_standardized").df()
    fingerprint = dbt.ref("int_fit_input_fingerprint").df()
    return fit_segmentation(
        standardized,
        feature_scaling,
        input_fingerprint=str(fingerprint["input_fingerprint"].iloc[0]),
        n_clusters=int(dbt.config.get("n_clusters")),
        n_init=int(dbt.config.get("n_init")),
        random_state=int(dbt.config.get("random_state")),
        max_iter=int(dbt.config.get("max_iter")),
    )
