"""Choosing k and judging a segmentation with scikit-learn's metrics.

The dbt Python models ``int_k_selection_scores`` and ``int_silhouette_score_cache``
are thin shells over :func:`evaluate_k_range`, :func:`choose_k` and
:func:`silhouette_table`.
"""

from __future__ import annotations

from itertools import combinations

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


def stability(
    matrix: np.ndarray,
    n_clusters: int,
    *,
    n_resamples: int = 5,
    fraction: float = 0.8,
    n_init: int = 10,
    random_state: int = 42,
    max_iter: int = 300,
) -> float:
    """How reproducible the segmentation is under resampling.

    KMeans is fitted on ``n_resamples`` subsamples of ``fraction`` of the
    rows (drawn without replacement, seeds ``random_state + i``); each fit
    labels every row; the score is the mean adjusted Rand index over all
    pairs of those labelings (1 = the same partition every time, about 0 =
    no better than chance).

    Returns
    -------
    float
    """
    n_rows = len(matrix)
    size = max(n_clusters, int(round(fraction * n_rows)))
    labelings = []
    for i in range(n_resamples):
        rng = np.random.default_rng(random_state + i)
        rows = np.sort(rng.choice(n_rows, size=size, replace=False))
        kmeans = KMeans(
            n_clusters=n_clusters,
            n_init=n_init,
            random_state=random_state + i,
            max_iter=max_iter,
        ).fit(matrix[rows])
        labelings.append(kmeans.predict(matrix))
    return float(
        np.mean([adjusted_rand_score(a, b) for a, b in combinations(labelings, 2)])
    )


def evaluate_k_range(
    matrix: np.ndarray,
    ks: list[int],
    *,
    n_init: int = 10,
    random_state: int = 42,
    max_iter: int = 300,
    n_resamples: int = 5,
    stability_n_init: int = 3,
    silhouette_max_rows: int = SILHOUETTE_MAX_ROWS,
) -> pd.DataFrame:
    """Fit KMeans at every k and score each fit.

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
        The standardized matrix the model uses, rows in a fixed order.
    ks : list of int
        Candidate numbers of segments (each 2 <= k < n_rows).
    n_init, random_state, max_iter : int
        KMeans settings, as for the model.
    n_resamples, stability_n_init : int
        Subsample fits behind the stability score, and their restarts
        (fewer than the model's: the scan fits ``n_resamples`` models per k).
    silhouette_max_rows : int
        See :func:`silhouette`; every k is scored on the same sample.

    Returns
    -------
    DataFrame
        One row per k: ``k``, ``inertia``, ``silhouette``,
        ``davies_bouldin``, ``calinski_harabasz``, ``stability``,
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
                "stability": stability(
                    matrix,
                    k,
                    n_resamples=n_resamples,
                    n_init=stability_n_init,
                    random_state=random_state,
                    max_iter=max_iter,
                ),
                "smallest_segment_share": float(
                    np.bincount(labels, minlength=k).min() / len(labels)
                ),
                "n_iter": int(kmeans.n_iter_),
            }
        )
    return pd.DataFrame(rows)


def choose_k(
    scores: pd.DataFrame,
    *,
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
       small to run a campaign on).  If no k is eligible, all are.
    2. Silhouette (higher is better) and Davies-Bouldin (lower is better)
       are each scaled to [0, 1] over all scanned k, 1 being the best value
       of the range; a k's ``score`` is the mean of the two.  The eligible k
       with the highest score wins, ties going to the smaller k.  Scaling
       over the whole range (rather than ranking) lets a difference weigh
       what it measures: a silhouette 0.00003 higher does not outvote a
       Davies-Bouldin 0.2 lower.

    Inertia (the elbow) and Calinski-Harabasz are reported but do not vote:
    inertia always falls with k, and Calinski-Harabasz falls with k on this
    kind of data, so either would just pick an end of the range.

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`evaluate_k_range`.
    min_k : int
        Smallest k the rule may choose.
    min_stability, min_segment_share : float
        Eligibility thresholds.

    Returns
    -------
    DataFrame
        ``scores`` with ``is_eligible``, ``score`` (see above) and
        ``is_chosen`` (exactly one True).
    """
    table = scores.sort_values("k", ignore_index=True).copy()
    eligible = (
        (table["k"] >= min_k)
        & (table["stability"] >= min_stability)
        & (table["smallest_segment_share"] >= min_segment_share)
    )
    if not eligible.any():
        eligible[:] = True
    table["is_eligible"] = eligible
    table["score"] = (
        _scaled(table["silhouette"]) + _scaled(-table["davies_bouldin"])
    ) / 2
    best = table.loc[eligible].sort_values(["score", "k"], ascending=[False, True])
    best = best.index[0]
    table["is_chosen"] = table.index == best
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
