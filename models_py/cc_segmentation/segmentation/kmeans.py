"""Fit KMeans on the standardized customer matrix and describe the fit.

The dbt Python model ``int_kmeans_sample_fits`` is a thin shell over
:func:`fit_segmentation`; everything here is a pure function of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans


@dataclass(frozen=True)
class KMeansFit:
    """A fitted model with segments numbered canonically.

    Attributes
    ----------
    centroids : ndarray of shape (k, n_features)
        Centroids in standardized (z) units; row ``j`` is segment ``j + 1``.
    labels : ndarray of shape (n_rows,)
        Segment id (1..k) of every row of the fitted matrix.
    inertia : float
        Sum of squared distances of rows to their centroid.
    n_iter : int
        Lloyd iterations of the best of the ``n_init`` runs.
    """

    centroids: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int


def canonical_order(labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Order KMeans clusters by size, largest first.

    KMeans numbers clusters arbitrarily; numbering them by size makes
    segment 1 the largest whatever the seed.  Equal sizes are ordered by
    their centroids, compared feature by feature.

    Parameters
    ----------
    labels : ndarray of shape (n_rows,)
        KMeans labels, 0..k-1.
    centroids : ndarray of shape (k, n_features)

    Returns
    -------
    ndarray of shape (k,)
        ``order[j]`` is the KMeans label that becomes segment ``j + 1``.
    """
    k = centroids.shape[0]
    sizes = np.bincount(labels, minlength=k)
    # np.lexsort sorts by the last key first: size (descending) decides,
    # then the centroid's coordinates from the first feature on.
    keys = [centroids[:, i] for i in range(centroids.shape[1] - 1, -1, -1)]
    return np.lexsort([*keys, -sizes])


def fit_kmeans(
    matrix: np.ndarray,
    n_clusters: int,
    *,
    n_init: int = 10,
    random_state: int = 42,
    max_iter: int = 300,
) -> KMeansFit:
    """Fit k-means++ KMeans and number segments 1..k by size.

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
        Standardized features, rows in a fixed order (the caller sorts them
        by customer id so that file order cannot change the result).
    n_clusters : int
        Number of segments, 1 <= n_clusters <= n_rows.
    n_init, random_state, max_iter : int
        Passed to :class:`sklearn.cluster.KMeans`.

    Returns
    -------
    KMeansFit
    """
    n_rows = matrix.shape[0]
    if not 1 <= n_clusters <= n_rows:
        raise ValueError(
            f"n_clusters must be between 1 and the number of valid customers "
            f"({n_rows}), got {n_clusters}"
        )
    if not np.isfinite(matrix).all():
        raise ValueError("the standardized matrix has missing or infinite values")
    kmeans = KMeans(
        n_clusters=n_clusters,
        init="k-means++",
        n_init=n_init,
        random_state=random_state,
        max_iter=max_iter,
    ).fit(matrix)
    order = canonical_order(kmeans.labels_, kmeans.cluster_centers_)
    segment_of_label = np.empty(n_clusters, dtype=np.int64)
    segment_of_label[order] = np.arange(1, n_clusters + 1)
    return KMeansFit(
        centroids=kmeans.cluster_centers_[order],
        labels=segment_of_label[kmeans.labels_],
        inertia=float(kmeans.inertia_),
        n_iter=int(kmeans.n_iter_),
    )


def distinct_profiles(matrix: np.ndarray) -> int:
    """How many different rows ``matrix`` has: the most segments it can hold."""
    return len(np.unique(matrix, axis=0))


def fit_segmentation(
    matrix: np.ndarray,
    features: list[str],
    *,
    model_id: str,
    input_fingerprint: str,
    n_clusters: int,
    n_init: int = 10,
    random_state: int = 42,
    max_iter: int = 300,
    fitted_at: datetime | None = None,
) -> pd.DataFrame:
    """Fit the segmentation and return its centroids in long form.

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
        Standardized customers in a fixed row order (sorted by customer id,
        so that file order cannot change the result): every customer, or the
        fixed-seed sample of ``int_customers_sampled``.
    features : list of str
        Feature names, in the matrix's column order.
    model_id : str
        Identifies the input and the settings (``int_kmeans_fit_settings``):
        the same input and settings give the same id.
    input_fingerprint : str
        Identifies the data (``int_fit_input_fingerprint``), recorded.
    n_clusters, n_init, random_state, max_iter : int
        KMeans settings.
    fitted_at : datetime, optional
        Fit time to record (defaults to now, UTC).

    Returns
    -------
    DataFrame
        One row per (segment, feature): ``model_id``, ``segment_id``,
        ``feature_name``, ``feature_position``, ``centroid_z``,
        ``segment_size``, plus the model-level columns ``n_clusters``,
        ``features``, ``n_init``, ``random_state``, ``max_iter``,
        ``inertia``, ``membership_temperature``, ``n_iter``, ``n_rows``,
        ``input_fingerprint``, ``fitted_at``; sizes, inertia and
        ``n_rows`` are those of the fitted rows.

    Raises
    ------
    ValueError
        When the rows hold fewer distinct customer profiles than
        ``n_clusters``: KMeans would return duplicate centroids.
    """
    profiles = distinct_profiles(matrix)
    if profiles < n_clusters:
        raise ValueError(
            f"n_clusters is {n_clusters}, but the {len(matrix):,} customers "
            f"fitted have only {profiles} distinct profiles: set n_clusters "
            f"to at most {profiles}"
        )
    fit = fit_kmeans(
        matrix,
        n_clusters,
        n_init=n_init,
        random_state=random_state,
        max_iter=max_iter,
    )
    sizes = np.bincount(fit.labels, minlength=n_clusters + 1)[1:]
    segment_ids = np.repeat(np.arange(1, n_clusters + 1), len(features))
    return pd.DataFrame(
        {
            "model_id": model_id,
            "segment_id": segment_ids,
            "feature_name": np.tile(features, n_clusters),
            "feature_position": np.tile(np.arange(1, len(features) + 1), n_clusters),
            "centroid_z": fit.centroids.ravel(),
            "segment_size": sizes[segment_ids - 1],
            "n_clusters": n_clusters,
            "features": ",".join(features),
            "n_init": n_init,
            "random_state": random_state,
            "max_iter": max_iter,
            "inertia": fit.inertia,
            # Soft membership treats the segments as an equal-weight mixture
            # of spherical Gaussians with the within-segment variance
            # sigma^2 = inertia / (n_rows * n_features); its posterior is a
            # softmax of -d^2 / (2 sigma^2), so this is the temperature.
            "membership_temperature": 2 * fit.inertia / matrix.size,
            "n_iter": fit.n_iter,
            "n_rows": matrix.shape[0],
            "input_fingerprint": input_fingerprint,
            "fitted_at": fitted_at or datetime.now(UTC).replace(tzinfo=None),
        }
    )
