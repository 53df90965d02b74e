"""The same project on Apache Spark: `cc-segmentation build --target spark`.

The real file is built once on Spark (dbt-spark's session method, a local
Spark in the build's process, its warehouse in a temporary directory) and
compared with the DuckDB build of the same file (``real_build``): every
customer must get the same segment, and the fit's quality figures must agree
to 1e-9.  Spark's own figures are also checked against scikit-learn on
Spark's standardized customers and labels.  Spark's tables are Parquet
directories, read here with DuckDB, so no second JVM starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, Build
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

from cc_segmentation.publishing.spark import targets_spark

RELATIVE = 1e-9


@dataclass
class SparkBuild:
    """A Spark build: its outcome and the directory of its warehouse."""

    returncode: int
    output: str
    warehouse: Path
    exports: Path

    def table(self, name: str) -> pd.DataFrame:
        """A model's table, read from its Parquet files."""
        files = self.warehouse / "tables" / "cc_segmentation.db" / name / "*.parquet"
        with duckdb.connect() as con:
            return con.execute(f"select * from read_parquet('{files}')").df()


@pytest.fixture(scope="module")
def spark_build(tmp_path_factory, real_csv) -> SparkBuild:
    workdir = tmp_path_factory.mktemp("spark")
    env = dict(
        os.environ,
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        CC_SEGMENTATION_SPARK_WAREHOUSE=str(workdir / "spark"),
        CC_SEGMENTATION_EXPORTS=str(workdir / "exports"),
        CC_SEGMENTATION_SPARK_DRIVER_MEMORY="4g",
    )
    command = [
        sys.executable, "-m", "cc_segmentation", "build",
        "--target", "spark",
        "--target-path", str(workdir / "target"),
        "--log-path", str(workdir / "logs"),
        "--vars", json.dumps({"raw_path": str(real_csv)}),
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    return SparkBuild(
        result.returncode,
        result.stdout + result.stderr,
        workdir / "spark",
        workdir / "exports",
    )


def test_the_spark_target_is_recognised():
    assert targets_spark(["--target", "spark"])
    assert targets_spark(["-t", "spark", "--select", "segments"])
    assert not targets_spark([])
    assert not targets_spark(["--target", "dev"])


@pytest.mark.slow
def test_every_model_and_test_passes_on_spark(spark_build: SparkBuild):
    assert spark_build.returncode == 0, spark_build.output[-5000:]
    assert "ERROR=0" in spark_build.output and "SKIP=0" in spark_build.output


@pytest.mark.slow
def test_every_customer_gets_the_same_segment_on_both_engines(
    spark_build: SparkBuild, real_build: Build
):
    columns = (
        "cust_id, segment_id, segment_name, second_segment_id, "
        "third_segment_id, distance_to_centroid, confidence"
    )
    duck = real_build.query(f"select {columns} from customer_segments order by cust_id")
    spark = (
        spark_build.table("customer_segments")[columns.split(", ")]
        .sort_values("cust_id")
        .reset_index(drop=True)
    )
    assert len(spark) == len(duck) == 8950
    same = ["cust_id", "segment_id", "segment_name"]
    same += ["second_segment_id", "third_segment_id"]
    pd.testing.assert_frame_equal(spark[same], duck[same], check_dtype=False)
    for column in ("distance_to_centroid", "confidence"):
        np.testing.assert_allclose(spark[column], duck[column], rtol=RELATIVE)


@pytest.mark.slow
def test_the_fit_quality_agrees_to_1e_9_on_both_engines(
    spark_build: SparkBuild, real_build: Build
):
    figures = ["scope", "segment_id", "n_customers", "inertia", "mean_distance"]
    figures += ["radius", "silhouette", "davies_bouldin", "calinski_harabasz"]
    duck = real_build.query(
        f"select {', '.join(figures)} from model_metrics "
        "order by segment_id nulls first"
    )
    spark = (
        spark_build.table("model_metrics")[figures]
        .sort_values("segment_id", na_position="first")
        .reset_index(drop=True)
    )
    assert list(spark["scope"]) == list(duck["scope"])
    assert list(spark["segment_id"].fillna(0)) == list(duck["segment_id"].fillna(0))
    assert list(spark["n_customers"]) == list(duck["n_customers"])
    for figure in figures[3:]:
        np.testing.assert_allclose(spark[figure], duck[figure], rtol=RELATIVE)


@pytest.mark.slow
def test_sparks_figures_equal_scikit_learn_on_sparks_own_tables(
    spark_build: SparkBuild,
):
    features = spark_build.table("feature_scaling").sort_values("feature_position")
    names = [f"{name}_z" for name in features["feature_name"]]
    customers = spark_build.table("int_customers_standardized").merge(
        spark_build.table("customer_segments")[["cust_id", "segment_id"]],
        on="cust_id",
    )
    matrix = customers[names].to_numpy(dtype=np.float64)
    labels = customers["segment_id"].to_numpy()
    metrics = spark_build.table("model_metrics").query("scope == 'model'")
    metrics = metrics.reset_index(drop=True)
    assert metrics["davies_bouldin"][0] == pytest.approx(
        davies_bouldin_score(matrix, labels), rel=RELATIVE
    )
    assert metrics["calinski_harabasz"][0] == pytest.approx(
        calinski_harabasz_score(matrix, labels), rel=RELATIVE
    )
    stored = spark_build.table("segment_centroids").pivot(
        index="segment_id", columns="feature_name", values="centroid_z"
    )
    centroids = stored.loc[labels, features["feature_name"]].to_numpy()
    inertia = ((matrix - centroids) ** 2).sum()
    assert metrics["inertia"][0] == pytest.approx(inertia, rel=RELATIVE)


@pytest.mark.slow
def test_spark_writes_the_exports(spark_build: SparkBuild):
    for name in ("customer_with_clusters", "customer_with_clusters_and_crm"):
        parquet = spark_build.exports / f"{name}.parquet" / "*.parquet"
        csv = spark_build.exports / f"{name}.csv" / "*.csv"
        with duckdb.connect() as con:
            rows = con.execute(f"select count(*) from read_parquet('{parquet}')")
            rows = rows.fetchone()
            csv_rows = con.execute(f"select count(*) from read_csv('{csv}')")
            csv_rows = csv_rows.fetchone()
        assert rows == (8950,)
        assert csv_rows == (8950,)
