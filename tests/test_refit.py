"""Scoring without refitting: `refit: false` builds (README "Month after month").

A refit: false build scores a new raw file with the model the published
warehouse uses.  These tests score a shifted copy of the real file with the
real file's model and check the result against an independent numpy
assignment from the fit state stored before the build, against
``scoring.score`` row for row, and that nothing of the model moved.
"""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, Build, copy_build, dbt_build

from cc_segmentation.apps import scoring
from cc_segmentation.data.shift import shifted_copy

pytestmark = pytest.mark.slow

#: Tables that hold the model: a refit: false build must leave them as they were.
MODEL_TABLES = {
    "feature_scaling": "feature_position",
    "segment_centroids": "segment_id, feature_position",
    "fitted_features": "model_id, feature_name",
    "fitted_segments": "model_id, segment_id",
    "segmentation_models": "model_id",
    "segment_lineage": "model_id, segment_id",
    "k_selection": "k",
    # the map: the model's own PCA, not one fitted on the file it scores
    "pca_components": "component, feature_position",
    "fitted_pca": "model_id, component, feature_position",
}


def model_state(build: Build) -> dict[str, pd.DataFrame]:
    return {
        table: build.query(f"select * from {table} order by {order}")
        for table, order in MODEL_TABLES.items()
    }


@pytest.fixture(scope="module")
def shifted_csv(tmp_path_factory, real_csv):
    path = tmp_path_factory.mktemp("shifted") / "cc_general_shifted.csv"
    return shifted_copy(real_csv, path).path


@pytest.fixture(scope="module")
def scoring_run(tmp_path_factory, real_build, shifted_csv):
    """The real file's warehouse, then a refit: false build of the shifted copy."""
    workdir = tmp_path_factory.mktemp("refit_false")
    build = copy_build(real_build, workdir)
    before = model_state(build)
    expected = scoring.score(build.warehouse, shifted_csv, max_rows=None)
    after = dbt_build(workdir, shifted_csv, warehouse=build.warehouse, refit=False)
    assert after.returncode == 0, after.output[-5000:]
    return before, expected, after


def test_keeps_the_published_model(scoring_run, real_build):
    before, _, after = scoring_run
    for table, rows in model_state(after).items():
        pd.testing.assert_frame_equal(rows, before[table], obj=table)
    (model_id,) = before["segment_centroids"].model_id.unique()
    used = after.query("select distinct model_id from customer_segments")
    assert used.model_id.tolist() == [model_id]
    # nothing was fitted: every fit step found the model stored
    assert f"KMeans fit {model_id}: stored, reused" in after.output
    assert "k scan" in after.output and "reused" in after.output
    assert f"KMeans fit {model_id}: k =" not in after.output
    # the same nodes ran, every test included
    summary = [line for line in after.output.splitlines() if "Done. PASS=" in line]
    expected = [
        line for line in real_build.output.splitlines() if "Done. PASS=" in line
    ]
    assert summary[-1].split("Done.")[1] == expected[-1].split("Done.")[1]


def numpy_z(csv, before: dict[str, pd.DataFrame], clip: bool) -> pd.DataFrame:
    """Each customer of ``csv`` standardized in numpy with the stored fit
    state ``before``: impute, log1p, clip (when ``clip``), z-score; one
    column per model feature, in feature_position order."""
    raw = pd.read_csv(csv).set_index("CUST_ID")
    features = before["fitted_features"]
    scaling = before["feature_scaling"].set_index("raw_column")
    values = raw[list(features.raw_column)].astype(float)
    frequencies = [c for c in values.columns if c.endswith("_FREQUENCY")]
    values[frequencies] = values[frequencies].clip(upper=1.0)
    values = values.fillna(features.set_index("raw_column").impute_value)
    model = values[list(scaling.index)].copy()
    logged = [c for c in scaling.index if scaling["transform"][c] == "log1p"]
    model[logged] = np.log1p(model[logged])
    if clip:
        model = model.clip(scaling["clip_low"], scaling["clip_high"], axis=1)
    return (model - scaling["mean"]) / scaling["stddev"]


def numpy_scores(csv, before: dict[str, pd.DataFrame], clip: bool) -> pd.DataFrame:
    """Each customer of ``csv`` scored in numpy with the stored fit state
    ``before``: impute, log1p, clip (when ``clip``), z-score, the nearest
    centroid and its anomaly threshold."""
    standardized = numpy_z(csv, before, clip)
    z = standardized.to_numpy()
    centroids = before["segment_centroids"].pivot(
        index="segment_id", columns="feature_position", values="centroid_z"
    )
    distances = np.sqrt(
        ((z[:, None, :] - centroids.to_numpy()[None, :, :]) ** 2).sum(axis=2)
    )
    expected = pd.DataFrame(
        {
            "segment_id": centroids.index.to_numpy()[distances.argmin(axis=1)],
            "distance": distances.min(axis=1),
        },
        index=standardized.index,
    )
    thresholds = before["fitted_segments"].set_index("segment_id").distance_threshold
    expected["anomaly"] = expected.distance > expected.segment_id.map(thresholds)
    return expected


def assert_scored_as(after: Build, expected: pd.DataFrame) -> None:
    got = after.query(
        "select cust_id, segment_id, distance_to_centroid, is_distance_anomaly"
        " from customer_segments"
    ).set_index("cust_id")
    assert len(got) == len(expected)  # the real file has no row to quarantine
    got = got.loc[expected.index]
    assert (got.segment_id.to_numpy() == expected.segment_id.to_numpy()).all()
    np.testing.assert_allclose(got.distance_to_centroid, expected.distance, rtol=1e-9)
    assert (got.is_distance_anomaly.to_numpy() == expected.anomaly.to_numpy()).all()


