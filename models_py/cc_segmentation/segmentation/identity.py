"""Keep segment ids and names stable from one fit to the next.

A new fit numbers its clusters by size; this module maps them onto the
segments of the previous fit, so that "Revolvers" next month are the same
kind of customers as "Revolvers" this month.  The dbt Python model
``int_segment_history`` (incremental: one batch of rows per fit) is a thin
shell over :func:`track_segments`.
"""

from __future__ import annotations

import json
from typing import TypedDict

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from cc_segmentation.segmentation.personas import match_personas, signature_matrix

#: Column types, fixed so that the incremental table keeps one schema even
#: when a batch has only NULLs in a column (e.g. no previous model).
HISTORY_DTYPES = {
    "model_id": "string",
    "segment_id": "Int64",
    "fit_segment_id": "Int64",
    "status": "string",
    "previous_model_id": "string",
    "match_distance": "float64",
    "persona_id": "string",
    "persona_occurrence": "Int64",
    "persona_match_distance": "float64",
    "features": "string",
    "centroid_z": "string",
}


class _SegmentRow(TypedDict, total=False):
    """One row of :func:`track_segments`' result before the fit-wide columns."""

    segment_id: int
    fit_segment_id: int
    status: str
    previous_model_id: str
    match_distance: float
    persona_id: str
    persona_occurrence: int


HISTORY_COLUMNS = [
    "model_id",
    "fitted_at",
    "segment_id",
    "fit_segment_id",
    "status",
    "previous_model_id",
    "match_distance",
    "persona_id",
    "persona_occurrence",
    "persona_match_distance",
    "features",
    "centroid_z",
]


def _wide(centroids: pd.DataFrame) -> pd.DataFrame:
    """Long-form fit centroids to one row per fit segment, model feature order."""
    return (
        centroids.sort_values(["segment_id", "feature_position"])
        .pivot(index="segment_id", columns="feature_name", values="centroid_z")
        .reindex(columns=_features(centroids))
    )


def _features(centroids: pd.DataFrame) -> list[str]:
    return (
        centroids.drop_duplicates("feature_name")
        .sort_values("feature_position")["feature_name"]
        .tolist()
    )


def previous_segments(history: pd.DataFrame | None, model_id: str) -> pd.DataFrame:
    """The live segments of the latest earlier fit in ``history``.

    Rows of ``model_id`` itself are ignored, so rebuilding the same model
    gives the same answer.  Empty when there is no earlier fit.
    """
    if history is None or history.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    earlier = history[history["model_id"] != model_id]
    if earlier.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    latest = earlier.sort_values(["fitted_at", "model_id"]).iloc[-1]
    live = earlier[
        (earlier["model_id"] == latest["model_id"]) & (earlier["status"] != "vanished")
    ]
    return live.sort_values("segment_id", ignore_index=True)


