"""Builds and readers never block each other (cc_segmentation.publishing).

Each build test publishes a first warehouse, then runs more builds on it:
with a reader active (what did the reader see, what was published), or to
check what a build carries over from the published warehouse (only the
history of incremental models, never a copy of the file)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

from cc_segmentation.publishing.runner import carry_over, lock_path, staging_path


def build_command(workdir: Path, raw_path: Path, **dbt_vars) -> list[str]:
    # these tests change k from build to build to tell the builds apart: each
    # refit is promoted by hand (the gate is tests/test_champion.py's)
    dbt_vars = {"promote": True, **dbt_vars}
    return [
        sys.executable,
        "-m",
        "cc_segmentation",
        "build",
        "--profiles-dir", str(REPO),
        "--project-dir", str(REPO),
        "--target-path", str(workdir / "target"),
        "--log-path", str(workdir / "logs"),
        "--vars", json.dumps({"raw_path": str(raw_path), **dbt_vars}),
    ]  # fmt: skip


def exports_of(warehouse: Path) -> Path:
    """The export directory every build of ``warehouse`` publishes to."""
    return warehouse.with_name("exports")


def build_env(warehouse: Path, workdir: Path) -> dict:
    # an existing directory, as warehouse/exports/ is in a clone
    exports_of(warehouse).mkdir(parents=True, exist_ok=True)
    return dict(
        os.environ,
        CC_SEGMENTATION_WAREHOUSE=str(warehouse),
        CC_SEGMENTATION_EXPORTS=str(exports_of(warehouse)),
    )


def run_build(warehouse, workdir, raw_path, *options, **dbt_vars):
    return subprocess.run(
        [*build_command(workdir, raw_path, **dbt_vars), *options],
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


@pytest.fixture(scope="session")
def published_once(tmp_path_factory, real_csv):
    """A warehouse and its exports published by a first build (k = 5), once."""
    root = tmp_path_factory.mktemp("published")
    warehouse = root / "segmentation.duckdb"
    first = run_build(warehouse, root / "first", real_csv, n_clusters=5)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    return warehouse


@pytest.fixture()
def published(published_once, tmp_path):
    """A test's own copy of the first build's warehouse and exports, to build
    over (a file copy takes a second, a build of the real file minutes)."""
    assert not published_once.with_name(published_once.name + ".wal").exists()
    warehouse = Path(shutil.copy2(published_once, tmp_path / published_once.name))
    shutil.copytree(exports_of(published_once), exports_of(warehouse))
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


def read_during_a_build(script: str, target: Path, published, tmp_path, real_csv):
    """Run the reader ``script`` on ``target`` while a second build (k = 6)
    publishes.  Returns the build and the reader's printed problems, reads,
    errors and the ids it saw, in order."""
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", script, str(target), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        second = run_build(published, tmp_path / "second", real_csv, n_clusters=6)
        time.sleep(0.5)  # let the reader see what was published
    finally:
        stop.touch()
        output = reader.communicate(timeout=60)[0]
    *problems, summary = output.strip().splitlines()
    reads, errors, seen = summary.split(" ")
    return second, problems, reads, errors, seen


def test_a_reader_polling_during_a_build_sees_no_error_and_no_mixed_model(
    published, tmp_path, real_csv
):
    before, _ = current_model(published)
    second, problems, reads, errors, seen = read_during_a_build(
        READER, published, published, tmp_path, real_csv
    )
    assert second.returncode == 0, second.stdout[-3000:]
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
        # the history was read from the held file (ATTACH ... READ_ONLY)
        assert "carried over main.segmentation_models (1 rows)" in second.stdout
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
    exports_before = snapshot(exports_of(published))
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
    assert snapshot(exports_of(published)) == exports_before
    # and the next build cleans up and publishes
    again = run_build(published, tmp_path / "again", real_csv, n_clusters=6)
    assert again.returncode == 0, again.stdout[-3000:]
    assert current_model(published)[1] == 8950


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every export file's bytes, by name."""
    files = {p.name: p.read_bytes() for p in directory.glob("customer_*")}
    assert len(files) == 4, sorted(files)
    return files


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


FITS = "select model_id from segmentation_models order by fitted_at"
HISTORY = "select distinct model_id from int_segment_history order by 1"
HISTORY_COLUMNS = """
    select table_name, column_index, column_name, data_type, is_nullable
    from duckdb_columns()
    where table_name in ('segmentation_models', 'int_segment_history')
    order by all
"""


