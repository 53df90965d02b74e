"""Keep segment ids and names stable from one fit to the next.

A new fit numbers its clusters by size; this module maps them onto the
segments the earlier fits have seen, so that "Revolvers" next month are the same
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

    Rows of ``model_id`` itself are ignored.  Empty when there is no earlier
    fit.
    """
    earlier = _earlier(history, model_id)
    if earlier.empty:
        return earlier
    latest = earlier.sort_values(["fitted_at", "model_id"]).iloc[-1]
    live = earlier[
        (earlier["model_id"] == latest["model_id"]) & (earlier["status"] != "vanished")
    ]
    return live.sort_values("segment_id", ignore_index=True)


def known_segments(history: pd.DataFrame | None, model_id: str) -> pd.DataFrame:
    """Every segment id the history has seen live, at its latest centroid.

    One row per stable ``segment_id`` of the fits other than ``model_id``:
    the row of the latest fit (by ``fitted_at``, then ``model_id``) in which
    the segment was live, so a segment that vanished keeps the centroid it
    had when last seen.
    """
    earlier = _earlier(history, model_id)
    live = earlier[earlier["status"] != "vanished"]
    if live.empty:
        return live
    latest = live.sort_values(["fitted_at", "model_id"]).drop_duplicates(
        "segment_id", keep="last"
    )
    return latest.sort_values("segment_id", ignore_index=True)


def _earlier(history: pd.DataFrame | None, model_id: str) -> pd.DataFrame:
    if history is None or history.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    return history[history["model_id"] != model_id]


def match_centroids(distance: np.ndarray, max_distance: float) -> dict[int, int]:
    """Pair rows with columns one to one, globally, within ``max_distance``.

    :func:`scipy.optimize.linear_sum_assignment` on the distances, with
    every distance above ``max_distance`` replaced by a cost larger than any
    set of admissible pairs can add up to: the pairing has as many pairs
    within ``max_distance`` as possible and, among those, the smallest total
    distance.  A greedy pairing (closest pair first) can lose a pair that
    the global one keeps.

    Parameters
    ----------
    distance : ndarray of shape (n_rows, n_columns)
    max_distance : float
        Largest distance of a pair (inclusive).

    Returns
    -------
    dict of int to int
        Row -> column, for the pairs within ``max_distance`` only.
    """
    if distance.size == 0:
        return {}
    admissible = distance <= max_distance
    beyond = (min(distance.shape) + 1) * max(max_distance, 0.0) + 1.0
    cost = np.where(admissible, distance, beyond)
    rows, columns = linear_sum_assignment(cost)
    return {
        int(r): int(c) for r, c in zip(rows, columns, strict=True) if admissible[r, c]
    }


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

    0. A model already in ``history`` (a cached fit built again, perhaps
       after other fits) keeps its stored rows exactly: its ids, names and
       the drift baselines keyed by them do not change.
    1. No earlier fit, or none on the same features: every segment is
       ``'first fit'``; ids are the fit's (1 = largest) and personas come
       from :func:`cc_segmentation.segmentation.personas.match_personas`.
    2. Otherwise the new centroids are paired with every segment the history
       has seen (:func:`known_segments`, each at its latest centroid) by
       :func:`match_centroids`: globally, one to one, within
       ``max_match_distance`` standardized units.  A paired segment keeps
       its id, persona and name: ``'kept'`` when it was live in the latest
       earlier fit, ``'returned'`` when it had vanished.
    3. A new centroid left unpaired is a ``'new'`` segment: an id above every
       id the history holds (never one that named another segment), and a
       persona matched among those the paired segments do not use (the
       whole catalogue again when all are), with an occurrence above every
       earlier one of that persona, so its name is new too.
    4. A segment live in the latest earlier fit and left unpaired is
       reported as ``'vanished'`` (a row with no fit segment), never
       silently renumbered.

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
        the same segment (inclusive).

    Returns
    -------
    DataFrame
        ``HISTORY_COLUMNS``: one row per segment of the new fit, plus one per
        vanished segment.  ``centroid_z`` is the centroid as a JSON list in
        the order of ``features``.
    """
    if history is not None and (history["model_id"] == model_id).any():
        stored = history[history["model_id"] == model_id].reindex(
            columns=HISTORY_COLUMNS
        )
        return stored.astype(HISTORY_DTYPES).sort_values(
            ["status", "segment_id"], key=_status_order, ignore_index=True
        )
    features = _features(centroids)
    current = _wide(centroids)
    fit_ids = current.index.to_numpy()
    same_features = _earlier(history, model_id)
    same_features = same_features[same_features["features"] == ",".join(features)]
    known = known_segments(same_features, model_id)
    previous = previous_segments(same_features, model_id)

    rows: list[_SegmentRow] = []
    if known.empty:
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
        # known_segments is empty without a history
        assert history is not None
        known_matrix = np.array([json.loads(c) for c in known["centroid_z"]])
        distance = np.linalg.norm(
            current.to_numpy()[:, None, :] - known_matrix[None, :, :], axis=2
        )
        pairs = match_centroids(distance, max_match_distance)
        live_before = set(previous["segment_id"].astype(int))
        # above every id any other fit used, on any features
        others = history["model_id"] != model_id
        next_id = int(history.loc[others, "segment_id"].max()) + 1
        kept_ids: set[int] = set()
        new_fit_rows: list[tuple[int, int]] = []
        for row, fit_id in enumerate(fit_ids):
            match = pairs.get(row)
            if match is None:
                new_fit_rows.append((row, int(fit_id)))
                continue
            before = known.iloc[match]
            segment_id = int(before["segment_id"])
            kept_ids.add(segment_id)
            rows.append(
                {
                    "segment_id": segment_id,
                    "fit_segment_id": int(fit_id),
                    "status": "kept" if segment_id in live_before else "returned",
                    "previous_model_id": before["model_id"],
                    "match_distance": float(distance[row, match]),
                    "persona_id": before["persona_id"],
                    "persona_occurrence": int(before["persona_occurrence"]),
                }
            )
        rows.extend(
            _new_segments(
                new_fit_rows,
                current,
                rows,
                _earlier(history, model_id),
                signatures,
                persona_ids,
                next_id,
            )
        )
        for _, gone in previous.iterrows():
            if int(gone["segment_id"]) not in kept_ids:
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
    paired_rows: list[_SegmentRow],
    earlier: pd.DataFrame,
    signatures: pd.DataFrame,
    persona_ids: list[str],
    next_id: int,
) -> list[_SegmentRow]:
    """Ids and personas for segments that match nothing earlier."""
    if not new_fit_rows:
        return []
    used = {r["persona_id"] for r in paired_rows}
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
    # every occurrence any segment ever had, so that a new segment's name
    # ("Revolvers 2") never repeats the name of another id
    taken: dict[str, int] = {}
    named = [
        (str(p), int(o))
        for p, o in zip(
            earlier["persona_id"], earlier["persona_occurrence"], strict=True
        )
        if pd.notna(p) and pd.notna(o)
    ] + [(r["persona_id"], r["persona_occurrence"]) for r in paired_rows]
    for persona_id, occurrence in named:
        taken[persona_id] = max(taken.get(persona_id, 0), occurrence)
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
        return column.map(
            {"first fit": 0, "kept": 0, "returned": 0, "new": 0, "vanished": 1}
        )
    return column
