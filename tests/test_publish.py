"""Builds and readers never block each other (cc_segmentation.build).

Each test publishes a first warehouse, then runs a second build with
different settings (so the model id changes) while a reader is active, and
checks what the reader saw and what was published."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from conftest import REPO


def build_command(workdir: Path, raw_path: Path, **dbt_vars) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cc_segmentation.build",
        "--profiles-dir", str(REPO),
        "--project-dir", str(REPO),
        "--target-path", str(workdir / "target"),
        "--log-path", str(workdir / "logs"),
        "--vars", json.dumps({"raw_path": str(raw_path), **dbt_vars}),
    ]  # fmt: skip


def build_env(warehouse: Path, workdir: Path) -> dict:
    (workdir / "exports").mkdir(parents=True, exist_ok=True)
    return dict(
        os.environ,
        CC_SEGMENTATION_WAREHOUSE=str(warehouse),
        CC_SEGMENTATION_EXPORTS=str(workdir / "exports"),
    )


def run_build(warehouse, workdir, raw_path, **dbt_vars):
    return subprocess.run(
        build_command(workdir, raw_path, **dbt_vars),
        cwd=REPO,
        env=build_env(warehouse, workdir),
        capture_output=True,
        text=True,
        check=False,
    )


def current_model(warehouse: Path) -> tuple[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select any_value(model_id), count(*) from customer_segments"
        ).fetchone()


@pytest.fixture()
def published(tmp_path, real_csv):
    """A warehouse published by a first build (k = 5)."""
    warehouse = tmp_path / "segmentation.duckdb"
    first = run_build(warehouse, tmp_path / "first", real_csv, n_clusters=5)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    return warehouse


READER = textwrap.dedent(
    """
    import sys, time, duckdb
    warehouse, stop = sys.argv[1], sys.argv[2]
    reads = errors = 0
    seen = []
    import os
    while not os.path.exists(stop):
        try:
            with duckdb.connect(warehouse, read_only=True) as con:
                ids = con.execute(
                    "select distinct model_id from customer_segments "
                    "union select distinct model_id from segment_centroids"
                ).fetchall()
            reads += 1
            if len(ids) != 1:
                errors += 1
                print("inconsistent read:", ids, flush=True)
            elif not seen or seen[-1] != ids[0][0]:
                seen.append(ids[0][0])
        except Exception as error:
            errors += 1
            print("error:", error, flush=True)
        time.sleep(0.02)
    print(reads, errors, ",".join(seen), flush=True)
    """
)


def test_a_reader_polling_during_a_build_sees_no_error_and_no_mixed_model(
    published, tmp_path, real_csv
):
    before, _ = current_model(published)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        second = run_build(published, tmp_path / "second", real_csv, n_clusters=6)
        time.sleep(0.5)  # let the reader see the new warehouse
    finally:
        stop.touch()
        output = reader.communicate(timeout=60)[0]
    assert second.returncode == 0, second.stdout[-3000:]
    *problems, summary = output.strip().splitlines()
    reads, errors, seen = summary.split(" ")
    assert problems == []
    assert int(errors) == 0
    assert int(reads) > 10
    after, _ = current_model(published)
    assert after != before
    assert seen.split(",") == [before, after]


def test_a_build_succeeds_while_a_read_only_connection_is_held(
    published, tmp_path, real_csv
):
    before, rows = current_model(published)
    with duckdb.connect(str(published), read_only=True) as held:
        second = run_build(published, tmp_path / "second", real_csv, n_clusters=6)
        assert second.returncode == 0, second.stdout[-3000:]
        # the held connection still reads the warehouse it opened
        assert (
            held.execute(
                "select any_value(model_id) from customer_segments"
            ).fetchone()[0]
            == before
        )
    after, after_rows = current_model(published)
    assert after != before
    assert after_rows == rows == 8950


def test_a_killed_build_leaves_the_published_warehouse_intact(
    published, tmp_path, real_csv
):
    before = published.read_bytes()
    workdir = tmp_path / "killed"
    build = subprocess.Popen(
        build_command(workdir, real_csv, n_clusters=6),
        cwd=REPO,
        env=build_env(published, workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    log = workdir / "logs" / "dbt.log"
    deadline = time.time() + 120
    while time.time() < deadline:
        if log.exists() and "int_kmeans_fit" in log.read_text(errors="ignore"):
            break  # the build is well under way
        time.sleep(0.2)
    else:
        pytest.fail("the build never reached the fit")
    os.killpg(build.pid, signal.SIGKILL)
    build.wait(timeout=30)
    assert published.read_bytes() == before
    # and the next build cleans up and publishes
    again = run_build(published, tmp_path / "again", real_csv, n_clusters=6)
    assert again.returncode == 0, again.stdout[-3000:]
    assert current_model(published)[1] == 8950
