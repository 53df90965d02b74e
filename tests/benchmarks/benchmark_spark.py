"""Spark against DuckDB: a whole build of one file on each (not a test: it prints).

Each data set is built twice from scratch with `cc-segmentation build`, every
model and dbt test: once on the default DuckDB target, once with `--target
spark` (dbt-spark's session method, a local Spark with every core of this
machine, in the build's own process).  One machine cannot show what a
cluster gains; the figures show the fixed cost a cluster must repay.

Usage, from the repository root:

    python tests/benchmarks/benchmark_spark.py                      # the real file
    python tests/benchmarks/benchmark_spark.py --rows 1000000 10000000

Generated files come from `cc_segmentation.data.sample` (seed 42).  Peak RSS
is that of the build process (os.wait4); on Spark the JVM is a process of its
own, so its heap is not in that figure: the driver memory is set by
$CC_SEGMENTATION_SPARK_DRIVER_MEMORY (8g by default).  Machines here are
shared: the load average is printed with every figure.
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

from benchmark_build import slowest_nodes

REPO = Path(__file__).resolve().parents[2]
REAL_CSV = (REPO / ".." / "shared" / "data" / "cc_general.csv").resolve()


def build_once(raw_path: Path, workdir: Path, target: str) -> tuple[float, float]:
    """Build ``raw_path`` on ``target`` in a child process: (wall s, peak RSS GiB)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        CC_SEGMENTATION_WAREHOUSE=str(workdir / "segmentation.duckdb"),
        CC_SEGMENTATION_EXPORTS=str(workdir / "exports"),
        CC_SEGMENTATION_TEMP_DIRECTORY=str(workdir / "tmp"),
        CC_SEGMENTATION_SPARK_WAREHOUSE=str(workdir / "spark"),
        CC_SEGMENTATION_SPARK_MASTER=f"local[{os.cpu_count()}]",
    )
    (workdir / "exports").mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "cc_segmentation", "build",
        "--target", target,
        "--target-path", str(workdir / "target"),
        "--log-path", str(workdir / "logs"),
        "--vars", json.dumps({"raw_path": str(raw_path)}),
    ]  # fmt: skip
    with open(workdir / "build.log", "ab") as log:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        tail = (workdir / "build.log").read_text(errors="replace")[-3000:]
        sys.exit(f"{target} build failed:\n{tail}")
    return seconds, usage.ru_maxrss / 1024**2


def report(name: str, raw_path: Path, tmp: Path, top: int) -> None:
    print(f"\n== {name}")
    seconds = {}
    for target in ("dev", "spark"):
        workdir = tmp / f"{name.replace(',', '').replace(' ', '_')}_{target}"
        load = os.getloadavg()[0]
        seconds[target], peak = build_once(raw_path, workdir, target)
        engine = "DuckDB" if target == "dev" else "Spark"
        print(
            f"   {engine:6} build {seconds[target]:7.1f} s, peak RSS of the "
            f"build process {peak:.2f} GiB, load before {load:.2f}"
        )
        for unique_id, node_seconds in slowest_nodes(workdir, top):
            print(f"   {node_seconds:9.1f} s  {unique_id.split('.', 2)[-1]}")
    print(f"   Spark / DuckDB: {seconds['spark'] / seconds['dev']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-path", type=Path, default=None)
    parser.add_argument("--rows", type=int, nargs="*", default=[], help="generate")
    parser.add_argument("--top", type=int, default=5, help="slowest nodes to list")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the warehouses here"
    )
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="cc-bench-spark-") as tmp:
        tmp = args.workdir or Path(tmp)
        if not args.rows:
            raw_path = (args.raw_path or REAL_CSV).resolve()
            report(raw_path.name, raw_path, tmp, args.top)
        for rows in args.rows:
            from cc_segmentation.data.sample import write_sample

            raw_path = tmp / f"sample_{rows}.parquet"
            write_sample(raw_path, n_rows=rows, seed=42)
            report(f"{rows:,} rows", raw_path, tmp, args.top)
            raw_path.unlink()


if __name__ == "__main__":
    main()
