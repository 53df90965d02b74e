"""PCA of the standardized matrix, for the 2-D picture of the segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA


def fit_pca(
    matrix: np.ndarray, features: list[str], n_components: int = 2
) -> pd.DataFrame:
    """Fit PCA and return what SQL needs to project any customer.

    A customer's coordinate on component ``c`` is
    ``sum_f (z_f - center_f) * loading_cf`` over the model features, which
    is what :meth:`sklearn.decomposition.PCA.transform` computes.

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
        The model's standardized matrix.
    features : list of str
        Feature names, in the matrix's column order.
    n_components : int
        Components kept (2 for a scatter plot).

    Returns
    -------
    DataFrame
        One row per (component, feature): ``component`` (1-based),
        ``feature_name``, ``feature_position``, ``loading``, ``center``
        (the feature's mean, subtracted before projecting),
        ``explained_variance`` and ``explained_variance_ratio`` of the
        component.
    """
    pca = PCA(n_components=n_components).fit(matrix)
    n_features = len(features)
    return pd.DataFrame(
        {
            "component": np.repeat(np.arange(1, n_components + 1), n_features),
            "feature_name": np.tile(features, n_components),
            "feature_position": np.tile(np.arange(1, n_features + 1), n_components),
            "loading": pca.components_.ravel(),
            "center": np.tile(pca.mean_, n_components),
            "explained_variance": np.repeat(pca.explained_variance_, n_features),
            "explained_variance_ratio": np.repeat(
                pca.explained_variance_ratio_, n_features
            ),
        }
    )
