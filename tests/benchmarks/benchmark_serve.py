"""Latency and throughput of the scoring API over real HTTP (not a test: it prints).

Usage, from the repository root, after a build:

    python tests/benchmarks/benchmark_serve.py          # warehouse/segmentation.duckdb
    python tests/benchmarks/benchmark_serve.py --warehouse w.duckdb --clients 1 2
    python tests/benchmarks/benchmark_serve.py --singles 1000 --batches 50

It starts `python -m cc_segmentation serve` on the warehouse in a child
process, on a free port of 127.0.0.1 with the access log off, and waits for
`/health`.  The customers are the rows of `--csv` (the real file by
default), sent as a client would: JSON numbers, null for a blank cell.
Every body is encoded before the clock starts, and each client keeps one
connection open (`http.client`).  After 20 unmeasured warm-up requests, for
each number of concurrent clients (`--clients`, threads of this process,
the requests split between them):

- single: `--singles` requests of one customer each (`POST /score`);
- batch: `--batches` requests of `--batch-rows` customers (`POST /score`);
- csv: the same batches as CSV bodies (`POST /score/csv`).

It prints, for each, the p50, p90 and p99 latency, the maximum, requests
and customers per second; then the server's CPU time and peak RSS (from
/proc) and the load average before and after.  The machines here are
shared: read the figures with the load.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
REAL_CSV = (REPO / ".." / "shared" / "data" / "cc_general.csv").resolve()
WARMUP = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(warehouse: Path, port: int) -> subprocess.Popen:
    """``cc-segmentation serve`` in a child process, once /health answers 200."""
    server = subprocess.Popen(
        [
            sys.executable, "-m", "cc_segmentation", "serve",
            "--warehouse", str(warehouse), "--port", str(port),
            "--no-access-log", "--log-level", "warning",
        ],
        cwd=REPO,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            sys.exit(f"the server ended with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as answer:
                if answer.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            sys.exit("the server did not answer /health within 60 s")
        time.sleep(0.2)


def json_customers(csv_path: Path) -> list[dict]:
    """The file's rows as request customers: numbers, null for blank."""
    raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    rows = []
    for record in raw.to_dict("records"):
        rows.append(
            {
                column: value
                if column == "CUST_ID"
                else (float(value) if value else None)
                for column, value in record.items()
            }
        )
    return rows


def csv_body(rows: list[dict]) -> bytes:
    frame = pd.DataFrame(rows)
    text = io.StringIO()
    frame.to_csv(text, index=False)
    return text.getvalue().encode()


def run_requests(
    port: int, path: str, bodies: list[bytes], content_type: str, clients: int
) -> tuple[list[float], float]:
    """POST every body, split between ``clients`` threads: latencies (s) and
    the wall time of the whole run."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def client(share: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        mine = []
        for body in share:
            start = time.perf_counter()
            connection.request("POST", path, body, {"Content-Type": content_type})
            answer = connection.getresponse()
            payload = answer.read()
            mine.append(time.perf_counter() - start)
            if answer.status != 200:
                errors.append(f"{answer.status}: {payload[:300]!r}")
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [
        threading.Thread(target=client, args=(bodies[i::clients],))
        for i in range(clients)
    ]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        sys.exit(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return latencies, wall


def report(name: str, latencies: list[float], wall: float, rows_each: int) -> None:
    ms = np.array(latencies) * 1000
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    print(
        f"  {name:<26} n={len(ms):>4}  p50 {p50:7.1f} ms  p90 {p90:7.1f}  "
        f"p99 {p99:7.1f}  max {ms.max():7.1f}  {len(ms) / wall:7.1f} req/s  "
        f"{len(ms) * rows_each / wall:9,.0f} customers/s"
    )


def server_usage(pid: int) -> str:
    """CPU seconds and peak RSS of the server process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    peak = next(
        line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return f"server: {cpu:.1f} s CPU, peak RSS {int(peak) / 1024:.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=Path(
            os.environ.get("CC_SEGMENTATION_WAREHOUSE", "warehouse/segmentation.duckdb")
        ),
    )
    parser.add_argument("--csv", type=Path, default=REAL_CSV, help="the customers")
    parser.add_argument("--singles", type=int, default=500)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch-rows", type=int, default=1000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    if not args.warehouse.exists():
        sys.exit(f"{args.warehouse} does not exist: build it first")

    customers = json_customers(args.csv)
    n = len(customers)
    singles = [
        json.dumps(customers[i % n]).encode() for i in range(WARMUP + args.singles)
    ]
    batches = [
        [customers[(i * args.batch_rows + j) % n] for j in range(args.batch_rows)]
        for i in range(args.batches)
    ]
    json_batches = [json.dumps(batch).encode() for batch in batches]
    csv_batches = [csv_body(batch) for batch in batches]

    print(f"{os.cpu_count()} cores, load {os.getloadavg()}")
    print(
        f"warehouse {args.warehouse}, customers from {args.csv.name} ({n:,}); "
        f"batch bodies {statistics.mean(map(len, json_batches)) / 1e6:.2f} MB JSON, "
        f"{statistics.mean(map(len, csv_batches)) / 1e6:.2f} MB CSV"
    )
    port = free_port()
    server = start_server(args.warehouse.resolve(), port)
    try:
        run_requests(port, "/score", singles[:WARMUP], "application/json", 1)
        for clients in args.clients:
            print(f"\n{clients} client(s), load before {os.getloadavg()[0]:.2f}")
            latencies, wall = run_requests(
                port, "/score", singles[WARMUP:], "application/json", clients
            )
            report("single customer (JSON)", latencies, wall, 1)
            latencies, wall = run_requests(
                port, "/score", json_batches, "application/json", clients
            )
            report(
                f"{args.batch_rows:,} customers (JSON)",
                latencies,
                wall,
                args.batch_rows,
            )
            latencies, wall = run_requests(
                port, "/score/csv", csv_batches, "text/csv", clients
            )
            report(
                f"{args.batch_rows:,} customers (CSV)", latencies, wall, args.batch_rows
            )
        print(f"\n{server_usage(server.pid)}")
    finally:
        server.terminate()
        server.wait(30)
    print(f"load average after {os.getloadavg()}")


if __name__ == "__main__":
    main()
