"""The drift alarms on the real file (not a test: it prints; the README's demo).

In a temporary directory it publishes three scoring runs into one warehouse
with ``cc-segmentation build``:

1. the real file, fitted (``refit: true``): the fit-time baselines are
   stored, and every check compares the fit with itself;
2. a shifted copy, scored with that model (``refit: false``): a fixed-seed
   third of the customers with ``BALANCE`` x 1.5, the issue's example of a
   portfolio that moved; it prints that run's ``segment_drift`` rows and
   the migration matrix from run 1 (``segment_migrations``);
3. stronger shifts (``--also FACTOR:SHARE``, by default x 5 for a third
   and x 5 for half the customers), each scored with the same model, to
   show a warning and a failed build: a check at its error threshold fails
   ``dbt build``, and nothing is published.

Each shifted copy is made from the real file, not from the previous copy.

Usage, from the repository root (needs ``refit: false``, issue 10):

    python tests/benchmarks/demo_drift.py
    python tests/benchmarks/demo_drift.py --factor 1.5 --share 0.3333 --also

The copies are made by ``cc_segmentation.data.shift.shifted_copy``, as in
the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from cc_segmentation.data.shift import SEED, shifted_copy

REPO = Path(__file__).resolve().parents[2]
REAL_CSV = (REPO / ".." / "shared" / "data" / "cc_general.csv").resolve()


def build(workdir: Path, dbt_vars: dict) -> tuple[int, str]:
    """``cc-segmentation build`` of the demo's warehouse: (exit code, output)."""
    env = dict(
        os.environ,
        CC_SEGMENTATION_WAREHOUSE=str(workdir / "segmentation.duckdb"),
        CC_SEGMENTATION_EXPORTS=str(workdir / "exports"),
        CC_SEGMENTATION_TEMP_DIRECTORY=str(workdir / "tmp"),
    )
    command = [
        sys.executable, "-m", "cc_segmentation", "build",
        "--target-path", str(workdir / "target"),
        "--log-path", str(workdir / "logs"),
        "--vars", json.dumps(dbt_vars),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout + done.stderr


def query(warehouse: Path, sql: str) -> pd.DataFrame:
    """Run SQL on the published warehouse (read-only, closed afterwards)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


LATEST_RUN = "(select run_id from segment_drift order by recorded_at desc limit 1)"


def latest_drift(warehouse: Path) -> pd.DataFrame:
    """The latest run's rows of segment_drift, in the model's order."""
    return query(
        warehouse,
        "select model_id, check_name, subject, n_customers, fit_value,"
        " current_value, check_value, warn_threshold, error_threshold, status,"
        f" refit_recommended from segment_drift where run_id = {LATEST_RUN}"
        " order by case check_name when 'baseline' then 0 when 'feature_psi'"
        " then 1 when 'segment_mix_psi' then 2 when 'confidence_drop' then 3"
        " else 4 end, subject <> 'all', segment_id, rowid",
    )


def migration_matrix(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """segment_migrations of the last run pair, as its rows and as a matrix
    of customers (from segment down, to segment across)."""
    rows = query(
        warehouse,
        "select coalesce(from_segment_name, '(appeared)') as from_segment_name,"
        " coalesce(to_segment_name, '(disappeared)') as to_segment_name,"
        " customers, share_of_from_segment from segment_migrations"
        f" where to_run_id = {LATEST_RUN}"
        " order by from_segment_name, to_segment_name",
    )
    matrix = rows.pivot_table(
        index="from_segment_name",
        columns="to_segment_name",
        values="customers",
        aggfunc="sum",
        fill_value=0,
    )
    return rows, matrix


def show(frame: pd.DataFrame) -> None:
    with pd.option_context(
        "display.width", 200, "display.max_columns", None, "display.max_rows", None
    ):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


def alarms(output: str) -> list[str]:
    """dbt's lines naming a drift test that warned or failed (no colours)."""
    lines = (re.sub(r"\x1b\[[0-9;]*m", "", line) for line in output.splitlines())
    return [
        line.strip()
        for line in lines
        if ("Warning in test" in line or "Failure in test" in line) and "drift" in line
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-path", type=Path, default=REAL_CSV)
    parser.add_argument("--factor", type=float, default=1.5)
    parser.add_argument("--share", type=float, default=1 / 3)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--also",
        nargs="*",
        default=["5:0.3333333333333333", "5:0.5"],
        metavar="FACTOR:SHARE",
        help="stronger shifts scored after the first (default: x5 for a third, "
        "x5 for half); none with a bare --also",
    )
    parser.add_argument("--workdir", type=Path, help="keep the files here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="demo_drift_"))
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = workdir / "segmentation.duckdb"
    print(f"working in {workdir}")

    code, output = build(workdir, {"raw_path": str(args.raw_path)})
    if code != 0:
        sys.exit(f"the first build failed ({code}):\n{output[-3000:]}")
    first = latest_drift(warehouse)
    (model_id,) = first["model_id"].unique()
    psi = first.loc[first["check_name"].str.endswith("psi"), "check_value"]
    print(
        f"\n== run 1: {args.raw_path.name}, refit: model {model_id}; "
        f"{len(first)} checks, statuses {sorted(first['status'].unique())}, "
        f"largest PSI {psi.max():.4f}"
    )

    shifts = [(args.factor, args.share)] + [
        (float(f), float(s)) for f, s in (item.split(":") for item in args.also)
    ]
    for number, (factor, share) in enumerate(shifts, start=2):
        copy = shifted_copy(
            args.raw_path,
            workdir / f"shifted_{number}.csv",
            factor=factor,
            share=share,
            seed=args.seed,
        )
        print(
            f"\n== run {number}: BALANCE x {factor:g} for "
            f"{len(copy.shifted_ids):,} of {copy.n_rows:,} customers "
            f"(seed {args.seed}), scored with refit: false"
        )
        before = query(warehouse, f"select {LATEST_RUN} as run_id")["run_id"][0]
        code, output = build(workdir, {"raw_path": str(copy.path), "refit": False})
        for line in alarms(output):
            print("   ", line)
        if code != 0:
            after = query(warehouse, f"select {LATEST_RUN} as run_id")["run_id"][0]
            print(
                f"build exited {code}: nothing published (the latest published "
                f"run is {'still the previous one' if after == before else after})"
            )
            if not alarms(output):
                print(output[-3000:])
            continue
        drift = latest_drift(warehouse)
        if set(drift["model_id"]) != {model_id}:
            sys.exit(
                f"run {number} used model {set(drift['model_id'])}, not {model_id}: "
                "this checkout does not score with refit: false yet"
            )
        print(f"refit_recommended: {bool(drift['refit_recommended'].any())}")
        show(drift.drop(columns=["model_id", "refit_recommended"]))
        rows, matrix = migration_matrix(warehouse)
        print("\nmigrations from the previous run (segment_migrations):")
        show(rows[rows["from_segment_name"] != rows["to_segment_name"]])
        print("\ncustomers, from (rows) -> to (columns):")
        print(matrix.to_string())


if __name__ == "__main__":
    main()
