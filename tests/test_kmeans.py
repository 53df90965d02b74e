"""Unit tests of cc_segmentation.segmentation.kmeans on toy data with known answers."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cc_segmentation.segmentation.kmeans import (
    canonical_order,
    distinct_profiles,
    fit_kmeans,
    fit_segmentation,
)

# Three tight blobs of sizes 2, 4 and 3 around (0, 0), (10, 0) and (0, 10).
BLOBS = np.array(
    [
        [0.0, 0.0], [0.0, 1.0],
        [10.0, 0.0], [10.0, 1.0], [11.0, 0.0], [11.0, 1.0],
        [0.0, 10.0], [1.0, 10.0], [0.0, 11.0],
    ]
)  # fmt: skip


def test_canonical_order_sorts_by_size_then_centroid():
    labels = np.array([0, 1, 1, 2, 2, 2, 3, 3, 3])
    centroids = np.array([[5.0, 0.0], [4.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    # sizes 1, 2, 3, 3: the two of size 3 are ordered by first coordinate.
    assert_array_equal(canonical_order(labels, centroids), [3, 2, 1, 0])


def test_fit_kmeans_finds_the_blobs_and_numbers_them_by_size():
    fit = fit_kmeans(BLOBS, 3, n_init=10, random_state=0)
    assert_array_equal(fit.labels, [3, 3, 1, 1, 1, 1, 2, 2, 2])
    assert_allclose(
        fit.centroids, [[10.5, 0.5], [1 / 3, 31 / 3], [0.0, 0.5]], atol=1e-12
    )
    # Hand-computed: 4 * 0.5 for the square, 2 * 0.25 for the pair, and
    # 4/9 + 4/9 + 1/9 + 1/9 + 1/9 + 1/9 = 12/9 for the triangle.
    assert fit.inertia == pytest.approx(2.0 + 0.5 + 12 / 9)


def test_fit_kmeans_numbering_does_not_depend_on_the_seed():
    first = fit_kmeans(BLOBS, 3, n_init=1, random_state=1)
    second = fit_kmeans(BLOBS, 3, n_init=1, random_state=7)
    assert_array_equal(first.labels, second.labels)


def test_fit_kmeans_rejects_impossible_k_and_missing_values():
    with pytest.raises(ValueError, match="between 1 and"):
        fit_kmeans(BLOBS, 10)
    with pytest.raises(ValueError, match="missing or infinite"):
        fit_kmeans(np.array([[0.0], [np.nan]]), 1)


def test_fit_segmentation_long_form():
    fit = fit_segmentation(
        BLOBS,
        ["x", "y"],
        model_id="m1",
        input_fingerprint="toy",
        n_clusters=3,
        random_state=0,
    )
    assert list(fit.columns[:6]) == [
        "model_id",
        "segment_id",
        "feature_name",
        "feature_position",
        "centroid_z",
        "segment_size",
    ]
    assert fit["model_id"].unique().tolist() == ["m1"]
    assert fit["feature_name"].tolist() == ["x", "y"] * 3
    assert fit["segment_size"].tolist() == [4, 4, 3, 3, 2, 2]
    assert_allclose(fit["centroid_z"], [10.5, 0.5, 1 / 3, 31 / 3, 0.0, 0.5])
    assert fit["n_rows"].unique().tolist() == [9]
    # temperature = 2 * inertia / (rows * features), by hand from BLOBS
    inertia = fit["inertia"].iloc[0]
    assert fit["membership_temperature"].iloc[0] == pytest.approx(2 * inertia / 18)


def test_more_segments_than_distinct_profiles_is_refused():
    matrix = np.repeat(np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]]), 4, axis=0)
    assert distinct_profiles(matrix) == 3
    with pytest.raises(ValueError, match="only 3 distinct profiles: set n_clusters"):
        fit_segmentation(
            matrix, ["x", "y"], model_id="m", input_fingerprint="toy", n_clusters=4
        )
    fit = fit_segmentation(
        matrix, ["x", "y"], model_id="m", input_fingerprint="toy", n_clusters=3
    )
    assert sorted(fit.drop_duplicates("segment_id").segment_size) == [4, 4, 4]
