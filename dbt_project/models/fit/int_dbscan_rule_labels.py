"""DBSCAN labels of the customers outside its sample (see segmentation.outliers).

Each customer that int_dbscan_sample_labels did not fit takes the label of a
core sample within eps, or is noise without one: how DBSCAN labels a new
point.  The customers are streamed from the warehouse in Arrow batches of
their key and standardized features; none on files up to dbscan_max_rows.
"""

import time

from cc_segmentation import import_lock

with import_lock:  # one thread imports at a time: see cc_segmentation.import_lock
    from cc_segmentation.segmentation.core_samples import (
        CoreSampleLabeller,
        label_batches,
    )
    from cc_segmentation.segmentation.warehouse import (
        feature_matrix,
        log,
        model_features,
        model_output,
        relation,
    )

BATCH_ROWS = 100_000


def model(dbt, session):
    dbt.config(materialized="table")
    features = model_features(dbt.ref("int_feature_scaling"))
    columns = [f"{feature}_z" for feature in features]
    sample_labels = relation(dbt.ref("int_dbscan_sample_labels"))
    ((eps,),) = sample_labels.project("dbscan_eps").distinct().fetchall()
    core_matrix, cores = feature_matrix(
        sample_labels.filter("is_dbscan_core")
        .project("cust_id", "dbscan_label")
        .join(dbt.ref("int_customers_sampled"), "cust_id")
        .order("cust_id"),
        features,
        ("dbscan_label",),
    )
    labeller = CoreSampleLabeller(core_matrix, cores["dbscan_label"], eps)
    others = (
        relation(dbt.ref("int_customers_standardized"))
        .join(sample_labels.project("cust_id"), "cust_id", how="anti")
        .project("source_row_number", *columns)
    )
    started = time.perf_counter()
    labels = label_batches(
        labeller,
        others.record_batches(BATCH_ROWS),
        key="source_row_number",
        columns=columns,
    )
    noise = labels.column("dbscan_label").to_numpy() == -1
    log(
        f"DBSCAN rule: {labels.num_rows:,} customers outside the sample labelled "
        f"by {len(cores['dbscan_label']):,} core samples in "
        f"{time.perf_counter() - started:.1f} s, {int(noise.sum()):,} noise"
    )
    return model_output(session, labels)
