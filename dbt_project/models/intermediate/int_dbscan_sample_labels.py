"""DBSCAN on the fixed-seed sample (thin shell, see cc_segmentation.outliers).

Exact DBSCAN on the first dbscan_max_rows customers of int_customers_sampled,
which is every customer on smaller files, rows sorted by cust_id.  Its core
samples label every other customer in int_dbscan_rule_labels.
"""

import numpy as np
import pandas as pd

from cc_segmentation.outliers import dbscan_outliers
from cc_segmentation.warehouse import log, model_features


def model(dbt, session):
    dbt.config(materialized="table")
    features = model_features(dbt.ref("feature_scaling"))
    max_rows = int(dbt.config.get("dbscan_max_rows"))
    columns = [f"{feature}_z" for feature in features]
    sample = (
        dbt.ref("int_customers_sampled")
        .filter(f"sample_rank <= {max_rows}")
        .order("cust_id")
        .project(", ".join(["cust_id", *(f'"{column}"' for column in columns)]))
        .fetchnumpy()
    )
    matrix = np.column_stack(
        [np.asarray(sample[column], dtype=np.float64) for column in columns]
    )
    result = dbscan_outliers(matrix)
    log(
        f"DBSCAN on {len(matrix):,} sampled customers: eps {result.eps:.3f}, "
        f"min_samples {result.min_samples}, {int(result.is_core.sum()):,} core "
        f"samples, {int(result.is_noise.sum()):,} noise"
    )
    return pd.DataFrame(
        {
            "cust_id": sample["cust_id"],
            "dbscan_label": result.labels,
            "is_dbscan_core": result.is_core,
            "dbscan_eps": result.eps,
            "dbscan_min_samples": result.min_samples,
        }
    )
