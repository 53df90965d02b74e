"""Unit tests of segmentation.outliers and .core_samples on toy data with
known answers, checked against brute-force numpy rather than against
scikit-learn alone, and a build of the outlier models above their sample
size."""

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from conftest import SAMPLED_FIT_SETTINGS
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import DBSCAN

import cc_segmentation.segmentation.core_samples as core_samples
from cc_segmentation.segmentation.core_samples import CoreSampleLabeller, label_batches
from cc_segmentation.segmentation.outliers import (
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
    # Within 1.5 of a grid point: its 4 or 8 neighbours at 1 and sqrt(2)
    # and itself, at least 4 for every grid point.
    assert_array_equal(result.is_core, [True] * 18 + [False, False])
    assert (result.eps, result.min_samples) == (1.5, 4)


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
    assert_array_equal(result.is_core, is_core)
    # Clusters are the connected components of core points within eps ...
    n_components, component = connected_components(within[is_core][:, is_core])
    core_labels = result.labels[is_core]
    pairs = set(zip(component, core_labels, strict=True))
    assert len(pairs) == n_components == len(set(core_labels))
    # ... and a border point joins the cluster of a core point within eps.
    for row in np.flatnonzero(is_border):
        assert result.labels[row] in result.labels[is_core & within[row]]
    # The labels are exactly scikit-learn's.
    sklearn_labels = DBSCAN(eps=eps, min_samples=min_samples).fit(points).labels_
    assert_array_equal(result.labels, sklearn_labels)


def test_default_eps_and_min_samples_are_passed_to_dbscan():
    points = _blobs_and_scatter(300, seed=3)
    result = dbscan_outliers(points)
    assert result.min_samples == 6
    assert result.eps == choose_eps(points, 6)
    expected = DBSCAN(eps=result.eps, min_samples=6).fit(points)
    assert_array_equal(result.labels, expected.labels_)
    assert_array_equal(np.flatnonzero(result.is_core), expected.core_sample_indices_)


def test_dbscan_outliers_rejects_bad_settings():
    with pytest.raises(ValueError, match="eps must be positive"):
        dbscan_outliers(BLOBS, eps=0.0)
    with pytest.raises(ValueError, match="min_samples must be at least 1"):
        dbscan_outliers(BLOBS, eps=1.0, min_samples=0)
    with pytest.raises(ValueError, match="missing or infinite"):
        dbscan_outliers(np.array([[0.0, np.inf]]), eps=1.0)


# CoreSampleLabeller: the customers outside the sample ---------------------------

# Core samples on a line: 0 and 1 in cluster 0, 10 in cluster 1; eps = 1.
LINE_CORES = np.array([[0.0], [1.0], [10.0]])
LINE_CORE_LABELS = np.array([0, 0, 1])


def test_a_new_row_joins_a_core_sample_within_eps_or_is_noise():
    labeller = CoreSampleLabeller(LINE_CORES, LINE_CORE_LABELS, eps=1.0)
    rows = np.array([[-1.0], [0.5], [2.0], [2.5], [5.5], [9.0], [11.5], [-1.01]])
    # -1 is 1 from 0, 0.5 between 0 and 1, 2 is exactly eps from 1 (inside,
    # as in scikit-learn), 2.5 and 5.5 are 1.5 and 4.5 from their nearest
    # core, 9 is 1 from 10, 11.5 is 1.5 from 10, -1.01 is 1.01 from 0.
    assert_array_equal(labeller.labels(rows), [0, 0, 0, -1, -1, 1, -1, -1])


def test_without_core_samples_every_row_is_noise():
    labeller = CoreSampleLabeller(np.empty((0, 2)), np.empty(0, dtype=int), eps=1.0)
    assert_array_equal(labeller.labels(np.zeros((3, 2))), [-1, -1, -1])


def test_no_rows_give_no_labels():
    labeller = CoreSampleLabeller(LINE_CORES, LINE_CORE_LABELS, eps=1.0)
    labels = labeller.labels(np.empty((0, 1)))
    assert labels.shape == (0,) and labels.dtype == np.int64


def test_new_rows_are_labelled_as_dbscan_labels_a_new_point():
    # DBSCAN by scikit-learn on a sample; the other rows checked by brute
    # force against scikit-learn's core samples (its components_).
    points = _blobs_and_scatter(3000, seed=4)
    rng = np.random.default_rng(7)
    in_sample = np.zeros(len(points), dtype=bool)
    in_sample[rng.choice(len(points), 400, replace=False)] = True
    sample, others = points[in_sample], points[~in_sample]
    eps, min_samples = 0.6, 5
    dbscan = DBSCAN(eps=eps, min_samples=min_samples).fit(sample)
    cores = dbscan.components_
    core_labels = dbscan.labels_[dbscan.core_sample_indices_]
    assert len(set(core_labels)) == 3

    labels = CoreSampleLabeller(cores, core_labels, eps).labels(others)
    to_cores = _pairwise(others, cores)
    assert np.abs(to_cores.min(axis=1) - eps).min() > 1e-6  # nothing on the boundary
    within = to_cores <= eps
    is_noise = ~within.any(axis=1)
    assert 50 < is_noise.sum() < 500
    assert_array_equal(labels == -1, is_noise)
    # The label is that of a core sample within eps ...
    for row in np.flatnonzero(~is_noise):
        assert labels[row] in core_labels[within[row]]
    # ... which is the only one wherever the cores within eps agree.
    agree = np.array([len(set(core_labels[w])) == 1 for w in within]) & ~is_noise
    nearest = core_labels[to_cores.argmin(axis=1)]
    assert_array_equal(labels[agree], nearest[agree])


def test_the_search_cascade_only_saves_time(monkeypatch):
    # Many rows near the cluster edges, so that every pass settles some.
    points = _blobs_and_scatter(20_000, seed=5)
    dbscan = DBSCAN(eps=0.3, min_samples=8).fit(points[:2000])
    cores = dbscan.components_
    core_labels = dbscan.labels_[dbscan.core_sample_indices_]
    rows = points[2000:]
    labels = CoreSampleLabeller(cores, core_labels, 0.3).labels(rows)
    monkeypatch.setattr(core_samples, "_SEARCH_APPROXIMATIONS", (0.0,))
    exact = CoreSampleLabeller(cores, core_labels, 0.3).labels(rows)
    # Exact search alone: the label of the nearest core sample, by numpy.
    to_cores = _pairwise(rows, cores)
    within = to_cores <= 0.3
    is_noise = ~within.any(axis=1)
    nearest = np.where(is_noise, -1, core_labels[to_cores.argmin(axis=1)])
    assert_array_equal(exact, nearest)
    # The cascade: the same noise flag; the same cluster wherever the core
    # samples within eps agree, one of theirs where they do not.
    assert_array_equal(labels == -1, is_noise)
    n_clusters = np.array([len(set(core_labels[w])) for w in within])
    assert_array_equal(labels[n_clusters == 1], exact[n_clusters == 1])
    for row in np.flatnonzero(n_clusters > 1):
        assert labels[row] in core_labels[within[row]]
    assert is_noise.mean() > 0.01 and (n_clusters > 1).any()


def test_the_labeller_rejects_bad_input():
    labeller = CoreSampleLabeller(LINE_CORES, LINE_CORE_LABELS, eps=1.0)
    with pytest.raises(ValueError, match="rows of 1 features"):
        labeller.labels(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="missing or infinite"):
        labeller.labels(np.array([[np.nan]]))
    with pytest.raises(ValueError, match="eps must be positive"):
        CoreSampleLabeller(LINE_CORES, LINE_CORE_LABELS, eps=0.0)
    with pytest.raises(ValueError, match="cannot be noise"):
        CoreSampleLabeller(LINE_CORES, np.array([0, -1, 1]), eps=1.0)
    with pytest.raises(ValueError, match="one label per core sample"):
        CoreSampleLabeller(LINE_CORES, np.array([0, 1]), eps=1.0)


# label_batches ---------------------------------------------------------------


def test_label_batches_keeps_keys_and_order_across_batches():
    labeller = CoreSampleLabeller(LINE_CORES, LINE_CORE_LABELS, eps=1.0)
    schema = pa.schema([("x_z", pa.float64()), ("key", pa.int64()), ("y", pa.string())])
    batches = [
        pa.record_batch([[2.5, 0.5], [7, 3], ["a", "b"]], schema=schema),
        pa.record_batch([[9.0], [1], ["c"]], schema=schema),
    ]
    reader = pa.RecordBatchReader.from_batches(schema, batches)
    table = label_batches(labeller, reader, key="key", columns=["x_z"])
    assert table.column_names == ["key", "dbscan_label"]
    assert table.column("key").to_pylist() == [7, 3, 1]
    assert table.column("dbscan_label").to_pylist() == [-1, 0, 1]

    empty = pa.RecordBatchReader.from_batches(schema, [])
    table = label_batches(labeller, empty, key="key", columns=["x_z"])
    assert table.num_rows == 0 and table.schema.field("key").type == pa.int64()


def test_label_batches_streams_a_duckdb_relation_in_feature_order():
    # Columns stored in another order than the features; several batches.
    points = _blobs_and_scatter(5000, seed=6)
    dbscan = DBSCAN(eps=0.5, min_samples=6).fit(points[:1000])
    labeller = CoreSampleLabeller(
        dbscan.components_, dbscan.labels_[dbscan.core_sample_indices_], 0.5
    )
    rows = points[1000:]
    with duckdb.connect() as con:
        con.register(
            "customers",
            pa.table(
                {
                    "c_z": rows[:, 2],
                    "source_row_number": np.arange(len(rows)) * 10,
                    "a_z": rows[:, 0],
                    "b_z": rows[:, 1],
                }
            ),
        )
        relation = con.table("customers").order("source_row_number")
        table = label_batches(
            labeller,
            relation.to_arrow_reader(1000),
            key="source_row_number",
            columns=["a_z", "b_z", "c_z"],
        )
    assert_array_equal(table.column("source_row_number"), np.arange(len(rows)) * 10)
    assert_array_equal(table.column("dbscan_label"), labeller.labels(rows))


# The real file ---------------------------------------------------------------


@pytest.fixture(scope="module")
def real_matrix(expected_matrix) -> np.ndarray:
    """The default standardized matrix, recomputed from the CSV (conftest)."""
    return expected_matrix[1]


def test_dbscan_on_the_real_matrix_flags_a_small_tail(real_matrix):
    assert real_matrix.shape == (8950, 17)
    result = dbscan_outliers(real_matrix)
    assert result.min_samples == 34
    # eps is in the tail of the k-distance curve, past most customers ...
    curve = k_distances(real_matrix, 33)
    assert 0.90 < np.mean(curve <= result.eps) < 0.99
    # ... and flags a small share of them as noise.
    assert 0.001 < result.is_noise.mean() < 0.05


@pytest.fixture(scope="module")
def sampled_build(sampled_fit_build):
    """The real file built with a DBSCAN sample of 2,000 (conftest's
    SAMPLED_FIT_SETTINGS: its KMeans settings do not reach DBSCAN)."""
    assert SAMPLED_FIT_SETTINGS["dbscan_max_rows"] == 2000
    return sampled_fit_build.warehouse


@pytest.mark.slow
def test_above_the_sample_size_dbscan_runs_on_the_sample_and_labels_the_rest(
    sampled_build,
):
    with duckdb.connect(str(sampled_build), read_only=True) as con:
        features = [
            name
            for (name,) in con.sql(
                "select feature_name from feature_scaling order by feature_position"
            ).fetchall()
        ]
        columns = ", ".join(f"s.{feature}_z" for feature in features)
        customers = con.sql(
            f"select o.*, p.sample_rank, {columns} "
            "from int_customer_outliers o "
            "join int_customers_standardized s using (cust_id) "
            "left join int_customers_sampled p using (cust_id) "
            "order by cust_id"
        ).df()
    matrix = customers[[f"{f}_z" for f in features]].to_numpy()
    in_sample = (customers.sample_rank <= 2000).to_numpy()
    assert len(customers) == 8950 and in_sample.sum() == 2000
    assert_array_equal(customers.dbscan_scope, np.where(in_sample, "exact", "rule"))
    assert_array_equal(customers.is_dbscan_noise, customers.dbscan_label == -1)

    # The sample, sorted by cust_id: scikit-learn's DBSCAN, eps at its knee.
    sample = matrix[in_sample]
    eps = customers.dbscan_eps.iloc[0]
    assert (customers.dbscan_eps == eps).all()
    assert (customers.dbscan_min_samples == 34).all()
    assert eps == choose_eps(sample, 34)
    dbscan = DBSCAN(eps=eps, min_samples=34).fit(sample)
    assert_array_equal(customers.dbscan_label[in_sample], dbscan.labels_)

    # The others: noise exactly when no core sample is within eps (numpy).
    others = matrix[~in_sample]
    to_cores = _pairwise(others, dbscan.components_)
    labels = customers.dbscan_label[~in_sample].to_numpy()
    assert_array_equal(labels == -1, to_cores.min(axis=1) > eps)
    core_labels = dbscan.labels_[dbscan.core_sample_indices_]
    for row in np.flatnonzero(labels != -1):
        assert labels[row] in core_labels[to_cores[row] <= eps]
    assert 0 < (labels == -1).mean() < 0.05


def test_duplicated_profiles_give_a_positive_eps_and_are_core_points():
    # four profiles of 50 identical rows each, with large z values so that
    # scikit-learn's brute-force distances between equal rows are not 0
    rng = np.random.default_rng(0)
    profiles = rng.normal(scale=20.0, size=(4, 17))
    matrix = np.repeat(profiles, 50, axis=0)
    assert choose_eps(matrix, 34) > 0  # every k-distance is 0: no knee
    result = dbscan_outliers(matrix, min_samples=34)
    assert result.is_core.all()
    # scikit-learn itself at the same eps: one cluster per profile
    expected = DBSCAN(eps=result.eps, min_samples=34).fit(matrix).labels_
    assert (expected >= 0).all() and len(set(expected)) == 4
    assert_array_equal(result.labels, expected)
