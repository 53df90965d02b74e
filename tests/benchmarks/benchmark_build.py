"""Wall time and peak memory of a full `dbt build` (not a test: it prints).

Usage, from the repository root:

    python tests/benchmarks/benchmark_build.py                 # the real file
    python tests/benchmarks/benchmark_build.py --rows 1000000  # a generated sample
    python tests/benchmarks/benchmark_build.py --raw-path my.csv --repeat 3

Each run builds into a fresh temporary warehouse.  Peak memory is the
largest resident set of the dbt process (the Python model runs inside it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REAL_CSV = (REPO / ".." / "shared" / "data" / "cc_general.csv").resolve()


def build_once(raw_path: Path, workdir: Path, dbt_vars: dict) -> float:
    """Run `dbt build` in a child process and return its wall time (s)."""
    env = dict(
        os.environ,
        CC_SEGMENTATION_WAREHOUSE=str(workdir / "segmentation.duckdb"),
        CC_SEGMENTATION_EXPORTS=str(workdir / "exports"),
    )
    (workdir / "exports").mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).with_name("dbt")),
        "build",
        "--profiles-dir", str(REPO),
        "--project-dir", str(REPO),
        "--target-path", str(workdir / "target"),
        "--log-path", str(workdir / "logs"),
        "--vars", json.dumps({"raw_path": str(raw_path), **dbt_vars}),
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"dbt build failed:\n{result.stdout.decode()[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-path", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=None, help="generate a sample")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--vars", default="{}", help="extra dbt vars, as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        tmp = Path(tmp)
        if args.rows:
            from cc_segmentation.sample import write_sample

            raw_path = tmp / "sample.parquet"
            started = time.perf_counter()
            write_sample(raw_path, n_rows=args.rows, seed=42)
            elapsed = time.perf_counter() - started
            print(f"generated {args.rows:,} rows in {elapsed:.1f} s")
        else:
            raw_path = args.raw_path or REAL_CSV
        times = []
        for run in range(args.repeat):
            seconds = build_once(raw_path, tmp / f"run{run}", json.loads(args.vars))
            times.append(seconds)
            print(f"run {run + 1}: {seconds:.1f} s")
        # ru_maxrss of waited-for children: the largest single dbt process
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"dbt build on {raw_path.name}: median {statistics.median(times):.1f} s "
            f"over {len(times)} run(s), peak RSS {peak:.0f} MiB"
        )


if __name__ == "__main__":
    main()