def test_a_rebuild_does_not_grow_the_warehouse_and_keeps_the_history(
    published, tmp_path, real_csv
):
    first_size = published.stat().st_size
    (first_fit,) = query(published, FITS)
    columns = query(published, HISTORY_COLUMNS)
    # A table no model builds: a copy of the published file would keep it.
    with duckdb.connect(str(published)) as con:
        con.execute("create table main.stray as select 1 as id")

    same = run_build(published, tmp_path / "same", real_csv, n_clusters=5)
    assert same.returncode == 0, same.stdout[-3000:]
    # 16.8 -> 33.3 MB on the real file when the build started from a copy;
    # a rebuild only adds its scoring run to the history tables (21.8 ->
    # 23.6 MB before the promotion gate's tables, 22.3 -> 24.7 MB with them)
    assert published.stat().st_size <= 1.2 * first_size
    tables = {
        name for (name,) in query(published, "select table_name from duckdb_tables()")
    }
    assert "stray" not in tables and "customer_segments" in tables
    assert not staging_path(published).exists()
    # the same data and settings: the same fit, replaced, not duplicated
    assert query(published, FITS) == [first_fit]
    assert query(published, HISTORY_COLUMNS) == columns

    other = run_build(
        published, tmp_path / "other", real_csv, n_clusters=5, random_state=7
    )
    assert other.returncode == 0, other.stdout[-3000:]
    fits = query(published, FITS)
    assert len(fits) == 2 and fits[0] == first_fit
    assert query(published, HISTORY) == sorted(fits)
    # the new fit's segments were matched against the carried-over fit
    new_fit = f"from int_segment_history where model_id = '{fits[1][0]}'"
    assert ("first fit",) not in query(published, f"select status {new_fit}")
    assert query(
        published,
        f"select distinct previous_model_id {new_fit} and previous_model_id <> ''",
    ) == [first_fit]
    assert query(published, HISTORY_COLUMNS) == columns


def test_full_refresh_starts_the_history_afresh(published, tmp_path, real_csv):
    (first_fit,) = query(published, FITS)
    fresh = run_build(
        published, tmp_path / "fresh", real_csv, "--full-refresh",
        n_clusters=5, random_state=7,
    )  # fmt: skip
    assert fresh.returncode == 0, fresh.stdout[-3000:]
    assert "carried over" not in fresh.stdout
    (fit,) = query(published, FITS)
    assert fit != first_fit
    assert query(published, HISTORY) == [fit]
    assert query(published, "select distinct status from segment_lineage") == [
        ("first fit",)
    ]


def test_a_failed_build_or_bad_option_publishes_nothing(tmp_path):
    warehouse = tmp_path / "segmentation.duckdb"
    missing = tmp_path / "missing.csv"
    failed = run_build(warehouse, tmp_path / "failed", missing)
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "does not exist" in failed.stdout
    assert "were left as they were" in failed.stderr
    bad = run_build(warehouse, tmp_path / "bad", missing, "--no-such-option")
    assert bad.returncode == 2
    assert "No such option" in bad.stderr
    assert not warehouse.exists()
    assert not staging_path(warehouse).exists()


def test_carry_over_copies_tables_with_their_exact_schema(tmp_path):
    published = tmp_path / "published.duckdb"
    with duckdb.connect(str(published)) as con:
        con.execute("create schema history")
        con.execute(
            "create table history.fits (model_id varchar primary key, "
            "k bigint not null, inertia double, fitted_at timestamp)"
        )
        con.execute(
            "insert into history.fits values "
            "('a', 4, 1.5, '2026-01-01'), ('b', 5, null, '2026-01-02')"
        )
        con.execute("create table main.scores as select 1 as k")
    staging = tmp_path / "staging.duckdb"
    with duckdb.connect(str(published), read_only=True):  # a reader
        copied = carry_over(
            published, staging, [("history", "fits"), ("main", "not_built_yet")]
        )
    assert copied == [("history", "fits", 2)]
    schema = """
        select column_index, column_name, data_type, is_nullable
        from duckdb_columns() where table_name = 'fits' order by 1
    """
    constraints = """
        select constraint_type, constraint_text from duckdb_constraints()
        where table_name = 'fits' order by all
    """
    rows = "select * from history.fits order by model_id"
    assert query(staging, schema) == query(published, schema)
    assert query(staging, constraints) == query(published, constraints)
    assert query(staging, rows) == query(published, rows)
    # only what was asked for
    assert query(staging, "select table_name from duckdb_tables()") == [("fits",)]


