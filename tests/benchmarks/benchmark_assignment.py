"""Wall time of the nearest-centroid macro against a numpy round trip.

Not a test: it prints.  Usage, from the repository root:

    python tests/benchmarks/benchmark_assignment.py                  # 10 M rows
    python tests/benchmarks/benchmark_assignment.py --rows 1000000 --repeat 5
    python tests/benchmarks/benchmark_assignment.py --database x.duckdb --only macro

It builds, in a temporary DuckDB file (or --database, kept and reused), a
standardized table of N rows: `cust_id` text and the 17 `<feature>_z`
columns, drawn from a standard normal by numpy with a fixed seed (42), and
k = 7 centroids in long form (segment_id, feature_name, centroid_z), also
standard normal times 1.5.  Then, in the same run and in turn, `--repeat`
times each:

- macro: the full `nearest_centroid` macro (dbt_project/macros/), rendered
  with jinja2 (it calls no dbt function), as `create table ... as`;
- nearest_only: the macro with nearest_only=true as one Lloyd pass of KMeans
  refinement uses it, the member count, inertia and mean z per segment;
- numpy: fetch the ids and the matrix (`fetchnumpy`), label every row with
  `sklearn.metrics.pairwise_distances_argmin`, write ids and segments back
  into a table through Arrow;
- storage: `create table ... as select *` of the macro's own result, i.e.
  what writing its columns costs, to read the macro's figure against.

It prints each median, the ratio of the numpy round trip to each, the
machine's load average, and the number of rows whose segment differs
between the macro (both modes) and numpy: ties are of measure zero with
random data, so it should be 0.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import jinja2
import numpy as np
import pyarrow as pa
from sklearn.metrics import pairwise_distances_argmin

REPO = Path(__file__).resolve().parents[2]
MACRO = REPO / "dbt_project" / "macros" / "scoring" / "nearest_centroid.sql"
# cc_features() in dbt_project/macros/features/cc_features.sql, in model order
FEATURES = [
    "balance",
    "balance_frequency",
    "purchases",
    "oneoff_purchases",
    "installments_purchases",
    "cash_advance",
    "purchases_frequency",
    "oneoff_purchases_frequency",
    "purchases_installments_frequency",
    "cash_advance_frequency",
    "cash_advance_trx",
    "purchases_trx",
    "credit_limit",
    "payments",
    "minimum_payments",
    "prc_full_payment",
    "tenure",
]
ARMS = ("macro", "nearest_only", "numpy", "storage")


def render_nearest_centroid(segment_ids: list[int], **options) -> str:
    """The macro's SQL over tables `customers` and `centroids`."""
    environment = jinja2.Environment(extensions=["jinja2.ext.do"])
    macros = environment.from_string(MACRO.read_text()).module
    return str(
        macros.nearest_centroid(
            "customers", "centroids", FEATURES, segment_ids, "2.0", **options
        )
    )


def write_standardized_customers(
    con: duckdb.DuckDBPyConnection, n_rows: int, k: int, seed: int = 42
) -> None:
    """Tables `customers` (N rows, standard normal z) and `centroids` (k)."""
    rng = np.random.default_rng(seed)
    columns = ", ".join(f"{feature}_z double" for feature in FEATURES)
    con.execute(f"create table customers (cust_id varchar, {columns})")
    chunk_rows = 1_000_000
    for start in range(0, n_rows, chunk_rows):
        stop = min(start + chunk_rows, n_rows)
        z = rng.standard_normal((stop - start, len(FEATURES)))
        chunk = pa.table(
            {
                "cust_id": [f"C{i:09d}" for i in range(start, stop)],
                **{f"{f}_z": z[:, i] for i, f in enumerate(FEATURES)},
            }
        )
        con.register("chunk", chunk)
        con.execute("insert into customers select * from chunk")
        con.unregister("chunk")
    centroids = 1.5 * rng.standard_normal((k, len(FEATURES)))
    con.execute(
        "create table centroids "
        "(segment_id bigint, feature_name varchar, centroid_z double)"
    )
    con.executemany(
        "insert into centroids values (?, ?, ?)",
        [
            (j + 1, feature, float(centroids[j, i]))
            for j in range(k)
            for i, feature in enumerate(FEATURES)
        ],
    )


