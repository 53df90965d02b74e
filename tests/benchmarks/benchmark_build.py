"""Wall time, peak memory and slowest models of a whole build (not a test: it prints).

Each data set is built with the build wrapper, `cc-segmentation build`
(every model and dbt test), into a fresh temporary warehouse, then rebuilt
unchanged (the everyday build: the k scan and the fit are reused).

Usage, from the repository root:

    python tests/benchmarks/benchmark_build.py                      # the real file
    python tests/benchmarks/benchmark_build.py --rows 1000000 10000000
    python tests/benchmarks/benchmark_build.py --raw-path my.parquet

Generated files come from `cc_segmentation.data.sample` (seed 42). Peak RSS is
the largest resident set of the build process and its children, from
`os.wait4`.  Machines here are shared: the load average is printed with
every figure.
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

REPO = Path(__file__).resolve().parents[2]
REAL_CSV = (REPO / ".." / "shared" / "data" / "cc_general.csv").resolve()


def build_once(raw_path: Path, workdir: Path, dbt_vars: dict) -> tuple[float, float]:
    """Run the build wrapper in a child process: (wall seconds, peak RSS GiB)."""
    env = dict(
        os.environ,
        CC_SEGMENTATION_WAREHOUSE=str(workdir / "segmentation.duckdb"),
        CC_SEGMENTATION_EXPORTS=str(workdir / "exports"),
        CC_SEGMENTATION_TEMP_DIRECTORY=str(workdir / "tmp"),
    )
    (workdir / "exports").mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "cc_segmentation", "build",
        "--target-path", str(workdir / "target"),
        "--log-path", str(workdir / "logs"),
        "--vars", json.dumps({"raw_path": str(raw_path), **dbt_vars}),
    ]  # fmt: skip
    log = open(workdir / "build.log", "ab")
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    log.close()
    if os.waitstatus_to_exitcode(status) != 0:
        tail = (workdir / "build.log").read_text(errors="replace")[-3000:]
        sys.exit(f"build failed:\n{tail}")
    return seconds, usage.ru_maxrss / 1024**2


def slowest_nodes(workdir: Path, n: int) -> list[tuple[str, float]]:
    """The n slowest models and tests of the last run (run_results.json)."""
    results = json.loads((workdir / "target" / "run_results.json").read_text())
    timed = [(r["unique_id"], r["execution_time"]) for r in results["results"]]
    return sorted(timed, key=lambda item: -item[1])[:n]


def report(
    name: str, raw_path: Path, tmp: Path, dbt_vars: dict, top: int, rebuild: bool
) -> None:
    workdir = tmp / name.replace(",", "").replace(" ", "_")
    load = os.getloadavg()[0]
    seconds, peak = build_once(raw_path, workdir, dbt_vars)
    print(f"\n== {name}: build {seconds:.1f} s, peak RSS {peak:.2f} GiB")
    print(f"   load before the build {load:.2f}")
    for unique_id, node_seconds in slowest_nodes(workdir, top):
        print(f"   {node_seconds:7.1f} s  {unique_id.split('.', 2)[-1]}")
    if not rebuild:
        return
    load = os.getloadavg()[0]
    seconds, peak = build_once(raw_path, workdir, dbt_vars)
    print(
        f"   rebuild, unchanged data: {seconds:.1f} s, peak RSS {peak:.2f} GiB, "
        f"load {load:.2f}"
    )
    size = (workdir / "segmentation.duckdb").stat().st_size / 1024**3
    print(f"   warehouse file {size:.2f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-path", type=Path, default=None)
    parser.add_argument("--rows", type=int, nargs="*", default=[], help="generate")
    parser.add_argument("--top", type=int, default=8, help="slowest nodes to list")
    parser.add_argument("--vars", default="{}", help="extra dbt vars, as JSON")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the warehouses here"
    )
    parser.add_argument(
        "--no-rebuild", dest="rebuild", action="store_false", help="build only once"
    )
    args = parser.parse_args()
    dbt_vars = json.loads(args.vars)
    print(f"{os.cpu_count()} cores, load {os.getloadavg()}")

    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        tmp = args.workdir or Path(tmp)
        if not args.rows:
            raw_path = (args.raw_path or REAL_CSV).resolve()
            report(raw_path.name, raw_path, tmp, dbt_vars, args.top, args.rebuild)
        for rows in args.rows:
            from cc_segmentation.data.sample import write_sample

            raw_path = tmp / f"sample_{rows}.parquet"
            started = time.perf_counter()
            write_sample(raw_path, n_rows=rows, seed=42)
            elapsed = time.perf_counter() - started
            print(f"\ngenerated {rows:,} rows in {elapsed:.1f} s")
            report(f"{rows:,} rows", raw_path, tmp, dbt_vars, args.top, args.rebuild)
            raw_path.unlink()


if __name__ == "__main__":
    main()
