"""PCA of the standardized matrix, for the 2-D picture of the segments.

The covariance matrix is computed in SQL over every customer
(``int_feature_covariance``); only its eigen-decomposition happens here, so
no customer row ever reaches Python.  This is what scikit-learn's own
``PCA(svd_solver="covariance_eigh")`` does, and what its default solver
picks for a tall matrix with few features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def pca_from_covariance(
    covariance: np.ndarray,
    means: np.ndarray,
    features: list[str],
    n_components: int = 2,
) -> pd.DataFrame:
    """Principal components from a sample covariance matrix.

    Components, their signs and explained variances are those of
    :class:`sklearn.decomposition.PCA` fitted on the rows the covariance was
    computed from: eigenvectors of the covariance by decreasing eigenvalue,
    each signed so that its largest loading in absolute value is positive
    (``svd_flip(u_based_decision=False)``).  A customer's coordinate on
    component ``c`` is ``sum_f (z_f - center_f) * loading_cf``, which is
    what :meth:`sklearn.decomposition.PCA.transform` computes.

    Parameters
    ----------
    covariance : ndarray of shape (n_features, n_features)
        Sample covariance (``ddof=1``) of the standardized features.
    means : ndarray of shape (n_features,)
        The features' means: the centre subtracted before projecting.
    features : list of str
        Feature names, in the matrix's order.
    n_components : int
        Components kept (2 for a scatter plot).

    Returns
    -------
    DataFrame
        One row per (component, feature): ``component`` (1-based),
        ``feature_name``, ``feature_position``, ``loading``, ``center``,
        ``explained_variance`` and ``explained_variance_ratio`` of the
        component.
    """
    covariance = np.asarray(covariance, dtype=np.float64)
    n_features = len(features)
    if covariance.shape != (n_features, n_features):
        raise ValueError(
            f"covariance must be {n_features} x {n_features}, got {covariance.shape}"
        )
    if not 1 <= n_components <= n_features:
        raise ValueError(f"n_components must be 1..{n_features}, got {n_components}")
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    # eigh sorts ascending; rounding can make a zero eigenvalue negative
    explained = np.clip(eigenvalues[::-1], 0.0, None)
    components = eigenvectors[:, ::-1].T
    # scikit-learn's svd_flip(u_based_decision=False), in numpy: importing
    # scikit-learn would cost every build a second (test_projection checks
    # the signs against PCA itself)
    largest = components[np.arange(n_features), np.abs(components).argmax(axis=1)]
    components = components * np.sign(largest)[:, np.newaxis]
    ratio = explained / explained.sum()
    kept = slice(0, n_components)
    return pd.DataFrame(
        {
            "component": np.repeat(np.arange(1, n_components + 1), n_features),
            "feature_name": np.tile(features, n_components),
            "feature_position": np.tile(np.arange(1, n_features + 1), n_components),
            "loading": components[kept].ravel(),
            "center": np.tile(np.asarray(means, dtype=np.float64), n_components),
            "explained_variance": np.repeat(explained[kept], n_features),
            "explained_variance_ratio": np.repeat(ratio[kept], n_features),
        }
    )
