"""Unit tests of segmentation.projection: a known PCA, and scikit-learn's."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.decomposition import PCA

from cc_segmentation.segmentation.projection import pca_from_covariance


def test_points_on_a_diagonal_line():
    # Points on y = x (plus a tiny orthogonal wiggle) around centre (1, 1):
    # component 1 is (1, 1) / sqrt 2 up to sign and carries almost all the
    # variance; projecting by hand reproduces the positions along the line.
    t = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    wiggle = np.array([0.01, -0.02, 0.0, 0.02, -0.01])  # orthogonal to t
    matrix = np.column_stack([1 + t + wiggle, 1 + t - wiggle])
    # by hand: var(t) = 10 / 4, var(wiggle) = 0.001 / 4, cov(t, wiggle) = 0
    covariance = np.array(
        [[2.5 + 0.00025, 2.5 - 0.00025], [2.5 - 0.00025, 2.5 + 0.00025]]
    )
    table = pca_from_covariance(covariance, [1.0, 1.0], ["a", "b"], n_components=2)
    first = table[table.component == 1]
    assert_allclose(first.loading, [2**-0.5, 2**-0.5])  # largest loading positive
    assert_allclose(first.center, [1.0, 1.0])
    assert first.explained_variance.iloc[0] == pytest.approx(5.0)
    assert first.explained_variance_ratio.iloc[0] == pytest.approx(5.0 / 5.0005)
    projected = (matrix - first.center.to_numpy()) @ first.loading.to_numpy()
    assert_allclose(projected, t * 2**0.5, atol=1e-12)


def test_equals_scikit_learn_pca_on_correlated_data():
    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(2_000, 6)) @ rng.normal(size=(6, 6)) + rng.normal(size=6)
    table = pca_from_covariance(
        np.cov(matrix, rowvar=False),
        matrix.mean(axis=0),
        list("abcdef"),
        n_components=3,
    )
    pca = PCA(n_components=3).fit(matrix)
    loadings = table.pivot(
        index="component", columns="feature_position", values="loading"
    )
    assert_allclose(loadings.to_numpy(), pca.components_, atol=1e-10)
    ratios = table.groupby("component").explained_variance_ratio.first()
    assert_allclose(ratios, pca.explained_variance_ratio_, rtol=1e-10)
    centre = table[table.component == 1].center.to_numpy()
    projected = (matrix - centre) @ loadings.to_numpy().T
    assert_allclose(projected, pca.transform(matrix), atol=1e-9)


def test_rejects_a_covariance_of_the_wrong_shape():
    with pytest.raises(ValueError, match="2 x 2"):
        pca_from_covariance(np.eye(3), np.zeros(3), ["a", "b"])
