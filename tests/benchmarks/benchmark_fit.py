"""How close the sampled fit is to a full fit (not a test: it prints).

Above ``fit_max_rows`` customers the KMeans fit runs on a fixed-seed sample
and Lloyd passes over every customer refine it in SQL (int_kmeans_fits).
This script builds the fit for a file into a temporary warehouse, then
fits scikit-learn's KMeans on *every* customer with the same k and
settings, and prints the KMeans objective (inertia: sum of squared
distances to the nearest centroid) of each on every customer, computed
here in numpy from the centroids alone.

Usage, from the repository root:

    python tests/benchmarks/benchmark_fit.py --raw-path data/s1m.parquet
    python tests/benchmarks/benchmark_fit.py --rows 1000000   # generates a file
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
from sklearn.cluster import KMeans

REPO = Path(__file__).resolve().parents[2]


def objective(matrix: np.ndarray, centroids: np.ndarray) -> float:
    """Sum over rows of the squared distance to the nearest centroid."""
    total = 0.0
    for start in range(0, len(matrix), 200_000):
        block = matrix[start : start + 200_000]
        sq = ((block[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
        total += float(sq.min(axis=1).sum())
    return total


def centroid_matrix(con: duckdb.DuckDBPyConnection, table: str, model_id: str):
    rows = con.execute(
        f"select segment_id, feature_position, centroid_z from {table} "
        "where model_id = ? order by segment_id, feature_position",
        [model_id],
    ).fetchall()
    k = max(r[0] for r in rows)
    return np.array([r[2] for r in rows]).reshape(k, -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-path", type=Path)
    parser.add_argument("--rows", type=int, help="generate a file of this many rows")
    parser.add_argument("--vars", default="{}", help="extra dbt vars, as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        raw_path = args.raw_path
        if raw_path is None:
            raw_path = workdir / "sample.parquet"
            subprocess.run(
                [sys.executable, "-m", "cc_segmentation", "sample", "--rows",
                 str(args.rows or 1_000_000), "--seed", "42", "--out", str(raw_path)],
                check=True,
            )  # fmt: skip
        warehouse = workdir / "fit.duckdb"
        env = dict(os.environ, CC_SEGMENTATION_WAREHOUSE=str(warehouse))
        dbt_vars = {"raw_path": str(raw_path.resolve()), **json.loads(args.vars)}
        start = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).with_name("dbt")), "run", "--quiet",
             "--select", "+int_kmeans_fit", "--vars", json.dumps(dbt_vars),
             "--target-path", str(workdir / "target")],
            cwd=REPO, env=env, check=True,
        )  # fmt: skip
        build_seconds = time.perf_counter() - start

        con = duckdb.connect(str(warehouse), read_only=True)
        settings = con.execute(
            "select model_id, n_clusters, n_init, random_state, max_iter, "
            "n_rows, n_sample_rows, kmeans_refinement_passes, features "
            "from int_kmeans_fit_settings"
        ).fetchall()[0]
        model_id, k, n_init, seed, max_iter, n_rows, n_sample, passes, features = (
            settings
        )
        columns = ", ".join(f"{f}_z" for f in features.split(","))
        arrays = con.execute(
            f"select {columns} from int_customers_standardized order by cust_id"
        ).fetchnumpy()
        matrix = np.column_stack([arrays[c] for c in arrays])
        sample_fit = centroid_matrix(con, "int_kmeans_sample_fits", model_id)
        refined = centroid_matrix(con, "int_kmeans_fit", model_id)
        stored_inertia = con.execute(
            "select max(inertia) from int_kmeans_fit"
        ).fetchall()[0][0]
        con.close()

    start = time.perf_counter()
    full = KMeans(
        n_clusters=k, n_init=n_init, random_state=seed, max_iter=max_iter
    ).fit(matrix)
    full_seconds = time.perf_counter() - start
    full_objective = objective(matrix, full.cluster_centers_)
    print(f"customers {n_rows:,}, k = {k}, sample {n_sample:,}, {passes} Lloyd passes")
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'fit':<44}{'objective on all rows':>24}{'vs full fit':>13}")
    for name, centroids in [
        ("scikit-learn on every row", full.cluster_centers_),
        (f"scikit-learn on the {n_sample:,}-row sample", sample_fit),
        ("sample + Lloyd passes in SQL (the project)", refined),
    ]:
        value = objective(matrix, centroids)
        print(f"{name:<44}{value:>24,.1f}{value / full_objective - 1:>+12.3%}")
    print(f"int_kmeans_fit.inertia (SQL) {stored_inertia:,.1f}")
    print(f"dbt run +int_kmeans_fit {build_seconds:.1f} s")
    print(f"scikit-learn KMeans on every row {full_seconds:.1f} s")


if __name__ == "__main__":
    main()
