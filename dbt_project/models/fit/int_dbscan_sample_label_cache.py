"""DBSCAN on the fixed-seed sample (thin shell, see segmentation.outliers).

Exact DBSCAN on the first dbscan_max_rows customers of int_customers_sampled,
which is every customer on smaller files, rows sorted by cust_id.  Its core
samples label every other customer in int_dbscan_rule_labels.

Incremental: every run is kept under its dbscan_key (input fingerprint and
settings, int_fit_input_fingerprint); a build whose key is stored reuses it
and says so in the log.  int_dbscan_sample_labels holds the current key's rows.
"""

from cc_segmentation import import_lock

with import_lock:  # one thread imports at a time: see cc_segmentation.import_lock
    import pandas as pd

    from cc_segmentation.segmentation.warehouse import (
        feature_matrix,
        log,
        model_features,
        model_output,
        relation,
        reuse_if_stored,
        sample_rows,
    )


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="dbscan_key",
        on_schema_change="fail",
    )
    fingerprint = relation(dbt.ref("int_fit_input_fingerprint"))
    key = fingerprint.project("dbscan_key").fetchall()[0][0]
    stored = reuse_if_stored(
        dbt,
        session,
        "dbscan_key",
        key,
        f"DBSCAN {key}: same input and settings as stored, reused",
    )
    if stored is not None:
        return stored

    with import_lock:
        from cc_segmentation.segmentation.outliers import dbscan_outliers

    features = model_features(dbt.ref("int_feature_scaling"))
    max_rows = int(dbt.config.get("dbscan_max_rows"))
    matrix, sample = feature_matrix(
        sample_rows(dbt.ref("int_customers_sampled"), max_rows), features, ("cust_id",)
    )
    result = dbscan_outliers(matrix)
    log(
        f"DBSCAN {key} on {len(matrix):,} sampled customers: eps {result.eps:.3f}, "
        f"min_samples {result.min_samples}, {int(result.is_core.sum()):,} core "
        f"samples, {int(result.is_noise.sum()):,} noise"
    )
    labels = pd.DataFrame(
        {
            "dbscan_key": key,
            "cust_id": sample["cust_id"],
            "dbscan_label": result.labels,
            "is_dbscan_core": result.is_core,
            "dbscan_eps": result.eps,
            "dbscan_min_samples": result.min_samples,
        }
    )
    return model_output(session, labels)
