"""Silhouette of the fitted segmentation (thin shell, see cc_segmentation.selection).

Silhouette compares every pair of rows, so it runs on the fixed-seed sample:
every customer up to silhouette_max_rows (exact), that many above.
"""

import numpy as np

from cc_segmentation.selection import silhouette_table
from cc_segmentation.warehouse import model_features


def model(dbt, session):
    dbt.config(materialized="table")
    features = model_features(dbt.ref("feature_scaling"))
    max_rows = int(dbt.config.get("silhouette_max_rows"))
    sample = (
        dbt.ref("int_customers_sampled")
        .filter(f"sample_rank <= {max_rows}")
        .join(
            dbt.ref("int_customers_assigned").project("cust_id, segment_id"), "cust_id"
        )
        .order("cust_id")
    )
    columns = sample.project(
        ", ".join(["segment_id", *(f'"{f}_z"' for f in features)])
    ).fetchnumpy()
    matrix = np.column_stack(
        [np.asarray(columns[f"{f}_z"], dtype=np.float64) for f in features]
    )
    return silhouette_table(matrix, np.asarray(columns["segment_id"]))