def numpy_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    """Table `numpy_assigned` (cust_id, segment_id) by sklearn's argmin."""
    arrays = con.execute("select * from customers").fetchnumpy()
    # pop: each fetched column is freed once it is in the matrix
    matrix = np.column_stack([arrays.pop(f"{f}_z") for f in FEATURES])
    wide = con.execute(
        "select segment_id, "
        + ", ".join(
            f"max(centroid_z) filter (where feature_name = '{f}') as {f}"
            for f in FEATURES
        )
        + " from centroids group by segment_id order by segment_id"
    ).fetchnumpy()
    centroids = np.column_stack([wide[f] for f in FEATURES])
    nearest = pairwise_distances_argmin(matrix, centroids)
    labelled = pa.table(
        {"cust_id": arrays["cust_id"], "segment_id": wide["segment_id"][nearest]}
    )
    con.register("labelled", labelled)
    con.execute("create or replace table numpy_assigned as select * from labelled")
    con.unregister("labelled")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--k", type=int, default=7, help="number of segments")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=ARMS, action="append", help="arm(s) to run")
    parser.add_argument(
        "--database", type=Path, help="DuckDB file to keep and reuse (else temporary)"
    )
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB memory_limit")
    args = parser.parse_args()
    arms = args.only or list(ARMS)

    with tempfile.TemporaryDirectory(prefix="cc-assign-bench-") as tmp:
        path = args.database or Path(tmp) / "assignment.duckdb"
        is_new = not path.exists()
        con = duckdb.connect(str(path))
        con.execute(f"set memory_limit = '{args.memory_limit}'")
        if is_new:
            started = time.perf_counter()
            write_standardized_customers(con, args.rows, args.k)
            elapsed = time.perf_counter() - started
            print(f"generated {args.rows:,} rows, k={args.k}, in {elapsed:.1f} s")
        n_rows = con.execute("select count(*) from customers").fetchone()[0]
        segment_ids = [
            row[0]
            for row in con.execute(
                "select distinct segment_id from centroids order by 1"
            ).fetchall()
        ]
        full_sql = render_nearest_centroid(segment_ids)
        nearest_sql = render_nearest_centroid(segment_ids, nearest_only=True)
        lloyd_pass = (
            "select segment_id, count(*) as n_members, "
            "sum(sq_distance) as inertia, "
            + ", ".join(f"avg({f}_z) as {f}_z" for f in FEATURES)
            + f" from ({nearest_sql}) as assigned group by segment_id"
        )
        statements = {
            "macro": lambda: con.execute(
                f"create or replace table macro_assigned as {full_sql}"
            ),
            "nearest_only": lambda: con.execute(
                f"create or replace table lloyd_means as {lloyd_pass}"
            ),
            "numpy": lambda: numpy_round_trip(con),
            # the macro's result, written again: its share of storage
            "storage": lambda: con.execute(
                "create or replace table macro_copy as select * from macro_assigned"
            ),
        }
        if "storage" in arms and "macro" not in arms:
            statements["macro"]()
        times: dict[str, list[float]] = {arm: [] for arm in arms}
        loads = []
        for _ in range(args.repeat):
            for arm in arms:  # in turn, so drift of the machine hits each alike
                loads.append(os.getloadavg()[0])
                started = time.perf_counter()
                statements[arm]()
                times[arm].append(time.perf_counter() - started)

        print(
            f"{n_rows:,} rows, k={len(segment_ids)}, {args.repeat} run(s) each, "
            f"duckdb {duckdb.__version__}, load average (1 min) "
            f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores"
        )
        medians = {arm: statistics.median(times[arm]) for arm in arms}
        for arm in arms:
            runs = ", ".join(f"{t:.2f}" for t in times[arm])
            line = f"  {arm:13s} median {medians[arm]:7.2f} s  ({runs})"
            if "numpy" in medians and arm != "numpy":
                line += f"  numpy / {arm} = {medians['numpy'] / medians[arm]:.2f}"
            print(line)

        if {"macro", "numpy"} <= set(arms):
            mismatches = con.execute(
                "select count(*) from macro_assigned as m "
                "full join numpy_assigned as n using (cust_id) "
                "where m.segment_id is distinct from n.segment_id"
            ).fetchone()[0]
            print(f"  macro segment_id != numpy argmin: {mismatches:,} rows")
        if {"nearest_only", "numpy"} <= set(arms):
            mismatches = con.execute(
                f"select count(*) from ({nearest_sql}) as m "
                "full join numpy_assigned as n using (cust_id) "
                "where m.segment_id is distinct from n.segment_id"
            ).fetchone()[0]
            print(f"  nearest_only segment_id != numpy argmin: {mismatches:,} rows")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS {peak:.0f} MiB")
        con.close()


if __name__ == "__main__":
    main()
