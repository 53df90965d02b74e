"""The default pipeline on the real file, checked against independent
numpy / pandas / scikit-learn computations from the raw CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import MONEY, dbt_build
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans

pytestmark = pytest.mark.slow


def test_every_raw_row_is_accounted_for(real_build, real_csv):
    data_lines = [
        line for line in real_csv.read_text().splitlines()[1:] if line.strip()
    ]
    segmented = real_build.query("select count(*) as n from customer_segments")
    quarantined = real_build.query("select count(*) as n from quarantined_customers")
    assert len(data_lines) == 8950
    assert segmented.n[0] + quarantined.n[0] == len(data_lines)
    assert quarantined.n[0] == 0  # the real file has no unusable row


def test_fit_state_matches_an_independent_recomputation(
    real_build, raw, expected_matrix
):
    scaling, _ = expected_matrix
    stored = real_build.query("select * from feature_scaling order by feature_position")
    assert stored.raw_column.tolist() == list(raw.columns[1:])
    medians = raw.drop(columns="CUST_ID").median()
    assert_allclose(stored.impute_value, medians[stored.raw_column], rtol=1e-12)
    assert_allclose(stored["mean"], scaling["mean"][stored.raw_column], rtol=1e-9)
    assert_allclose(stored.stddev, scaling["stddev"][stored.raw_column], rtol=1e-9)
    assert_allclose(stored.clip_low, scaling["clip_low"][stored.raw_column], rtol=1e-12)
    assert_allclose(
        stored.clip_high, scaling["clip_high"][stored.raw_column], rtol=1e-12
    )
    is_money = stored.raw_column.isin(MONEY)
    assert (stored["transform"][is_money] == "log1p").all()
    assert (stored["transform"][~is_money] == "identity").all()


def test_every_customer_is_in_the_numpy_nearest_segment(
    real_build, raw, expected_matrix
):
    _, matrix = expected_matrix
    centroids = real_build.query(
        "select segment_id, feature_position, centroid_z from segment_centroids"
    ).pivot(index="segment_id", columns="feature_position", values="centroid_z")
    distances = np.linalg.norm(
        matrix[:, None, :] - centroids.to_numpy()[None, :, :], axis=2
    )
    order = np.argsort(distances, axis=1, kind="stable")
    assigned = real_build.query(
        "select cust_id, segment_id, second_segment_id, distance_to_centroid, "
        "second_distance, confidence from customer_segments order by cust_id"
    )
    assert_array_equal(assigned.cust_id, raw.CUST_ID)
    assert_array_equal(assigned.segment_id, centroids.index[order[:, 0]])
    assert_array_equal(assigned.second_segment_id, centroids.index[order[:, 1]])
    nearest = np.take_along_axis(distances, order[:, :2], axis=1)
    assert_allclose(assigned.distance_to_centroid, nearest[:, 0], rtol=1e-9)
    assert_allclose(assigned.second_distance, nearest[:, 1], rtol=1e-9)
    assert_allclose(
        assigned.confidence, (nearest[:, 1] - nearest[:, 0]) / nearest[:, 1], atol=1e-9
    )


def test_centroids_are_scikit_learns_and_near_the_means_of_their_segments(
    real_build, expected_matrix
):
    # The fit is scikit-learn's KMeans on the recomputed matrix (rows by
    # cust_id, the model's k, n_init and seed): every stored centroid is one
    # of its cluster centres.  KMeans stops when the centres move less than
    # its tol (1e-4), so a centroid is the mean of its members only to about
    # that, not exactly (a fit that stops on unchanged labels is exact).
    _, matrix = expected_matrix
    model = real_build.query(
        "select n_clusters, n_init, random_state from segmentation_models"
    )
    fit = KMeans(
        n_clusters=int(model.n_clusters[0]),
        n_init=int(model.n_init[0]),
        random_state=int(model.random_state[0]),
    ).fit(matrix)
    labels = real_build.query(
        "select segment_id from customer_segments order by cust_id"
    ).segment_id.to_numpy()
    centroids = real_build.query(
        "select segment_id, feature_position, centroid_z from segment_centroids"
    ).pivot(index="segment_id", columns="feature_position", values="centroid_z")
    for segment_id, centroid in centroids.iterrows():
        gaps = np.linalg.norm(fit.cluster_centers_ - centroid.to_numpy(), axis=1)
        assert gaps.min() < 1e-9
        members = matrix[labels == segment_id]
        assert_allclose(members.mean(axis=0), centroid, atol=2e-3)


def test_inertia_is_as_good_as_scikit_learn_over_several_seeds(
    real_build, expected_matrix
):
    _, matrix = expected_matrix
    model = real_build.query("select * from segmentation_models")
    assert len(model) == 1
    k = int(model.n_clusters[0])
    reference = np.median(
        [
            KMeans(n_clusters=k, n_init=10, random_state=seed).fit(matrix).inertia_
            for seed in (0, 1, 2, 3, 4)
        ]
    )
    assert model.inertia[0] == pytest.approx(reference, rel=0.005)
    # and the stored inertia is what the stored assignment gives
    distances = real_build.query("select distance_to_centroid from customer_segments")
    assert model.inertia[0] == pytest.approx(
        (distances.distance_to_centroid**2).sum(), rel=1e-9
    )


def test_segment_profiles_match_pandas(real_build, raw):
    profiles = real_build.query("select * from segment_profiles")
    labels = real_build.query(
        "select cust_id, segment_id from customer_segments"
    ).set_index("cust_id")
    frame = raw.set_index("CUST_ID").join(labels)
    frame["CASH_ADVANCE_FREQUENCY"] = frame["CASH_ADVANCE_FREQUENCY"].clip(upper=1.0)
    for column in ("PURCHASES", "MINIMUM_PAYMENTS", "CASH_ADVANCE_FREQUENCY"):
        got = profiles[profiles.feature_name == column.lower()].set_index("segment_id")
        by_segment = frame.groupby("segment_id")[column]
        assert_allclose(got.mean_value.sort_index(), by_segment.mean(), rtol=1e-9)
        assert_allclose(got.median_value.sort_index(), by_segment.median(), rtol=1e-9)
    sizes = profiles.drop_duplicates("segment_id").set_index("segment_id").n_customers
    assert_array_equal(sizes.sort_index(), frame.groupby("segment_id").size())


def test_every_segment_has_a_distinct_name_and_a_crm_strategy(real_build):
    segments = real_build.query(
        "select distinct segment_id, segment_name, crm_objective, crm_actions "
        "from customer_segments"
    )
    assert segments.segment_name.is_unique
    assert segments.crm_objective.notna().all()
    assert segments.crm_actions.notna().all()


def test_exports_hold_every_customer(real_build):
    segments = real_build.query(
        "select cust_id, segment_id from customer_segments order by cust_id"
    )
    for name in ("customer_with_clusters", "customer_with_clusters_and_crm"):
        parquet = pd.read_parquet(real_build.exports / f"{name}.parquet")
        csv = pd.read_csv(real_build.exports / f"{name}.csv")
        for exported in (parquet, csv):
            assert_array_equal(exported.cust_id, segments.cust_id)
            assert_array_equal(exported.segment_id, segments.segment_id)
    crm = pd.read_csv(real_build.exports / "customer_with_clusters_and_crm.csv")
    assert crm.crm_actions.notna().all()


def _assignments(build) -> pd.DataFrame:
    return build.query(
        "select cust_id, segment_id, segment_name from customer_segments "
        "order by cust_id"
    )


def test_two_builds_give_the_same_segments(real_build, real_csv, tmp_path):
    again = dbt_build(tmp_path, real_csv)
    assert again.returncode == 0, again.output[-3000:]
    pd.testing.assert_frame_equal(_assignments(again), _assignments(real_build))
    model_ids = [
        b.query("select model_id from segmentation_models").model_id[0]
        for b in (real_build, again)
    ]
    assert model_ids[0] == model_ids[1]
    # the automatic choice of k is reproducible, figure for figure
    pd.testing.assert_frame_equal(
        again.query("select * from k_selection order by k"),
        real_build.query("select * from k_selection order by k"),
    )


def test_shuffled_rows_give_every_customer_the_same_segment(
    real_build, real_csv, tmp_path
):
    lines = real_csv.read_bytes().splitlines(keepends=True)
    body = lines[1:]
    np.random.default_rng(7).shuffle(body)
    shuffled = tmp_path / "shuffled.csv"  # a temporary copy, never committed
    shuffled.write_bytes(lines[0] + b"".join(body))
    build = dbt_build(tmp_path / "build", shuffled)
    assert build.returncode == 0, build.output[-3000:]
    pd.testing.assert_frame_equal(_assignments(build), _assignments(real_build))
