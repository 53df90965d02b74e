"""Fit KMeans on the standardized customers (thin shell, see cc_segmentation)."""

from cc_segmentation.kmeans import fit_segmentation


def model(dbt, session):
    dbt.config(materialized="table")
    feature_scaling = dbt.ref("feature_scaling").df()
    standardized = dbt.ref("int_customers_standardized").df()
    fingerprint = dbt.ref("int_fit_input_fingerprint").df()
    k_selection = dbt.ref("int_k_selection_scores").df()

    # n_clusters 'auto' takes the k chosen in k_selection; a number wins.
    n_clusters = str(dbt.config.get("n_clusters")).strip()
    if n_clusters == "auto":
        n_clusters = k_selection.loc[k_selection["is_chosen"], "k"].iloc[0]
    return fit_segmentation(
        standardized,
        feature_scaling,
        input_fingerprint=str(fingerprint["input_fingerprint"].iloc[0]),
        n_clusters=int(n_clusters),
        n_init=int(dbt.config.get("n_init")),
        random_state=int(dbt.config.get("random_state")),
        max_iter=int(dbt.config.get("max_iter")),
    )
