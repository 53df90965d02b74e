"""Unit tests of cc_segmentation.outliers on toy data with known answers,
checked against brute-force numpy rather than against scikit-learn alone."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import DBSCAN

from cc_segmentation.outliers import (
    choose_eps,
    dbscan_outliers,
    k_distances,
    knee_of_curve,
)

# Five points on a line; their pairwise distances are easy to read off.
LINE = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]])

# Two 3 x 3 grids of spacing 1 around (0, 0) and (10, 10), and two isolated
# points far from both.
GRID = np.array([[x, y] for x in range(3) for y in range(3)], dtype=float)
BLOBS = np.vstack([GRID, GRID + 10.0, [[30.0, 0.0], [0.0, 30.0]]])


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances from the differences, without sklearn's
    dot-product shortcut."""
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))


def _blobs_and_scatter(n_rows: int, seed: int) -> np.ndarray:
    """95 % of rows in three Gaussian blobs (sd 0.5) in 3-D, 5 % uniform."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    n_blob = int(n_rows * 0.95)
    blobs = centres[rng.integers(0, 3, n_blob)] + rng.normal(0, 0.5, (n_blob, 3))
    return np.vstack([blobs, rng.uniform(-4, 8, (n_rows - n_blob, 3))])


# k_distances -----------------------------------------------------------------


def test_k_distances_exclude_the_row_itself():
    # Nearest other point of 0, 1, 3, 7, 15: 1, 0, 1, 3, 7 at distances
    # 1, 1, 2, 4, 8.
    assert_allclose(k_distances(LINE, 1), [1, 1, 2, 4, 8])
    # Second nearest: 0 -> 3, 1 -> 3 (at 2), 3 -> 0 (at 3), 7 -> 1 (at 6),
    # 15 -> 3 (at 12).
    assert_allclose(k_distances(LINE, 2), [2, 3, 3, 6, 12])
    # k = n - 1 is the farthest other point.
    assert_allclose(k_distances(LINE, 4), [8, 12, 14, 15, 15])


def test_k_distances_of_some_rows_search_all_rows():
    # 15's second nearest is 3, whether or not 3 is queried.
    assert_allclose(k_distances(LINE, 2, rows=np.array([4, 0])), [3, 12])


def test_k_distances_count_a_duplicate_as_another_row():
    assert_allclose(k_distances(np.array([[0.0], [0.0], [5.0]]), 1), [0, 0, 5])
    assert_allclose(k_distances(np.array([[0.0], [0.0], [5.0]]), 2), [5, 5, 5])
    # Four copies: each has three others at 0, whether or not the query
    # point itself is among the neighbours sklearn returns.
    four_zeros = np.array([[0.0], [0.0], [0.0], [0.0], [9.0]])
    assert_allclose(k_distances(four_zeros, 1), [0, 0, 0, 0, 9])
    assert_allclose(k_distances(four_zeros, 3), [0, 0, 0, 0, 9])


def test_k_distances_reject_impossible_k_and_missing_values():
    with pytest.raises(ValueError, match="k must be between 1"):
        k_distances(LINE, 0)
    with pytest.raises(ValueError, match="k must be between 1"):
        k_distances(LINE, 5)
    with pytest.raises(ValueError, match="missing or infinite"):
        k_distances(np.array([[0.0], [np.nan]]), 1)


# knee_of_curve ---------------------------------------------------------------


def test_knee_is_the_point_furthest_below_the_chord():
    # x = i / 5 = 0, .2, .4, .6, .8, 1; y = (v - 1) / 8 = 0, 0, 0, 0, 1/8, 1;
    # x - y = 0, .2, .4, .6, .675, 0: the knee is index 4.
    assert knee_of_curve(np.array([1.0, 1.0, 1.0, 1.0, 2.0, 9.0])) == 4
    # Flat then one jump: x - y = i / 9 up to the jump, so the last flat
    # point.
    assert knee_of_curve(np.r_[np.zeros(9), 10.0]) == 8


def test_knee_does_not_depend_on_the_units_of_the_curve():
    curve = np.array([0.2, 0.3, 0.35, 0.5, 0.9, 2.0, 6.0])
    assert knee_of_curve(curve) == knee_of_curve(1000.0 * curve - 7.0)


def test_a_curve_without_a_bend_has_its_knee_at_the_last_index():
    # A straight line lies on its chord (up to rounding): no knee.
    assert knee_of_curve(np.linspace(0.1, 0.7, 11)) == 10
    assert knee_of_curve(3.0 * np.arange(50.0) + 1.0) == 49
    # A constant, a concave curve (above its chord), too few points.
    assert knee_of_curve(np.full(4, 2.5)) == 3
    assert knee_of_curve(np.sqrt(np.arange(10.0))) == 9
    assert knee_of_curve(np.array([1.0, 5.0])) == 1
    assert knee_of_curve(np.array([1.0])) == 0


def test_knee_rejects_unsorted_or_empty_curves():
    with pytest.raises(ValueError, match="sorted ascending"):
        knee_of_curve(np.array([1.0, 3.0, 2.0]))
    with pytest.raises(ValueError, match="non-empty"):
        knee_of_curve(np.array([]))


# choose_eps ------------------------------------------------------------------


def test_choose_eps_on_a_grid_with_one_far_point():
    # min_samples = 2 -> k = 1: the grid points are 1 apart, the far point
    # is 91 from 9.  Curve 1 (x 10), 91: the knee is the last 1.
    grid_and_far_point = np.r_[np.arange(10.0), 100.0][:, None]
    assert choose_eps(grid_and_far_point, 2) == pytest.approx(1.0)


def test_choose_eps_is_the_k_distance_at_the_knee_with_k_min_samples_minus_1():
    points = _blobs_and_scatter(300, seed=1)
    curve = k_distances(points, 7)
    assert choose_eps(points, 8) == curve[knee_of_curve(curve)]


def test_choose_eps_on_a_sample_measures_distances_in_all_rows():
    points = _blobs_and_scatter(2000, seed=0)
    full = choose_eps(points, 10)
    sampled = choose_eps(points, 10, max_rows=300, random_state=0)
    assert sampled == choose_eps(points, 10, max_rows=300, random_state=0)
    # The sampled eps is the k-distance, in all rows, of one of the rows ...
    assert np.isclose(k_distances(points, 9), sampled, rtol=0, atol=1e-12).any()
    # ... so it estimates the full curve's knee (a sample's own k-distances
    # would be about 60 % longer here).
    assert sampled == pytest.approx(full, rel=0.15)
    # No more rows than max_rows: no sample.
    assert choose_eps(points, 10, max_rows=2000) == full


def test_choose_eps_rejects_impossible_min_samples():
    with pytest.raises(ValueError, match="min_samples must be between 2"):
        choose_eps(LINE, 1)
    with pytest.raises(ValueError, match="min_samples must be between 2"):
        choose_eps(LINE, 6)


# dbscan_outliers -------------------------------------------------------------


def test_isolated_points_are_noise_and_blobs_are_clusters():
    result = dbscan_outliers(BLOBS, min_samples=4, eps=1.5)
    assert_array_equal(result.labels, [0] * 9 + [1] * 9 + [-1, -1])
    assert_array_equal(result.is_noise, [False] * 18 + [True, True])
    assert (result.eps, result.min_samples, result.n_fitted_rows) == (1.5, 4, 20)
    assert_array_equal(result.fitted_rows, np.arange(20))


def test_default_settings_on_the_blobs():
    # min_samples = 2 * 2 features = 4, so k = 3: 1 for the 5 edge and
    # centre points of each grid, sqrt(2) for the 4 corners, about 21.5 for
    # the isolated points.  The knee is the last corner: eps = sqrt(2).
    result = dbscan_outliers(BLOBS)
    assert result.min_samples == 4
    assert result.eps == pytest.approx(np.sqrt(2))
    assert_array_equal(result.labels, [0] * 9 + [1] * 9 + [-1, -1])


def test_noise_is_what_the_dbscan_definition_says():
    points = _blobs_and_scatter(300, seed=2)
    eps, min_samples = 0.45, 6
    distances = _pairwise(points, points)
    assert np.abs(distances - eps).min() > 1e-6  # nothing on the boundary
    within = distances <= eps
    is_core = within.sum(axis=1) >= min_samples  # counts the row itself
    is_noise = ~is_core & ~within[:, is_core].any(axis=1)
    is_border = ~is_core & ~is_noise
    assert is_core.sum() > 100 and is_border.sum() > 5 and is_noise.sum() > 5

    result = dbscan_outliers(points, min_samples=min_samples, eps=eps)
    assert_array_equal(result.is_noise, is_noise)
    # Clusters are the connected components of core points within eps ...
    n_components, component = connected_components(within[is_core][:, is_core])
    core_labels = result.labels[is_core]
    pairs = set(zip(component, core_labels, strict=True))
    assert len(pairs) == n_components == len(set(core_labels))
    # ... and a border point joins the cluster of a core point within eps.
    for row in np.flatnonzero(is_border):
        assert result.labels[row] in result.labels[is_core & within[row]]
    # Up to max_rows, the labels are exactly scikit-learn's.
    sklearn_labels = DBSCAN(eps=eps, min_samples=min_samples).fit(points).labels_
    assert_array_equal(result.labels, sklearn_labels)


def test_default_eps_and_min_samples_are_passed_to_dbscan():
    points = _blobs_and_scatter(300, seed=3)
    result = dbscan_outliers(points)
    assert result.min_samples == 6
    assert result.eps == choose_eps(points, 6)
    expected = DBSCAN(eps=result.eps, min_samples=6).fit(points).labels_
    assert_array_equal(result.labels, expected)


def test_sampled_fit_labels_other_rows_by_their_nearest_core_sample():
    points = _blobs_and_scatter(1000, seed=4)
    eps, min_samples = 0.6, 5
    result = dbscan_outliers(
        points, min_samples=min_samples, eps=eps, max_rows=200, random_state=7
    )
    fitted = result.fitted_rows
    assert result.n_fitted_rows == fitted.size == np.unique(fitted).size == 200
    assert_array_equal(fitted, np.sort(fitted))
    # The sample: scikit-learn's labels.
    sample = points[fitted]
    expected = DBSCAN(eps=eps, min_samples=min_samples).fit(sample).labels_
    assert_array_equal(result.labels[fitted], expected)
    # The others: label of the nearest core sample within eps, by numpy.
    within = _pairwise(sample, sample) <= eps
    cores = sample[within.sum(axis=1) >= min_samples]
    others = np.setdiff1d(np.arange(1000), fitted)
    to_cores = _pairwise(points[others], cores)
    nearest = to_cores.min(axis=1)
    assert np.abs(nearest - eps).min() > 1e-6  # nothing on the boundary
    core_labels = expected[within.sum(axis=1) >= min_samples]
    expected_others = np.where(nearest <= eps, core_labels[to_cores.argmin(axis=1)], -1)
    assert_array_equal(result.labels[others], expected_others)
    # Both outcomes occur: joined a cluster, and noise.
    assert (expected_others >= 0).any() and (expected_others == -1).any()
    assert_array_equal(result.is_noise, result.labels == -1)

    # Deterministic for a seed; another seed draws another sample.
    again = dbscan_outliers(
        points, min_samples=min_samples, eps=eps, max_rows=200, random_state=7
    )
    assert_array_equal(again.labels, result.labels)
    other_seed = dbscan_outliers(
        points, min_samples=min_samples, eps=eps, max_rows=200, random_state=8
    )
    assert not np.array_equal(other_seed.fitted_rows, fitted)


def test_sampled_fit_chooses_eps_on_the_sample():
    points = _blobs_and_scatter(1000, seed=5)
    result = dbscan_outliers(points, max_rows=200, random_state=1)
    assert result.eps == choose_eps(points[result.fitted_rows], 6, random_state=1)


def test_dbscan_outliers_rejects_bad_settings():
    with pytest.raises(ValueError, match="eps must be positive"):
        dbscan_outliers(BLOBS, eps=0.0)
    with pytest.raises(ValueError, match="max_rows must be at least 1"):
        dbscan_outliers(BLOBS, eps=1.0, max_rows=0)
    with pytest.raises(ValueError, match="missing or infinite"):
        dbscan_outliers(np.array([[0.0, np.inf]]), eps=1.0)


# The real file ---------------------------------------------------------------


@pytest.fixture(scope="module")
def real_matrix(expected_matrix) -> np.ndarray:
    """The default standardized matrix, recomputed from the CSV (conftest)."""
    return expected_matrix[1]


def test_dbscan_on_the_real_matrix_flags_a_small_tail(real_matrix):
    assert real_matrix.shape == (8950, 17)
    result = dbscan_outliers(real_matrix)
    assert result.min_samples == 34
    assert result.n_fitted_rows == 8950
    # eps is in the tail of the k-distance curve, past most customers ...
    curve = k_distances(real_matrix, 33)
    assert 0.90 < np.mean(curve <= result.eps) < 0.99
    # ... and flags a small share of them as noise.
    assert 0.001 < result.is_noise.mean() < 0.05
