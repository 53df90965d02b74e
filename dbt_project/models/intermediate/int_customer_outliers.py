"""DBSCAN noise flag per customer (thin shell, see cc_segmentation.outliers)."""

import pandas as pd

from cc_segmentation.kmeans import model_matrix
from cc_segmentation.outliers import dbscan_outliers


def model(dbt, session):
    dbt.config(materialized="table")
    feature_scaling = dbt.ref("feature_scaling").df()
    standardized = dbt.ref("int_customers_standardized").df()
    cust_ids, _, matrix = model_matrix(standardized, feature_scaling)
    result = dbscan_outliers(matrix, max_rows=int(dbt.config.get("dbscan_max_rows")))
    return pd.DataFrame(
        {
            "cust_id": cust_ids,
            "dbscan_label": result.labels,
            "is_dbscan_noise": result.is_noise,
            "dbscan_eps": result.eps,
            "dbscan_min_samples": result.min_samples,
        }
    )
