"""Score every candidate k (thin shell, see cc_segmentation.segmentation.selection).

Incremental: every scan is kept under its k_scan_key (input fingerprint and
scan settings, int_fit_input_fingerprint).  A build whose key is already
stored reuses that scan instead of running it again, and says so in the log.
A refit: false build never scans: its key is the published model's.
"""

from cc_segmentation import import_lock

with import_lock:  # one thread imports at a time: see cc_segmentation.import_lock
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
        unique_key="k_scan_key",
        # scans stored before stability_se and decision keep NULLs there
        on_schema_change="append_new_columns",
    )
    fingerprint = relation(dbt.ref("int_fit_input_fingerprint"))
    key = fingerprint.project("k_scan_key").fetchall()[0][0]
    stored = reuse_if_stored(
        dbt,
        session,
        "k_scan_key",
        key,
        f"k scan {key}: same input and settings as a stored scan, reused",
    )
    if stored is not None:
        return stored
    if str(dbt.config.get("refit")).strip().lower() == "false":
        # refit: false keeps the scan that chose the published model's k
        # (int_fit_input_fingerprint's key); scanning the new file instead
        # would describe a model that is not in use.
        raise ValueError(
            f"refit: false keeps the published model's k scan, but no scan "
            f"{key} is stored: the k-scan vars (k_min, k_max, n_init, "
            "random_state, max_iter, k_auto_min, k_min_stability, "
            "k_min_segment_share, k_selection_max_rows, "
            "k_selection_silhouette_rows) differ from the fit's. Drop them, or "
            "refit"
        )

    with import_lock:
        from cc_segmentation.segmentation.kmeans import distinct_profiles
        from cc_segmentation.segmentation.selection import (
            DECISIONS,
            choose_k,
            evaluate_k_range,
            stability,
        )

    # Above k_selection_max_rows the scan runs on the fixed-seed sample.
    features = model_features(dbt.ref("int_feature_scaling"))
    matrix, keys = feature_matrix(
        sample_rows(
            dbt.ref("int_customers_sampled"),
            int(dbt.config.get("k_selection_max_rows")),
        ),
        features,
        ("cust_id",),
    )
    # No more segments than distinct customer profiles (KMeans would give
    # duplicate centroids), and fewer than rows (the silhouette needs it).
    profiles = distinct_profiles(matrix)
    k_min = int(dbt.config.get("k_min"))
    k_max = min(int(dbt.config.get("k_max")), len(matrix) - 1, profiles)
    if k_max < k_min:
        raise ValueError(
            f"the {len(matrix):,} customers of the k scan have only {profiles}"
            f" distinct profiles: no k from k_min = {k_min} can be scanned"
        )
    n_init = int(dbt.config.get("n_init"))
    random_state = int(dbt.config.get("random_state"))
    max_iter = int(dbt.config.get("max_iter"))
    scores = evaluate_k_range(
        matrix,
        list(range(k_min, k_max + 1)),
        n_init=n_init,
        random_state=random_state,
        max_iter=max_iter,
        silhouette_max_rows=int(dbt.config.get("k_selection_silhouette_rows")),
    )
    table = choose_k(
        scores,
        # resamples drawn by customer id, fitted as the model is fitted
        stability_of=lambda k: stability(
            matrix,
            k,
            ids=keys["cust_id"],
            n_init=n_init,
            random_state=random_state,
            max_iter=max_iter,
        ),
        min_k=int(dbt.config.get("k_auto_min")),
        min_stability=float(dbt.config.get("k_min_stability")),
        min_segment_share=float(dbt.config.get("k_min_segment_share")),
    )
    table["n_rows"] = len(matrix)
    table.insert(0, "k_scan_key", key)
    chosen = table[table.is_chosen].iloc[0]
    log(
        f"k scan {key}: k = {table.k.min()}..{table.k.max()} on {len(matrix):,} "
        f"rows; k = {chosen.k} ({chosen.decision}; stability "
        f"{chosen.stability:.3f} ± {chosen.stability_se:.3f})"
    )
    if chosen.decision == DECISIONS["fallback"]:
        log(
            f"k scan {key}: no k passed the gates (k_auto_min, k_min_stability, "
            f"k_min_segment_share); k = {chosen.k} is the most stable, see "
            "k_selection.decision"
        )
    return model_output(session, table)
