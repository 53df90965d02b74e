"""Name segments by matching their centroids to a catalogue of personas.

A persona signature is a point in standardized feature space: how far above
(+) or below (-) the portfolio average, in standard deviations, a typical
member of that persona sits on each feature (unlisted features: 0, the
average).  Segments and personas are paired one to one so that the summed
squared distance between centroids and signatures is smallest
(:func:`scipy.optimize.linear_sum_assignment`).  Names therefore follow the
centroids, and stay right when k, the features or the data change.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment


def signature_matrix(
    signatures: pd.DataFrame, persona_ids: list[str], features: list[str]
) -> np.ndarray:
    """Pivot long-form signatures onto the catalogue and the model's features.

    Parameters
    ----------
    signatures : DataFrame
        ``persona_id``, ``feature_name``, ``signature_z``.
    persona_ids : list of str
        The catalogue (rows of the result).  A persona with no signature
        rows sits at the portfolio average (all zeros).
    features : list of str
        The model's features (columns of the result); signature entries for
        other features are ignored, unlisted features count as 0.

    Returns
    -------
    ndarray of shape (len(persona_ids), len(features))
    """
    unknown = sorted(set(signatures["persona_id"]) - set(persona_ids))
    if unknown:
        raise ValueError(f"signatures name personas not in the catalogue: {unknown}")
    wide = signatures.pivot_table(
        index="persona_id",
        columns="feature_name",
        values="signature_z",
        aggfunc="first",
    )
    wide = wide.reindex(index=persona_ids, columns=features).fillna(0.0)
    return wide.to_numpy(dtype=np.float64)


def match_personas(
    centroids: pd.DataFrame, signatures: pd.DataFrame, persona_ids: list[str]
) -> pd.DataFrame:
    """Give every segment the persona whose signature is nearest overall.

    Parameters
    ----------
    centroids : DataFrame
        Long form: ``segment_id``, ``feature_name``, ``centroid_z``.
    signatures : DataFrame
        Long form: ``persona_id``, ``feature_name``, ``signature_z``.
    persona_ids : list of str
        The persona catalogue (every persona with a CRM strategy).

    Returns
    -------
    DataFrame
        One row per segment, ordered by ``segment_id``: ``segment_id``,
        ``persona_id``, ``persona_occurrence`` (1 unless k exceeds the number
        of personas, when the catalogue is used again and the second segment
        matched to a persona gets 2, and so on, by segment id) and
        ``match_distance`` (Euclidean distance from centroid to signature).
    """
    wide = centroids.pivot(
        index="segment_id", columns="feature_name", values="centroid_z"
    ).sort_index()
    features = wide.columns.tolist()
    segment_ids = wide.index.to_numpy()
    persona_ids = sorted(persona_ids)
    if not persona_ids:
        raise ValueError("the persona catalogue is empty")
    persona_matrix = signature_matrix(signatures, persona_ids, features)

    # With more segments than personas the catalogue is repeated, so every
    # segment gets a persona; copies cost the same, which keeps it fair.
    copies = math.ceil(len(segment_ids) / len(persona_ids))
    candidates = np.tile(persona_matrix, (copies, 1))
    candidate_ids = persona_ids * copies
    diff = wide.to_numpy()[:, None, :] - candidates[None, :, :]
    cost = (diff**2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)

    matched = pd.DataFrame(
        {
            "segment_id": segment_ids[rows],
            "persona_id": [candidate_ids[c] for c in cols],
            "match_distance": np.sqrt(cost[rows, cols]),
        }
    ).sort_values("segment_id", ignore_index=True)
    matched["persona_occurrence"] = (
        matched.groupby("persona_id").cumcount().astype(np.int64) + 1
    )
    return matched[["segment_id", "persona_id", "persona_occurrence", "match_distance"]]
