"""Unit test of cc_segmentation.projection on points with a known PCA."""

import numpy as np
from numpy.testing import assert_allclose

from cc_segmentation.projection import fit_pca


def test_points_on_a_diagonal_line():
    # Points on y = x (plus a tiny orthogonal wiggle) around centre (1, 1):
    # component 1 is (1, 1) / sqrt 2 up to sign and carries almost all the
    # variance; projecting by hand reproduces the positions along the line.
    t = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    wiggle = np.array([0.01, -0.02, 0.0, 0.02, -0.01])  # orthogonal to t
    matrix = np.column_stack([1 + t + wiggle, 1 + t - wiggle])
    table = fit_pca(matrix, ["a", "b"], n_components=2)
    first = table[table.component == 1]
    assert_allclose(np.abs(first.loading), [2**-0.5, 2**-0.5])
    assert_allclose(first.center, [1.0, 1.0])
    assert first.explained_variance_ratio.iloc[0] > 0.999
    projected = (matrix - first.center.to_numpy()) @ first.loading.to_numpy()
    assert_allclose(np.abs(projected), np.abs(t) * 2**0.5, atol=1e-12)
