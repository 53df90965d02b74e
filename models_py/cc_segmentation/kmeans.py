"""Fit KMeans on the standardized customer matrix and describe the fit.

The dbt Python model ``int_kmeans_fit`` is a thin shell over
:func:`fit_segmentation`; everything here is a pure function of its inputs.
"""

from __future__ import annotations

import hashlib
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


def model_matrix(
    standardized: pd.DataFrame, feature_scaling: pd.DataFrame
) -> tuple[pd.Series, list[str], np.ndarray]:
    """The model's input, in a fixed row and column order.

    Parameters
    ----------
    standardized : DataFrame
        ``cust_id`` and one ``<feature>_z`` column per model feature.
    feature_scaling : DataFrame
        The fit-state table; ``feature_position`` orders the features.

    Returns
    -------
    cust_ids : Series
        Customer ids, sorted: row order of the input never matters.
    features : list of str
        Feature names in model order.
    matrix : ndarray of shape (n_rows, n_features)
    """
    features = feature_scaling.sort_values("feature_position")["feature_name"].tolist()
    rows = standardized.sort_values("cust_id", kind="stable", ignore_index=True)
    matrix = rows[[f"{f}_z" for f in features]].to_numpy(dtype=np.float64)
    return rows["cust_id"], features, matrix


def fit_segmentation(
    standardized: pd.DataFrame,
    feature_scaling: pd.DataFrame,
    *,
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
    standardized : DataFrame
        ``cust_id`` and one ``<feature>_z`` column per model feature.
    feature_scaling : DataFrame
        The fit-state table: ``feature_name`` and ``feature_position`` give
        the model's features and their order; ``impute_method`` and
        ``transform`` go into the model id.
    input_fingerprint : str
        Identifies the fitted data (int_fit_input_fingerprint); with the
        settings it makes the model id, so the same input and settings give
        the same id.
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
        ``input_fingerprint``, ``fitted_at``.
    """
    scaling = feature_scaling.sort_values("feature_position")
    _, features, matrix = model_matrix(standardized, feature_scaling)
    fit = fit_kmeans(
        matrix,
        n_clusters,
        n_init=n_init,
        random_state=random_state,
        max_iter=max_iter,
    )
    settings = "|".join(
        [
            input_fingerprint,
            ",".join(features),
            ",".join(scaling.get("transform", pd.Series(dtype=str)).astype(str)),
            ",".join(scaling.get("impute_method", pd.Series(dtype=str)).astype(str)),
            f"k={n_clusters}|n_init={n_init}|seed={random_state}|max_iter={max_iter}",
        ]
    )
    model_id = hashlib.sha256(settings.encode()).hexdigest()[:16]
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