def track_segments(
    centroids: pd.DataFrame,
    history: pd.DataFrame | None,
    signatures: pd.DataFrame,
    persona_ids: list[str],
    *,
    model_id: str,
    fitted_at,
    max_match_distance: float = 1.0,
) -> pd.DataFrame:
    """Give the new fit's segments stable ids and personas.

    Rules, in order:

    1. No earlier fit, or one on other features: every segment is
       ``'first fit'``; ids are the fit's (1 = largest) and personas come
       from :func:`cc_segmentation.segmentation.personas.match_personas`.
    2. Otherwise new and previous centroids are paired one to one by
       :func:`scipy.optimize.linear_sum_assignment` on their Euclidean
       distance in standardized units.  A pair closer than
       ``max_match_distance`` is the same segment (``'kept'``): it keeps the
       previous id, persona and name.
    3. A new centroid left unpaired, or paired too far away, is a ``'new'``
       segment: the next unused id, and a persona matched among those the
       kept segments do not use (the whole catalogue again when all are).
    4. A previous segment left unpaired is reported as ``'vanished'`` (a row
       with no fit segment), never silently renumbered.

    Parameters
    ----------
    centroids : DataFrame
        The new fit, long form: ``segment_id`` (the fit's numbering),
        ``feature_name``, ``feature_position``, ``centroid_z``.
    history : DataFrame or None
        Earlier output of this function (``HISTORY_COLUMNS``).
    signatures, persona_ids
        The persona catalogue, as for :func:`match_personas`.
    model_id, fitted_at
        The new fit's id and time.
    max_match_distance : float
        Largest centroid move, in standardized units, that still counts as
        the same segment.

    Returns
    -------
    DataFrame
        ``HISTORY_COLUMNS``: one row per segment of the new fit, plus one per
        vanished segment.  ``centroid_z`` is the centroid as a JSON list in
        the order of ``features``.
    """
    features = _features(centroids)
    current = _wide(centroids)
    fit_ids = current.index.to_numpy()
    previous = previous_segments(history, model_id)
    if not previous.empty and previous["features"].iloc[0] != ",".join(features):
        previous = previous.iloc[0:0]

    rows: list[_SegmentRow] = []
    if previous.empty:
        personas = match_personas(centroids, signatures, persona_ids)
        for fit_id, persona_id, occurrence in zip(
            fit_ids,
            personas["persona_id"],
            personas["persona_occurrence"],
            strict=True,
        ):
            rows.append(
                {
                    "segment_id": int(fit_id),
                    "fit_segment_id": int(fit_id),
                    "status": "first fit",
                    "persona_id": persona_id,
                    "persona_occurrence": int(occurrence),
                }
            )
    else:
        # previous_segments is empty without a history
        assert history is not None
        previous_matrix = np.array([json.loads(c) for c in previous["centroid_z"]])
        distance = np.linalg.norm(
            current.to_numpy()[:, None, :] - previous_matrix[None, :, :], axis=2
        )
        new_positions, previous_positions = linear_sum_assignment(distance)
        pairs = {
            int(new): int(before)
            for new, before in zip(new_positions, previous_positions, strict=True)
        }
        # after every id other fits use: this model's own rows (a rebuild of
        # it) must not push its new segments to the next id again
        others = history["model_id"] != model_id
        next_id = int(history.loc[others, "segment_id"].max()) + 1
        kept_previous: set[int] = set()
        new_fit_rows: list[tuple[int, int]] = []
        for row, fit_id in enumerate(fit_ids):
            match = pairs.get(row)
            if match is not None and distance[row, match] <= max_match_distance:
                before = previous.iloc[match]
                kept_previous.add(match)
                rows.append(
                    {
                        "segment_id": int(before["segment_id"]),
                        "fit_segment_id": int(fit_id),
                        "status": "kept",
                        "previous_model_id": before["model_id"],
                        "match_distance": float(distance[row, match]),
                        "persona_id": before["persona_id"],
                        "persona_occurrence": int(before["persona_occurrence"]),
                    }
                )
            else:
                new_fit_rows.append((row, int(fit_id)))
        rows.extend(
            _new_segments(new_fit_rows, current, rows, signatures, persona_ids, next_id)
        )
        for position, gone in previous.iterrows():
            if position not in kept_previous:
                rows.append(
                    {
                        "segment_id": int(gone["segment_id"]),
                        "status": "vanished",
                        "previous_model_id": gone["model_id"],
                        "persona_id": gone["persona_id"],
                        "persona_occurrence": int(gone["persona_occurrence"]),
                    }
                )

    result = pd.DataFrame(rows).reindex(columns=HISTORY_COLUMNS)
    result = result.astype({c: t for c, t in HISTORY_DTYPES.items() if c != "model_id"})
    result["model_id"] = model_id
    result["fitted_at"] = fitted_at
    result["features"] = ",".join(features)
    live = result["fit_segment_id"].notna()
    # pivot in _wide refuses duplicate segment ids, so each .loc is one row
    result.loc[live, "centroid_z"] = [
        json.dumps(current.loc[int(f)].to_numpy().tolist())
        for f in result.loc[live, "fit_segment_id"]
    ]
    result["persona_match_distance"] = _persona_distances(
        result, current, signatures, persona_ids, features
    )
    result = result.astype(HISTORY_DTYPES)
    return result.sort_values(
        ["status", "segment_id"], key=_status_order, ignore_index=True
    )


def _new_segments(
    new_fit_rows: list[tuple[int, int]],
    current: pd.DataFrame,
    kept_rows: list[_SegmentRow],
    signatures: pd.DataFrame,
    persona_ids: list[str],
    next_id: int,
) -> list[_SegmentRow]:
    """Ids and personas for segments that match nothing earlier."""
    if not new_fit_rows:
        return []
    used = {r["persona_id"] for r in kept_rows}
    free = [p for p in persona_ids if p not in used] or list(persona_ids)
    new_ids = [fit_id for _, fit_id in new_fit_rows]
    long = (
        current.loc[new_ids]
        .reset_index()
        .melt(id_vars="segment_id", var_name="feature_name", value_name="centroid_z")
    )
    free_signatures = signatures[signatures["persona_id"].isin(free)]
    personas = match_personas(long, free_signatures, free)
    persona_of = dict(zip(personas["segment_id"], personas["persona_id"], strict=True))
    taken: dict[str, int] = {}
    for r in kept_rows:
        taken[r["persona_id"]] = max(
            taken.get(r["persona_id"], 0), r["persona_occurrence"]
        )
    rows: list[_SegmentRow] = []
    for offset, fit_id in enumerate(new_ids):
        persona_id = persona_of[fit_id]
        taken[persona_id] = taken.get(persona_id, 0) + 1
        rows.append(
            {
                "segment_id": next_id + offset,
                "fit_segment_id": int(fit_id),
                "status": "new",
                "persona_id": persona_id,
                "persona_occurrence": taken[persona_id],
            }
        )
    return rows


def _persona_distances(
    result: pd.DataFrame,
    current: pd.DataFrame,
    signatures: pd.DataFrame,
    persona_ids: list[str],
    features: list[str],
) -> list[float]:
    """Distance from each live segment's centroid to its persona's signature."""
    catalogue = sorted(persona_ids)
    matrix = signature_matrix(signatures, catalogue, features)
    distances = []
    for fit_segment_id, persona_id in zip(
        result["fit_segment_id"], result["persona_id"], strict=True
    ):
        if pd.isna(fit_segment_id):
            distances.append(np.nan)
            continue
        signature = matrix[catalogue.index(persona_id)]
        centroid = current.loc[int(fit_segment_id)].to_numpy()
        distances.append(float(np.linalg.norm(centroid - signature)))
    return distances


def _status_order(column: pd.Series) -> pd.Series:
    if column.name == "status":
        return column.map({"first fit": 0, "kept": 0, "new": 0, "vanished": 1})
    return column
