"""What the scoring history costs, run after run (not a test: it prints).

Publishes one file several times into a fresh warehouse with
`cc-segmentation build`, as a monthly schedule would, and prints per run:

- the build's wall time and peak RSS;
- the node time of scoring_runs, customer_segment_history and
  segment_migrations and of their tests (run_results.json);
- the rows of customer_segment_history and the warehouse file size;
- how long the runner's carry-over of the history takes (the history tables
  copied alone into a scratch file with ``runner.carry_over``, as the next
  build will) and of every table the next build carries over.

Usage, from the repository root:

    python tests/benchmarks/benchmark_history.py --raw-path /work/data/s1m.parquet
    python tests/benchmarks/benchmark_history.py --runs 6 --vars '{refit: false}'

Every run scores the same file, so after the first the fit is reused (the
everyday rebuild); the history grows by the file's customers each run.  The
machine is shared: the load average is printed with every figure.
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
HISTORY_TABLES = [
    ("main", "scoring_runs"),
    ("main", "customer_segment_history"),
    ("main", "segment_migrations"),
]
LIFECYCLE_NODES = (
    "scoring_runs",
    "customer_segment_history",
    "segment_migrations",
)


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
    with open(workdir / "build.log", "ab") as log:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        tail = (workdir / "build.log").read_text(errors="replace")[-3000:]
        sys.exit(f"build failed:\n{tail}")
    return seconds, usage.ru_maxrss / 1024**2


def lifecycle_node_times(workdir: Path) -> dict[str, float]:
    """Seconds of each lifecycle model and of each test that reads one."""
    results = json.loads((workdir / "target" / "run_results.json").read_text())
    manifest = json.loads((workdir / "target" / "manifest.json").read_text())
    times = {}
    for result in results["results"]:
        node = manifest["nodes"].get(result["unique_id"], {})
        parents = node.get("depends_on", {}).get("nodes", [])
        name = result["unique_id"].split(".")[-1]
        reads_lifecycle = any(p.split(".")[-1] in LIFECYCLE_NODES for p in parents)
        if name in LIFECYCLE_NODES or (
            result["unique_id"].startswith("test.") and reads_lifecycle
        ):
            times[result["unique_id"].split(".")[2]] = result["execution_time"]
    return times


def carry_over_seconds(published: Path, tables: list[tuple[str, str]]) -> float:
    """Time the runner's carry-over of ``tables`` into a scratch file."""
    from cc_segmentation.publishing.runner import carry_over

    scratch = published.with_name("carry_over_scratch.duckdb")
    scratch.unlink(missing_ok=True)
    start = time.perf_counter()
    carry_over(published, scratch, tables)
    seconds = time.perf_counter() - start
    scratch.unlink(missing_ok=True)
    return seconds


def persistent_tables(workdir: Path) -> list[tuple[str, str]]:
    """Every table the runner carries over (incremental models, snapshots)."""
    manifest = json.loads((workdir / "target" / "manifest.json").read_text())
    return sorted(
        (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "snapshot")
        and node["config"]["materialized"] in ("incremental", "snapshot")
    )


def history_rows(published: Path) -> int:
    import duckdb

    with duckdb.connect(str(published), read_only=True) as con:
        ((rows,),) = con.execute(
            "select count(*) from customer_segment_history"
        ).fetchall()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-path", type=Path, default=REAL_CSV)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--vars", default="{}", help="extra dbt vars, as JSON")
    parser.add_argument("--workdir", type=Path, default=None, help="keep it here")
    args = parser.parse_args()
    dbt_vars = json.loads(args.vars)
    raw_path = args.raw_path.resolve()
    print(f"{os.cpu_count()} cores, load {os.getloadavg()}, {raw_path}")
    with tempfile.TemporaryDirectory(prefix="cc-history-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        published = workdir / "segmentation.duckdb"
        for run in range(1, args.runs + 1):
            load = os.getloadavg()[0]
            seconds, peak = build_once(raw_path, workdir, dbt_vars)
            times = lifecycle_node_times(workdir)
            size = published.stat().st_size / 1024**3
            history = carry_over_seconds(published, HISTORY_TABLES)
            everything = carry_over_seconds(published, persistent_tables(workdir))
            print(
                f"\nrun {run}: build {seconds:.1f} s, peak RSS {peak:.2f} GiB, "
                f"load before {load:.2f}"
            )
            print(
                f"   history {history_rows(published):,} rows, warehouse "
                f"{size:.2f} GiB; the next carry-over: history tables "
                f"{history:.1f} s, all {everything:.1f} s"
            )
            print(f"   lifecycle nodes {sum(times.values()):.2f} s:")
            for name, node_seconds in sorted(times.items(), key=lambda t: -t[1]):
                print(f"   {node_seconds:7.2f} s  {name}")


if __name__ == "__main__":
    main()
