"""Choosing k and judging a segmentation with scikit-learn's metrics.

The dbt Python models ``int_k_selection_scores`` and ``int_silhouette_score_cache``
are thin shells over :func:`evaluate_k_range`, :func:`choose_k`,
:func:`stability` and :func:`silhouette_table`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from itertools import combinations
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_samples,
    silhouette_score,
)

#: Silhouette is O(n^2); above this many rows it is computed on a
#: fixed-seed sample of this size (scikit-learn's ``sample_size``).
SILHOUETTE_MAX_ROWS = 10_000

#: MiB scikit-learn may use per chunk of pairwise distances (default 1024):
#: a smaller chunk keeps the build's peak memory down at no cost in speed.
WORKING_MEMORY_MIB = 128


def silhouette(
    matrix: np.ndarray,
    labels: np.ndarray,
    *,
    max_rows: int = SILHOUETTE_MAX_ROWS,
    random_state: int = 0,
) -> float:
    """Mean silhouette: exact up to ``max_rows`` rows, sampled above.

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
    labels : ndarray of shape (n_rows,)
    max_rows : int
        Largest row count scored exactly.
    random_state : int
        Seed of the sample drawn above ``max_rows``.

    Returns
    -------
    float
        :func:`sklearn.metrics.silhouette_score`, with
        ``sample_size=max_rows`` when there are more rows.
    """
    if len(matrix) <= max_rows:
        return float(silhouette_score(matrix, labels))
    return float(
        silhouette_score(
            matrix, labels, sample_size=max_rows, random_state=random_state
        )
    )


#: Resampled fits behind each stability estimate.  With the model's own
#: restarts (n_init) this keeps the estimate's standard error near 0.003 at
#: the real file's chosen k (README "Choosing k").
STABILITY_RESAMPLES = 20

#: Share of customers in each resample.
STABILITY_FRACTION = 0.8


class StabilityEstimate(NamedTuple):
    """A stability estimate and its jackknife standard error."""

    value: float
    standard_error: float
    n_resamples: int


def resample_members(
    ids: np.ndarray,
    n_resamples: int = STABILITY_RESAMPLES,
    *,
    fraction: float = STABILITY_FRACTION,
    random_state: int = 42,
) -> np.ndarray:
    """Which customers each resample holds, drawn by a hash of their id.

    Customer ``c`` is in resample ``i`` when the first 8 bytes of
    BLAKE2b(``"{random_state}:{i}:{c}"``), read as a fraction of 2**64, are
    below ``fraction``.  Membership depends on nothing but the customer's own
    id: removing, adding or reordering other customers leaves it unchanged
    (drawing by row position would reshuffle every resample).

    Parameters
    ----------
    ids : ndarray of shape (n_rows,)
        Customer ids (compared as text).
    n_resamples : int
    fraction : float
        Expected share of customers in each resample, in (0, 1).
    random_state : int

    Returns
    -------
    ndarray of bool, shape (n_resamples, n_rows)
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    threshold = int(fraction * 2**64)
    members = np.empty((n_resamples, len(ids)), dtype=bool)
    for i in range(n_resamples):
        prefix = f"{random_state}:{i}:"
        members[i] = [
            int.from_bytes(
                hashlib.blake2b(f"{prefix}{c}".encode(), digest_size=8).digest(),
                "little",
            )
            < threshold
            for c in ids
        ]
    return members


def stability(
    matrix: np.ndarray,
    n_clusters: int,
    *,
    ids: np.ndarray | None = None,
    n_resamples: int = STABILITY_RESAMPLES,
    fraction: float = STABILITY_FRACTION,
    n_init: int = 10,
    random_state: int = 42,
    max_iter: int = 300,
) -> StabilityEstimate:
    """How reproducible the segmentation is under resampling.

    KMeans (the model's settings, seeds ``random_state + i``) is fitted on
    ``n_resamples`` resamples of about ``fraction`` of the customers, drawn
    by :func:`resample_members`; each fit labels every row; the estimate is
    the mean adjusted Rand index over all pairs of those labelings (1 = the
    same partition every time, about 0 = no better than chance).  Its
    standard error is the jackknife's over resamples (leave one resample
    out, recompute the mean over the remaining pairs).

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
    n_clusters : int
    ids : ndarray of shape (n_rows,), optional
        Customer ids behind the resamples; row positions when omitted.

    Returns
    -------
    StabilityEstimate
    """
    if n_resamples < 3:
        raise ValueError(f"n_resamples must be at least 3, got {n_resamples}")
    if ids is None:
        ids = np.arange(len(matrix))
    members = resample_members(
        ids, n_resamples, fraction=fraction, random_state=random_state
    )
    labelings = []
    for i, rows in enumerate(members):
        if rows.sum() <= n_clusters:
            raise ValueError(
                f"resample {i} holds {int(rows.sum())} customers, too few for "
                f"k = {n_clusters}"
            )
        kmeans = KMeans(
            n_clusters=n_clusters,
            n_init=n_init,
            random_state=random_state + i,
            max_iter=max_iter,
        ).fit(matrix[rows])
        labelings.append(kmeans.predict(matrix))
    ari = np.full((n_resamples, n_resamples), np.nan)
    for a, b in combinations(range(n_resamples), 2):
        ari[a, b] = ari[b, a] = adjusted_rand_score(labelings[a], labelings[b])
    upper = ari[np.triu_indices(n_resamples, 1)]
    left_out = np.array(
        [
            np.delete(np.delete(ari, j, 0), j, 1)[
                np.triu_indices(n_resamples - 1, 1)
            ].mean()
            for j in range(n_resamples)
        ]
    )
    jackknife = np.sqrt(
        (n_resamples - 1) / n_resamples * ((left_out - left_out.mean()) ** 2).sum()
    )
    return StabilityEstimate(float(upper.mean()), float(jackknife), n_resamples)


