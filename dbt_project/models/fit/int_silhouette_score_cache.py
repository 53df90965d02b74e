"""Silhouette of the fitted segmentation (thin shell, see segmentation.selection).

Silhouette compares every pair of rows, so it runs on the fixed-seed sample:
every customer up to silhouette_max_rows (exact), that many above.

Incremental: every score is kept under its silhouette_key (the fit's
model_id and silhouette_max_rows, int_kmeans_fit_settings); a build whose
key is stored reuses it and says so in the log.  int_silhouette_scores
holds the current key's rows.
"""

from cc_segmentation import import_lock

with import_lock:  # one thread imports at a time: see cc_segmentation.import_lock
    from cc_segmentation.segmentation.warehouse import (
        feature_matrix,
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
        unique_key="silhouette_key",
        on_schema_change="fail",
    )
    max_rows = int(dbt.config.get("silhouette_max_rows"))
    settings = relation(dbt.ref("int_kmeans_fit_settings"))
    ((key,),) = settings.project("silhouette_key").fetchall()
    stored = reuse_if_stored(
        dbt,
        session,
        "silhouette_key",
        key,
        f"silhouette {key}: same fit and sample as stored, reused",
    )
    if stored is not None:
        return stored

    with import_lock:
        from cc_segmentation.segmentation.selection import silhouette_table

    features = model_features(dbt.ref("int_feature_scaling"))
    assigned = relation(dbt.ref("int_customers_assigned")).project(
        "cust_id", "segment_id"
    )
    sample = relation(dbt.ref("int_customers_sampled")).join(assigned, "cust_id")
    matrix, columns = feature_matrix(
        sample_rows(sample, max_rows), features, ("segment_id",)
    )
    table = silhouette_table(matrix, columns["segment_id"])
    table.insert(0, "silhouette_key", key)
    return model_output(session, table)
