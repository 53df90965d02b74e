"""Speed of the DBSCAN outlier flag, and its agreement with exact DBSCAN.

Not a test: it prints.  Usage, from the repository root:

    python tests/benchmarks/benchmark_outliers.py --rows 1000000
    python tests/benchmarks/benchmark_outliers.py --rows 100000 --agreement
    python tests/benchmarks/benchmark_outliers.py --raw-path my.parquet

It builds `+int_customer_outliers` (the outlier models and everything they
read) on a generated sample of N rows (seed 42) or on --raw-path, in a fresh
temporary warehouse, and prints the time dbt reports for each outlier model
and its tests, their sum, the wall time and the peak memory of the build.

With --agreement it then compares `is_dbscan_noise` with exact DBSCAN on
every customer, computed here independently: scikit-learn's brute-force
radius neighbours, in chunks so that memory stays bounded (a row is a core
point with at least min_samples rows within eps, counting itself; noise is
a non-core row with no core point within eps; checked against
`sklearn.cluster.DBSCAN` on the first 5,000 rows).  Two references:

- the same eps and min_samples as the pipeline (eps is the knee of the
  sample's k-distance curve);
- eps at the knee of the k-distance curve of every customer: what the
  pipeline would do if it ran DBSCAN on all of them.

For each it prints the share of customers with the same flag, the share
flagged by each, and the precision and recall of the pipeline's flag, for
all customers and for each `dbscan_scope`.  Exact DBSCAN on 100,000 rows
takes about a minute per reference and 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
from sklearn.cluster import DBSCAN
from sklearn.neighbors import NearestNeighbors

from cc_segmentation.segmentation.outliers import choose_eps
from cc_segmentation.segmentation.warehouse import model_features

REPO = Path(__file__).resolve().parents[2]
MODELS = (
    "int_dbscan_sample_label_cache",
    "int_dbscan_sample_labels",
    "int_dbscan_rule_labels",
    "int_customer_outliers",
)
MAX_AGREEMENT_ROWS = 200_000


def build(raw_path: Path, workdir: Path) -> tuple[float, dict[str, float]]:
    """`dbt build --select +int_customer_outliers`; wall time and node times."""
    env = dict(
        os.environ,
        CC_SEGMENTATION_WAREHOUSE=str(workdir / "segmentation.duckdb"),
        CC_SEGMENTATION_EXPORTS=str(workdir / "exports"),
    )
    (workdir / "exports").mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).with_name("dbt")),
        "build",
        "--select", "+int_customer_outliers",
        # only the tests of the selected models, not of their other children
        "--indirect-selection", "cautious",
        "--profiles-dir", str(REPO),
        "--project-dir", str(REPO),
        "--target-path", str(workdir / "target"),
        "--log-path", str(workdir / "logs"),
        "--vars", json.dumps({"raw_path": str(raw_path)}),
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"dbt build failed:\n{result.stdout.decode()[-3000:]}")
    run_results = json.loads((workdir / "target" / "run_results.json").read_text())
    times = {r["unique_id"]: r["execution_time"] for r in run_results["results"]}
    return seconds, times


def outlier_times(times: dict[str, float]) -> dict[str, float]:
    """Seconds of each outlier model, and of the tests on each."""
    out = {}
    for model in MODELS:
        out[model] = times[f"model.cc_segmentation.{model}"]
        out[f"  tests of {model}"] = sum(
            seconds
            for unique_id, seconds in times.items()
            if unique_id.startswith("test.") and f"_{model}_" in unique_id
        )
    return out


def exact_dbscan_noise(matrix: np.ndarray, eps: float, min_samples: int) -> np.ndarray:
    """DBSCAN's noise flag on every row, with bounded memory."""
    neighbours = NearestNeighbors(radius=eps, algorithm="brute").fit(matrix)
    counts = np.concatenate(
        [
            [len(n) for n in neighbours.radius_neighbors(chunk, return_distance=False)]
            for chunk in np.array_split(matrix, max(1, len(matrix) // 2000))
        ]
    )
    is_core = counts >= min_samples
    if not is_core.any():
        return np.ones(len(matrix), dtype=bool)
    nearest = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(matrix[is_core])
    to_core, _ = nearest.kneighbors(matrix)
    return ~is_core & (to_core[:, 0] > eps)


def agreement(database: Path) -> None:
    """Print the pipeline's noise flag against exact DBSCAN on every row."""
    with duckdb.connect(str(database), read_only=True) as con:
        features = model_features(con.table("feature_scaling"))
        columns = [f"{feature}_z" for feature in features]
        rows = con.sql(
            "select o.is_dbscan_noise, o.dbscan_scope, o.dbscan_eps, "
            "o.dbscan_min_samples, "
            + ", ".join(f's."{c}"' for c in columns)
            + " from int_customer_outliers o"
            " join int_customers_standardized s using (cust_id) order by cust_id"
        ).fetchnumpy()
    n_rows = len(rows["is_dbscan_noise"])
    if n_rows > MAX_AGREEMENT_ROWS:
        sys.exit(
            f"--agreement holds every row in memory: at most {MAX_AGREEMENT_ROWS:,}"
        )
    matrix = np.column_stack([np.asarray(rows[c], dtype=np.float64) for c in columns])
    flag = np.asarray(rows["is_dbscan_noise"], dtype=bool)
    scope = np.asarray(rows["dbscan_scope"]).astype(str)
    eps, min_samples = float(rows["dbscan_eps"][0]), int(rows["dbscan_min_samples"][0])

    check = matrix[:5000]
    sklearn_noise = DBSCAN(eps=eps, min_samples=min_samples).fit(check).labels_ == -1
    assert (exact_dbscan_noise(check, eps, min_samples) == sklearn_noise).all()

    started = time.perf_counter()
    own_eps = choose_eps(matrix, min_samples, max_rows=n_rows)
    print(
        f"knee of all {n_rows:,} rows: eps {own_eps:.3f} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    references = [
        (f"exact DBSCAN, same eps {eps:.3f}", eps),
        (f"exact DBSCAN, own knee eps {own_eps:.3f}", own_eps),
    ]
    print(
        f"pipeline: eps {eps:.3f}, min_samples {min_samples}, {flag.mean():.2%} noise"
    )
    for name, reference_eps in references:
        started = time.perf_counter()
        truth = exact_dbscan_noise(matrix, reference_eps, min_samples)
        print(f"{name} ({time.perf_counter() - started:.0f} s):")
        parts = [("all", np.ones(n_rows, dtype=bool))]
        parts += [(s, scope == s) for s in np.unique(scope)]
        for part, rows_in_part in parts:
            f, t = flag[rows_in_part], truth[rows_in_part]
            both = int((f & t).sum())
            precision = both / f.sum() if f.any() else float("nan")
            recall = both / t.sum() if t.any() else float("nan")
            print(
                f"  {part:>5} ({rows_in_part.sum():,} rows): same flag "
                f"{np.mean(f == t):.2%}; flagged {f.mean():.2%} vs {t.mean():.2%};"
                f" precision {precision:.2f}, recall {recall:.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-path", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=None, help="generate a sample")
    parser.add_argument("--agreement", action="store_true")
    args = parser.parse_args()
    if (args.rows is None) == (args.raw_path is None):
        parser.error("give exactly one of --rows and --raw-path")

    with tempfile.TemporaryDirectory(prefix="cc-bench-outliers-") as tmp:
        tmp = Path(tmp)
        if args.rows:
            from cc_segmentation.data.sample import write_sample

            raw_path = tmp / "sample.parquet"
            write_sample(raw_path, n_rows=args.rows, seed=42)
        else:
            raw_path = args.raw_path.resolve()
        seconds, times = build(raw_path, tmp / "build")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        print(f"build of +int_customer_outliers: {seconds:.1f} s, peak {peak:.2f} GiB")
        steps = outlier_times(times)
        for step, step_seconds in steps.items():
            print(f"  {step}: {step_seconds:.2f} s")
        print(f"  outlier models and their tests: {sum(steps.values()):.1f} s")
        if args.agreement:
            agreement(tmp / "build" / "segmentation.duckdb")


if __name__ == "__main__":
    main()