def evaluate_k_range(
    matrix: np.ndarray,
    ks: list[int],
    *,
    n_init: int = 10,
    random_state: int = 42,
    max_iter: int = 300,
    silhouette_max_rows: int = SILHOUETTE_MAX_ROWS,
) -> pd.DataFrame:
    """Fit KMeans at every k and score each fit.

    Stability is not scored here: it costs ``STABILITY_RESAMPLES`` fits per
    k, so :func:`choose_k` estimates it only for the k its rule needs.

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
        The standardized matrix the model uses, rows in a fixed order.
    ks : list of int
        Candidate numbers of segments (each 2 <= k < n_rows).
    n_init, random_state, max_iter : int
        KMeans settings, as for the model.
    silhouette_max_rows : int
        See :func:`silhouette`; every k is scored on the same sample.

    Returns
    -------
    DataFrame
        One row per k: ``k``, ``inertia``, ``silhouette``,
        ``davies_bouldin``, ``calinski_harabasz``,
        ``smallest_segment_share``, ``n_iter``.
    """
    rows = []
    for k in ks:
        kmeans = KMeans(
            n_clusters=k, n_init=n_init, random_state=random_state, max_iter=max_iter
        ).fit(matrix)
        labels = kmeans.labels_
        rows.append(
            {
                "k": k,
                "inertia": float(kmeans.inertia_),
                "silhouette": silhouette(matrix, labels, max_rows=silhouette_max_rows),
                "davies_bouldin": float(davies_bouldin_score(matrix, labels)),
                "calinski_harabasz": float(calinski_harabasz_score(matrix, labels)),
                "smallest_segment_share": float(
                    np.bincount(labels, minlength=k).min() / len(labels)
                ),
                "n_iter": int(kmeans.n_iter_),
            }
        )
    return pd.DataFrame(rows)


#: ``k_selection.decision`` of each row, by what the rule found.
DECISIONS = {
    "chosen": "chosen: highest score among eligible k",
    "fallback": ("chosen: no k passed the gates, so the most stable k >= k_auto_min"),
    "below_min_k": "not eligible: k < k_auto_min",
    "small_segment": "not eligible: smallest segment < k_min_segment_share",
    "unstable": "not eligible: stability < k_min_stability",
    "lower_score": "eligible, lower score",
    "not_needed": "stability not estimated: a higher-scoring k passed the gates",
}


