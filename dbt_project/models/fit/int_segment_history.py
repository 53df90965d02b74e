"""Stable segment ids and personas across fits (see segmentation.identity).

Incremental: each build replaces the current model's rows and keeps every
earlier fit's, so the next fit can be matched to this one.  A refit: false
build scores with the published model, whose rows it leaves as they are.
"""

from cc_segmentation import import_lock

with import_lock:  # one thread imports at a time: see cc_segmentation.import_lock
    from cc_segmentation.segmentation.identity import track_segments
    from cc_segmentation.segmentation.warehouse import (
        model_output,
        no_rows,
        query,
        relation,
    )


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key="model_id",
    )
    if str(dbt.config.get("refit")).strip().lower() == "false" and dbt.is_incremental:
        # the published model's rows are stored already: keep them as they are
        return no_rows(session, dbt.this)
    fit = relation(dbt.ref("int_kmeans_fit")).df()
    signatures = relation(dbt.ref("persona_signatures")).df()
    crm_strategies = relation(dbt.ref("crm_strategies")).df()
    history = None
    if dbt.is_incremental:
        history = query(session, f"select * from {dbt.this}").df()
    segments = track_segments(
        fit[["segment_id", "feature_name", "feature_position", "centroid_z"]],
        history,
        signatures,
        crm_strategies["persona_id"].tolist(),
        model_id=fit["model_id"].iloc[0],
        fitted_at=fit["fitted_at"].iloc[0],
        max_match_distance=float(dbt.config.get("identity_max_match_distance")),
    )
    return model_output(session, segments)
