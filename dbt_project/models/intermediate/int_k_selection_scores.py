"""Score every candidate k (thin shell, see cc_segmentation.selection)."""

import numpy as np

from cc_segmentation.kmeans import model_matrix
from cc_segmentation.selection import choose_k, evaluate_k_range


def model(dbt, session):
    dbt.config(materialized="table")
    feature_scaling = dbt.ref("feature_scaling").df()
    standardized = dbt.ref("int_customers_standardized").df()
    _, _, matrix = model_matrix(standardized, feature_scaling)

    # Above max_rows the scan runs on a fixed-seed sample of rows.
    max_rows = int(dbt.config.get("k_selection_max_rows"))
    if len(matrix) > max_rows:
        rows = np.random.default_rng(0).choice(len(matrix), max_rows, replace=False)
        matrix = matrix[np.sort(rows)]
    k_max = min(int(dbt.config.get("k_max")), len(matrix) - 1)
    scores = evaluate_k_range(
        matrix,
        list(range(int(dbt.config.get("k_min")), k_max + 1)),
        n_init=int(dbt.config.get("n_init")),
        random_state=int(dbt.config.get("random_state")),
        max_iter=int(dbt.config.get("max_iter")),
        silhouette_max_rows=int(dbt.config.get("k_selection_silhouette_rows")),
    )
    table = choose_k(
        scores,
        min_k=int(dbt.config.get("k_auto_min")),
        min_stability=float(dbt.config.get("k_min_stability")),
        min_segment_share=float(dbt.config.get("k_min_segment_share")),
    )
    table["n_rows"] = len(matrix)
    return table