def choose_k(
    scores: pd.DataFrame,
    *,
    stability_of: Callable[[int], StabilityEstimate] | None = None,
    min_k: int = 4,
    min_stability: float = 0.9,
    min_segment_share: float = 0.05,
) -> pd.DataFrame:
    """Pick k by the project's documented rule.

    1. A k is *eligible* when it is at least ``min_k`` (the CRM playbook
       has at least four distinct actions: rewards, balance transfers, risk
       review, re-engagement; fewer segments cannot carry them), its
       segmentation is stable (``stability >= min_stability``: the same
       partition keeps coming back on resamples) and usable
       (``smallest_segment_share >= min_segment_share``: no segment too
       small to run a campaign on).
    2. Silhouette (higher is better) and Davies-Bouldin (lower is better)
       are each scaled to [0, 1] over all scanned k, 1 being the best value
       of the range; a k's ``score`` is the mean of the two.  The eligible k
       with the highest score wins, ties going to the smaller k.  Scaling
       over the whole range (rather than ranking) lets a difference weigh
       what it measures: a silhouette 0.00003 higher does not outvote a
       Davies-Bouldin 0.2 lower.
    3. If no k is eligible, the most stable k >= ``min_k`` wins (among
       those whose smallest segment passes, if any do; ties to the smaller
       k), never an end of the range by score alone.

    Stability is estimated lazily: the k passing the other two gates are
    visited by score, best first, and the first stable one wins, so the k
    after it need no estimate (``stability`` NULL, ``is_eligible`` NULL).
    The choice is the one a full table would give.

    Inertia (the elbow) and Calinski-Harabasz are reported but do not vote:
    inertia always falls with k, and Calinski-Harabasz falls with k on this
    kind of data, so either would just pick an end of the range.

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`evaluate_k_range`; may already hold ``stability``
        (then ``stability_of`` is not needed).
    stability_of : callable, optional
        ``k -> StabilityEstimate``, called at most once per k, only for the
        k whose stability the rule needs.
    min_k : int
        Smallest k the rule may choose (unless the scan has none as large).
    min_stability, min_segment_share : float
        Eligibility thresholds (a k exactly at either passes).

    Returns
    -------
    DataFrame
        ``scores`` with ``stability``, ``stability_se``, ``n_resamples``,
        ``is_eligible``, ``score``, ``is_chosen`` (exactly one True) and
        ``decision`` (:data:`DECISIONS`).
    """
    table = scores.sort_values("k", ignore_index=True).copy()
    for column in ("stability", "stability_se", "n_resamples"):
        if column not in table:
            table[column] = np.nan
    table["score"] = (
        _scaled(table["silhouette"]) + _scaled(-table["davies_bouldin"])
    ) / 2

    ks = dict(zip(table.index, table["k"].astype(int), strict=True))
    given = table["stability"].to_numpy(dtype=float)
    found: dict[int, StabilityEstimate] = {}

    def estimate(position: int) -> float:
        if not np.isnan(given[position]):
            return float(given[position])
        if position not in found:
            if stability_of is None:
                raise ValueError("scores hold no stability and no stability_of given")
            found[position] = stability_of(ks[position])
        return found[position].value

    big_enough = table["k"] >= min_k
    usable = table["smallest_segment_share"] >= min_segment_share
    candidates = table[big_enough & usable].sort_values(
        ["score", "k"], ascending=[False, True]
    )
    chosen: int | None = None
    for position in candidates.index:
        if estimate(position) >= min_stability:
            chosen = position
            break
    fallback = chosen is None
    if fallback:
        pool = table[big_enough & usable]
        if pool.empty:
            pool = table[big_enough]
        if pool.empty:
            pool = table
        stabilities = {position: estimate(position) for position in pool.index}
        chosen = max(stabilities, key=lambda p: (stabilities[p], -ks[p]))

    for position, estimated in found.items():
        table.loc[position, ["stability", "stability_se", "n_resamples"]] = [
            estimated.value,
            estimated.standard_error,
            estimated.n_resamples,
        ]
    assert chosen is not None
    known = table["stability"].notna()
    stable = table["stability"] >= min_stability
    eligible = pd.Series(pd.NA, index=table.index, dtype="boolean")
    eligible[~(big_enough & usable)] = False
    eligible[big_enough & usable & known] = stable[big_enough & usable & known]
    table["is_eligible"] = eligible
    table["is_chosen"] = table.index == chosen
    decision = pd.Series(DECISIONS["not_needed"], index=table.index)
    decision[big_enough & usable & known & stable] = DECISIONS["lower_score"]
    decision[big_enough & usable & known & ~stable] = DECISIONS["unstable"]
    decision[big_enough & ~usable] = DECISIONS["small_segment"]
    decision[~big_enough] = DECISIONS["below_min_k"]
    decision[chosen] = DECISIONS["fallback" if fallback else "chosen"]
    table["decision"] = decision
    table["n_resamples"] = table["n_resamples"].astype("Int64")
    return table


def _scaled(values: pd.Series) -> pd.Series:
    """Min-max scale to [0, 1]; a constant series scales to 1."""
    spread = values.max() - values.min()
    if spread == 0:
        return pd.Series(1.0, index=values.index)
    return (values - values.min()) / spread


def silhouette_table(matrix: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Mean silhouette of the model and of each segment.

    The other figures of ``model_metrics`` (sizes, inertia, distances,
    Davies-Bouldin, Calinski-Harabasz) are exact per-segment sums and come
    from SQL over every customer; silhouette compares every pair of rows, so
    the caller passes every customer or a fixed-seed sample of them.

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
    labels : ndarray of shape (n_rows,)
        Segment id of every row.

    Returns
    -------
    DataFrame
        First a row with ``scope = 'model'`` (``segment_id`` NaN), then one
        row per segment present, by segment id: ``silhouette`` (the mean of
        :func:`sklearn.metrics.silhouette_samples` over the rows in scope)
        and ``n_silhouette_rows`` (those rows).
    """
    with config_context(working_memory=WORKING_MEMORY_MIB):
        per_row = silhouette_samples(matrix, labels)
    rows = [
        {
            "scope": "model",
            "segment_id": np.nan,
            "silhouette": float(per_row.mean()),
            "n_silhouette_rows": len(per_row),
        }
    ]
    for segment_id in np.unique(labels):
        members = labels == segment_id
        rows.append(
            {
                "scope": "segment",
                "segment_id": segment_id,
                "silhouette": float(per_row[members].mean()),
                "n_silhouette_rows": int(members.sum()),
            }
        )
    return pd.DataFrame(rows)
