"""The fit above fit_max_rows, and a rebuild that reuses what it stored.

The real file has 8,950 customers, so the default build fits on all of
them.  Here ``fit_max_rows`` and ``k_selection_max_rows`` are set below that
size, which takes the path a 10 M-row file takes: KMeans on the fixed-seed
sample, then Lloyd passes over every customer in SQL.  Each step is checked
against scikit-learn and numpy, computed here from the warehouse's
standardized matrix.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLED_FIT_SETTINGS as SETTINGS
from conftest import copy_build, dbt_build
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans

pytestmark = pytest.mark.slow

SAMPLE_ROWS = 3000
assert SETTINGS["fit_max_rows"] == SETTINGS["k_selection_max_rows"] == SAMPLE_ROWS


@pytest.fixture(scope="module")
def refined(sampled_fit_build):
    """The real file built with SETTINGS (shared with tests/test_outliers.py)."""
    return sampled_fit_build


def features_of(build) -> list[str]:
    (features,) = build.query("select features from int_kmeans_fit_settings").iloc[0]
    return features.split(",")


def matrix(build, relation: str, features: list[str], where: str = "true"):
    columns = ", ".join(f"{name}_z" for name in features)
    frame = build.query(
        f"select cust_id, {columns} from {relation} where {where} order by cust_id"
    )
    return frame.cust_id.to_numpy(), frame.drop(columns="cust_id").to_numpy()


def centroids(build, relation: str) -> np.ndarray:
    frame = build.query(
        f"select segment_id, feature_position, centroid_z from {relation}"
        " where model_id = (select model_id from int_kmeans_fit_settings)"
    )
    return (
        frame.pivot(index="segment_id", columns="feature_position")["centroid_z"]
        .sort_index()
        .to_numpy()
    )


def squared_distances(rows: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return ((rows[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)


def matched(expected: np.ndarray, found: np.ndarray) -> np.ndarray:
    """``found``'s rows reordered to pair with ``expected``'s (any numbering)."""
    rows, columns = linear_sum_assignment(squared_distances(expected, found))
    assert (rows == np.arange(len(expected))).all()
    return found[columns]


def test_the_sample_fit_is_scikit_learn_on_the_fixed_seed_sample(refined):
    features = features_of(refined)
    (n_sample_rows,) = refined.query(
        "select n_sample_rows from int_kmeans_fit_settings"
    ).iloc[0]
    assert n_sample_rows == SAMPLE_ROWS
    _, sample = matrix(
        refined, "int_customers_sampled", features, f"sample_rank <= {SAMPLE_ROWS}"
    )
    assert len(sample) == SAMPLE_ROWS
    reference = KMeans(n_clusters=5, n_init=10, random_state=42).fit(sample)
    stored = centroids(refined, "int_kmeans_sample_fits")
    np.testing.assert_allclose(
        matched(reference.cluster_centers_, stored),
        reference.cluster_centers_,
        atol=1e-8,
    )


def test_lloyd_passes_in_sql_equal_numpy_lloyd_passes_over_every_customer(
    refined,
):
    features = features_of(refined)
    cust_ids, everyone = matrix(refined, "int_customers_standardized", features)
    centres = centroids(refined, "int_kmeans_sample_fits").copy()
    start_inertia = squared_distances(everyone, centres).min(axis=1).sum()
    for _ in range(SETTINGS["kmeans_refinement_passes"]):
        labels = squared_distances(everyone, centres).argmin(axis=1)
        for segment in range(len(centres)):
            members = everyone[labels == segment]
            if len(members):  # an emptied segment keeps its centroid
                centres[segment] = members.mean(axis=0)
    distances = squared_distances(everyone, centres)
    labels, inertia = distances.argmin(axis=1), distances.min(axis=1).sum()

    fit = refined.query(
        "select distinct segment_id, segment_size, inertia, n_rows,"
        " n_sample_rows, n_refinement_passes from int_kmeans_fit order by segment_id"
    )
    stored = centroids(refined, "int_kmeans_fit")
    np.testing.assert_allclose(matched(centres, stored), centres, atol=1e-9)
    assert (fit.n_refinement_passes == 3).all() and (fit.n_rows == len(everyone)).all()
    assert (fit.n_sample_rows == SAMPLE_ROWS).all()
    assert fit.inertia.iloc[0] == pytest.approx(inertia, rel=1e-9)
    # Lloyd passes never make the objective on every customer worse
    assert inertia <= start_inertia
    # numbered by size, largest first, as every fit is
    assert sorted(np.bincount(labels), reverse=True) == fit.segment_size.tolist()

    assigned = refined.query(
        "select cust_id, segment_id from customer_segments order by cust_id"
    )
    assert (assigned.cust_id.to_numpy() == cust_ids).all()
    nearest = squared_distances(everyone, stored).argmin(axis=1) + 1
    assert (assigned.segment_id.to_numpy() == nearest).all()


def test_a_rebuild_on_the_same_data_reuses_the_scan_fit_dbscan_and_silhouette(
    refined, real_csv, tmp_path
):
    segments = "select cust_id, segment_id, distance_to_centroid from customer_segments"
    before = refined.query(f"{segments} order by cust_id")
    # the shared build stays as it was: the rebuild writes into a copy
    first = copy_build(refined, tmp_path)
    again = dbt_build(tmp_path, real_csv, warehouse=first.warehouse, **SETTINGS)
    assert again.returncode == 0, again.output[-5000:]
    assert "same input and settings as a stored scan, reused" in again.output
    assert "same input and settings as stored, reused" in again.output
    assert "stored, reused" in again.output.replace("as stored, reused", "")
    for step in ("DBSCAN", "silhouette"):
        assert any(
            f": {step} " in line and line.endswith("reused")
            for line in again.output.splitlines()
        ), step
    after = again.query(f"{segments} order by cust_id")
    assert before[["cust_id", "segment_id"]].equals(after[["cust_id", "segment_id"]])
    # the scaling factors are recomputed, and DuckDB's parallel sums may
    # differ in the last bits
    np.testing.assert_allclose(
        after.distance_to_centroid, before.distance_to_centroid, rtol=0, atol=1e-12
    )
    # one stored fit and one stored scan: nothing was appended
    assert len(again.query("select distinct model_id from int_kmeans_fits")) == 1
    assert (
        len(again.query("select distinct k_scan_key from int_k_selection_scores")) == 1
    )


def test_clip_bounds_are_quantiles_of_the_fit_sample(refined):
    # Above fit_max_rows the clip bounds come from the customers the KMeans
    # fit is drawn from (sample_rank <= 3,000), not from every customer:
    # numpy's linear quantiles of their transformed, imputed values.
    scaling = refined.query("select * from feature_scaling order by feature_position")
    columns = ", ".join(scaling.feature_name)
    sample = refined.query(
        f"select {columns} from int_customers_imputed "
        "inner join int_customers_sampled using (cust_id) "
        f"where sample_rank <= {SAMPLE_ROWS}"
    )
    everyone = refined.query(f"select {columns} from int_customers_imputed")
    assert len(sample) == SAMPLE_ROWS < len(everyone)
    for row in scaling.itertuples():
        values = sample[row.feature_name].to_numpy(dtype=float)
        every = everyone[row.feature_name].to_numpy(dtype=float)
        if row.transform == "log1p":
            values, every = np.log1p(values), np.log1p(every)
        low, high = np.quantile(values, [0.001, 0.999])
        assert row.clip_low == pytest.approx(low, rel=1e-12, abs=1e-12)
        assert row.clip_high == pytest.approx(high, rel=1e-12, abs=1e-12)
        # the moments are every customer's, clipped to those bounds
        clipped = np.clip(every, low, high)
        assert row.mean == pytest.approx(clipped.mean(), rel=1e-9)