def test_assignment_is_numpy_nearest_centroid_of_the_stored_fit(
    scoring_run, shifted_csv, real_csv
):
    before, _, after = scoring_run
    assert_scored_as(after, numpy_scores(shifted_csv, before, clip=True))
    # the map: the stored model's PCA applied to the numpy z-scores
    z = numpy_z(shifted_csv, before, clip=True)
    got = after.query("select cust_id, pca_x, pca_y from customer_segments")
    got = got.set_index("cust_id").loc[z.index]
    pca = before["pca_components"]
    for component, column in [(1, "pca_x"), (2, "pca_y")]:
        rows = pca[pca.component == component].sort_values("feature_position")
        expected = (z.to_numpy() - rows.center.to_numpy()) @ rows.loading.to_numpy()
        np.testing.assert_allclose(got[column], expected, rtol=1e-9, atol=1e-12)
    # the premise: a PCA of the shifted file itself would draw another map
    own = after.query(
        "select loading from int_pca_fit order by component, feature_position"
    ).loading.to_numpy()
    assert np.abs(own - pca.loading.to_numpy()).max() > 1e-3
    # the copy is shifted: the model scores data it was not fitted on
    raw = pd.read_csv(shifted_csv).set_index("CUST_ID")
    original = pd.read_csv(real_csv).set_index("CUST_ID").BALANCE
    assert (raw.BALANCE != original.loc[raw.index]).sum() > 2000


def test_a_model_stored_before_clipping_clips_nothing(
    tmp_path, real_build, shifted_csv
):
    # A warehouse from before clipping has no clip columns in fitted_features.
    # The build's copy of the registry (the source `published`) gets them,
    # NULL, and the published model is applied as it was fitted: unclipped.
    build = copy_build(real_build, tmp_path)
    before = model_state(build)
    # Nor has it maps: its model's map is drawn, and kept, by this build.
    with duckdb.connect(str(build.warehouse)) as con:
        for column in ("clip_low", "clip_high", "n_clipped"):
            con.execute(f"alter table fitted_features drop column {column}")
        con.execute("drop table fitted_pca")
    after = dbt_build(tmp_path, shifted_csv, warehouse=build.warehouse, refit=False)
    assert after.returncode == 0, after.output[-5000:]
    expected = numpy_scores(shifted_csv, before, clip=False)
    assert_scored_as(after, expected)  # every customer, on the map too
    (model_id,) = before["segment_centroids"].model_id.unique()
    stored = after.query("select distinct model_id from fitted_pca")
    assert stored.model_id.tolist() == [model_id]
    # the premise: clipping would have scored some customers otherwise
    clipped = numpy_scores(shifted_csv, before, clip=True)
    assert (clipped.distance != expected.distance).sum() > 10
    scaling = after.query("select clip_low, clip_high from feature_scaling")
    assert scaling.isna().all().all()
    assert (
        after.query(
            "select max(n_clipped_features) as n from customer_segments"
        ).n.item()
        == 0
    )


def test_agrees_with_scoring_score_row_for_row(scoring_run):
    _, expected, after = scoring_run
    got = after.query("select * from customer_segments order by cust_id")
    expected = expected.sort_values("cust_id", ignore_index=True)
    assert expected.rejection_reason.isna().all()
    columns = [
        c
        for c in expected.columns
        if c in got.columns and c not in ("cust_id", "rejection_reason")
    ]
    assert {"segment_id", "distance_to_centroid", "is_distance_anomaly"} <= set(columns)
    assert (got.cust_id == expected.cust_id).all()
    pd.testing.assert_frame_equal(
        got[columns], expected[columns], check_dtype=False, obj="refit: false"
    )


def test_published_by_the_runner_equals_the_plain_build(
    tmp_path, real_build, shifted_csv, scoring_run
):
    """The runner's fresh file gets the model's state by carry-over alone."""
    _, _, after = scoring_run
    published = copy_build(real_build, tmp_path)
    env = dict(
        os.environ,
        CC_SEGMENTATION_WAREHOUSE=str(published.warehouse),
        CC_SEGMENTATION_EXPORTS=str(published.exports),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    done = subprocess.run(
        [
            sys.executable, "-m", "cc_segmentation", "build",
            "--vars", f"{{refit: false, raw_path: '{shifted_csv}'}}",
            "--target-path", str(tmp_path / "target"),
            "--log-path", str(tmp_path / "logs"),
        ],
        cwd=REPO, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    assert "carried over main.fitted_features" in done.stdout
    columns = "cust_id, model_id, segment_id, distance_to_centroid, confidence"
    order = " from customer_segments order by cust_id"
    pd.testing.assert_frame_equal(
        published.query(f"select {columns}{order}"),
        after.query(f"select {columns}{order}"),
    )


def test_refuses_without_a_published_model(tmp_path, real_csv):
    build = dbt_build(tmp_path, real_csv, refit=False)
    assert build.returncode != 0
    assert "refit: false scores with the published model" in build.output
    assert "Build once with refit: true" in build.output
    assert "nothing was built" in build.output
    tables = build.query("select table_name from duckdb_tables()")
    assert tables.empty


def test_refuses_vars_that_change_the_scoring(tmp_path, real_build, real_csv):
    build = copy_build(real_build, tmp_path)
    before = model_state(build)
    failed = dbt_build(
        tmp_path, real_csv, warehouse=build.warehouse, refit=False, features="reduced"
    )
    assert failed.returncode != 0
    assert "these vars differ from its fit: features" in failed.output
    for table, rows in model_state(build).items():
        pd.testing.assert_frame_equal(rows, before[table], obj=table)