def wait_for_log(workdir: Path, text: str, process: subprocess.Popen) -> None:
    """Wait until the build's dbt log mentions ``text``."""
    log = workdir / "logs" / "dbt.log"
    deadline = time.time() + 180
    while time.time() < deadline:
        if log.exists() and text in log.read_text(errors="ignore"):
            return
        if process.poll() is not None:
            pytest.fail(f"the build ended ({process.returncode}) before {text}")
        time.sleep(0.2)
    pytest.fail(f"the build never reached {text}")


def start_build(warehouse: Path, workdir: Path, raw_path: Path, **dbt_vars):
    return subprocess.Popen(
        build_command(workdir, raw_path, **dbt_vars),
        cwd=REPO,
        env=build_env(warehouse, workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


EXPORTS_READER = textwrap.dedent(
    """
    import io, os, sys, time
    import pandas as pd
    exports, stop = sys.argv[1], sys.argv[2]
    reads = errors = 0
    seen = []
    while not os.path.exists(stop):
        # open the directory once, then both files in it
        directory = os.open(exports, os.O_RDONLY | os.O_DIRECTORY)
        try:
            frames = []
            for name in ("customer_with_clusters", "customer_with_clusters_and_crm"):
                fd = os.open(name + ".parquet", os.O_RDONLY, dir_fd=directory)
                with os.fdopen(fd, "rb") as file:
                    frames.append(pd.read_parquet(io.BytesIO(file.read())))
            plain, crm = frames
            reads += 1
            k = plain["segment_id"].nunique()
            if not plain["segment_id"].equals(crm["segment_id"]):
                errors += 1
                print("mixed builds", k, crm["segment_id"].nunique(), flush=True)
            elif not seen or seen[-1] != k:
                seen.append(k)
        except Exception as error:
            errors += 1
            print("error:", error, flush=True)
        finally:
            os.close(directory)
        time.sleep(0.02)
    print(reads, errors, ",".join(map(str, seen)), flush=True)
    """
)


def test_a_reader_of_the_exports_never_sees_two_builds_mixed(
    published, tmp_path, real_csv
):
    second, problems, reads, errors, seen = read_during_a_build(
        EXPORTS_READER, exports_of(published), published, tmp_path, real_csv
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    assert problems == []
    assert int(errors) == 0
    assert int(reads) > 10
    assert seen == "5,6"  # the first build's exports, then the second's


def descendants(pid: int) -> list[int]:
    """Every live (not zombie) process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
            if state not in ("Z", "X"):
                children.setdefault(int(ppid), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def alive(pids: list[int]) -> list[int]:
    living = []
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] not in "ZX":
            living.append(pid)
    return living


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="ignore")
    except OSError:
        return ""


def test_kill_9_of_the_build_command_ends_the_build_and_frees_the_next_one(
    published, tmp_path, real_csv
):
    before = published.read_bytes()
    exports_before = snapshot(exports_of(published))
    workdir = tmp_path / "killed"
    build = subprocess.Popen(
        build_command(workdir, real_csv, n_clusters=6),
        cwd=REPO,
        env=build_env(published, workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_log(workdir, "int_kmeans_fit", build)
    tree = descendants(build.pid)
    # dbt runs in the command itself: no second build process below it
    assert [p for p in tree if "cc_segmentation" in command_line(p)] == []
    build.kill()  # kill -9 of the command alone, not of its group
    build.wait(timeout=30)
    # what the libraries started (multiprocessing's resource tracker) ends
    # by itself once the build is gone
    deadline = time.time() + 10
    while alive(tree) and time.time() < deadline:
        time.sleep(0.1)
    assert alive(tree) == [], [command_line(p) for p in alive(tree)]
    assert published.read_bytes() == before
    assert snapshot(exports_of(published)) == exports_before
    # the kernel dropped the lock with the process: the next build runs now
    again = run_build(published, tmp_path / "again", real_csv, n_clusters=6)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    assert "another build" not in again.stderr
    assert current_model(published)[1] == 8950


def test_ctrl_c_stops_the_build_and_leaves_nothing_behind(
    published, tmp_path, real_csv
):
    before = published.read_bytes()
    exports_before = snapshot(exports_of(published))
    workdir = tmp_path / "interrupted"
    build = subprocess.Popen(
        build_command(workdir, real_csv, n_clusters=6),
        cwd=REPO,
        env=build_env(published, workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as in a terminal, even when pytest runs in the background (nohup,
        # `&`), where the build would inherit SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for_log(workdir, "int_kmeans_fit", build)
    build.send_signal(signal.SIGINT)
    stdout, stderr = build.communicate(timeout=120)
    assert build.returncode == 130, stdout[-3000:] + stderr
    assert "the build was interrupted" in stderr
    assert published.read_bytes() == before
    assert snapshot(exports_of(published)) == exports_before
    hidden = {p.name for p in published.parent.iterdir() if p.name.startswith(".")}
    assert hidden <= {".segmentation.build.lock", ".exports.previous"}, hidden


def test_a_second_build_of_the_same_warehouse_refuses_at_once(tmp_path, real_csv):
    warehouse = tmp_path / "segmentation.duckdb"
    with open(lock_path(warehouse), "a") as lock:  # what a running build holds
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        second = run_build(warehouse, tmp_path / "second", real_csv)
    assert second.returncode == 75, second.stdout[-3000:] + second.stderr
    assert f"another build of {warehouse} is running" in second.stderr
    assert not warehouse.exists() and not staging_path(warehouse).exists()


HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])  # read-write
    con.execute("create table main.analyst_notes as select 42 as note")
    print("holding", flush=True)
    time.sleep(600)
    """
)


def hold_read_write(warehouse: Path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(warehouse)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_writer_holding_the_warehouse_stops_the_publish_and_keeps_its_writes(
    published, tmp_path, real_csv
):
    before = current_model(published)
    exports_before = snapshot(exports_of(published))
    workdir = tmp_path / "second"
    build = start_build(published, workdir, real_csv, n_clusters=6)
    # the writer comes while dbt builds, after the history was carried over
    wait_for_log(workdir, "int_kmeans_fit", build)
    holder = hold_read_write(published)
    try:
        stdout, stderr = build.communicate(timeout=600)
        assert build.returncode == 75, stdout[-3000:] + stderr
        assert "Traceback" not in stdout + stderr
        assert f"{published} is open read-write in process {holder.pid}" in stderr
        assert "published" not in stdout.splitlines()[-1]
        assert snapshot(exports_of(published)) == exports_before
        # while it holds the file, a new build refuses at once
        again = run_build(published, tmp_path / "again", real_csv)
        assert again.returncode == 75
        assert "open read-write" in again.stderr
    finally:
        holder.kill()  # kill -9: its write-ahead log stays beside the file
        holder.wait(timeout=30)
    wal = published.with_name(published.name + ".wal")
    assert wal.exists()
    stray = run_build(published, tmp_path / "stray", real_csv, n_clusters=6)
    assert stray.returncode == 2
    assert f"{wal} is left by a process" in stray.stderr
    assert wal.exists()
    # the way out the message gives: open it read-write once, checkpoint
    with duckdb.connect(str(published)) as con:
        con.execute("checkpoint")
    assert not wal.exists()
    # the old build and the writer's table are both in the warehouse
    assert current_model(published) == before
    assert query(published, "select note from analyst_notes") == [(42,)]
    after = run_build(published, tmp_path / "after", real_csv, n_clusters=6)
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-2000:]
    assert current_model(published)[0] != before[0]


@pytest.mark.parametrize("selection", [[], ["--select", "customer_segments"]])
def test_a_damaged_warehouse_is_named_with_the_way_out(
    published, tmp_path, real_csv, selection
):
    with open(published, "r+b") as file:
        file.truncate(published.stat().st_size // 2)
    damaged = published.read_bytes()
    failed = run_build(published, tmp_path / "failed", real_csv, *selection)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    assert ".building" not in output  # the hidden build copy is not the news
    assert f"the published warehouse {published} is damaged" in failed.stderr
    assert "--full-refresh" in failed.stderr
    assert published.read_bytes() == damaged
    fresh = run_build(published, tmp_path / "fresh", real_csv, "--full-refresh")
    assert fresh.returncode == 0, fresh.stdout[-3000:] + fresh.stderr[-2000:]
    assert current_model(published)[1] == 8950
