"""KMeans on the fixed-seed sample (thin shell, see segmentation.kmeans).

Incremental: every fit is kept under its model_id (int_kmeans_fit_settings:
the input fingerprint and every setting).  A build whose model_id is
already stored reuses that fit instead of fitting again, and says so in
the log.  Up to fit_max_rows customers the sample is every customer, and
this is the final fit; above it, int_kmeans_fits refines it over every
customer in SQL.
"""

from cc_segmentation import import_lock

with import_lock:  # one thread imports at a time: see cc_segmentation.import_lock
    from cc_segmentation.segmentation.warehouse import (
        log,
        model_output,
        relation,
        reuse_if_stored,
        sample_matrix,
    )


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="model_id",
        on_schema_change="fail",
    )
    settings_rel = relation(dbt.ref("int_kmeans_fit_settings"))
    (settings,) = [
        dict(zip(settings_rel.columns, row, strict=True))
        for row in settings_rel.fetchall()
    ]
    model_id = settings["model_id"]
    stored = reuse_if_stored(
        dbt,
        session,
        "model_id",
        model_id,
        f"KMeans fit {model_id}: same input and settings as stored, reused",
    )
    if stored is not None:
        return stored

    with import_lock:
        from cc_segmentation.segmentation.kmeans import fit_segmentation

    features = settings["features"].split(",")
    matrix = sample_matrix(
        dbt.ref("int_customers_sampled"), features, int(settings["n_sample_rows"])
    )
    fit = fit_segmentation(
        matrix,
        features,
        model_id=model_id,
        input_fingerprint=settings["input_fingerprint"],
        n_clusters=int(settings["n_clusters"]),
        n_init=int(settings["n_init"]),
        random_state=int(settings["random_state"]),
        max_iter=int(settings["max_iter"]),
    )
    log(
        f"KMeans fit {model_id}: k = {settings['n_clusters']} on "
        f"{len(matrix):,} of {settings['n_rows']:,} customers"
    )
    return model_output(session, fit)
