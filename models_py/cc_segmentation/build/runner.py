"""Build a fresh warehouse beside the published one and publish it atomically.

``cc-segmentation build [dbt build options]`` runs ``dbt build``
(with ``dbtRunner``) on a new, private warehouse file and a new, private
export directory and, only if every model and test passes, puts both in
place of the published ones.  So:

- a build never fails because a dashboard or an analyst holds the published
  warehouse open (read-only connections do not lock the new file);
- a reader never sees a half-built warehouse: connections opened before the
  rename keep reading the previous file, new ones get the complete new one;
  the export directory is exchanged in one step
  (:mod:`cc_segmentation.build.publish`), so its files all come from one build;
- a build that fails or is killed leaves the published warehouse and its
  exports as they were (the new ones are discarded, or by the next build);
- a build refuses to publish over a warehouse another process holds
  read-write, or one beside a leftover write-ahead log, and says so.

The new file starts empty except for the tables whose rows outlive a build:
those of incremental models and snapshots (segmentation_models, the segment
history, the fit caches), found in dbt's manifest and copied from the
published warehouse.  Every other table is rebuilt, so rebuilding the same
data does not grow the warehouse.  ``--full-refresh`` copies nothing.  A
build that selects only some nodes (``--select``, ``--exclude``, ...) needs
the rest of the warehouse, so it starts from a copy of the published file
(and of its exports).

The command itself only holds the lock (a lock file beside the warehouse)
and supervises: dbt runs in a child process, in a process group of its own,
that inherits the lock and is killed by the kernel when the command dies,
even by ``kill -9``.  The lock file records that group, and a build does not
start while any process of an earlier build's group lives.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cc_segmentation import sql_literal
from cc_segmentation.build.publish import (
    BUSY,
    FULL_REFRESH_HINT,
    PublishRefused,
    check_readable,
    no_writer,
    prepare_exports_staging,
    publish_exports,
    unpublish_exports,
    wal_path,
)

if TYPE_CHECKING:
    import click
    from dbt.cli.main import dbtRunnerResult
    from dbt.contracts.graph.manifest import Manifest

PROGRAM = "cc-segmentation build"
DESCRIPTION = (
    "Build the warehouse with dbt build into a private file and, if every "
    "model and test passes, publish it and its exports atomically."
)
EPILOG = (
    "Every other option goes to `dbt build` (see `dbt build --help`), e.g. "
    "--select, --exclude, --full-refresh, --vars '{raw_path: FILE}', "
    "--target-path, --log-path. The warehouse is $CC_SEGMENTATION_WAREHOUSE "
    "(default warehouse/segmentation.duckdb), the exports "
    "$CC_SEGMENTATION_EXPORTS (default warehouse/exports). Exit codes: 0 "
    "published, 1 a model or test failed, 2 a dbt error, a bad option or a "
    "warehouse that needs attention, 75 busy (another build of it, or a "
    "read-write connection), 130 interrupted."
)
DEFAULT_WAREHOUSE = "warehouse/segmentation.duckdb"
WAREHOUSE_VARIABLE = "CC_SEGMENTATION_WAREHOUSE"
DEFAULT_EXPORTS = "warehouse/exports"
EXPORTS_VARIABLE = "CC_SEGMENTATION_EXPORTS"
# Set for the child that runs dbt: "<lock fd>:<supervisor pid>".
WORKER_VARIABLE = "_CC_SEGMENTATION_BUILD_WORKER"
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
# How long processes of a finished build may take to end by themselves
# (multiprocessing's resource tracker ends when its pipe closes).
GRACE_SECONDS = 5.0
# Options that make dbt build only part of the project.
SELECTION_OPTIONS = (
    "select",
    "exclude",
    "selector",
    "resource_types",
    "exclude_resource_types",
)
# Any explicit setting (this one is DuckDB's default).
CHECKPOINT_CONFIG = {"access_mode": "READ_WRITE"}
# Environment variables profiles.yml reads, set for the build.
BUILD_VARIABLES = (WAREHOUSE_VARIABLE, EXPORTS_VARIABLE)
# Nodes whose table keeps rows from earlier builds.
PERSISTENT_MATERIALIZATIONS = {"incremental", "snapshot"}


def staging_path(published: Path) -> Path:
    """Where the next build is written: a hidden file beside the published one."""
    return published.with_name(f".{published.stem}.building{published.suffix}")


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def persistent_tables(manifest: Manifest) -> list[tuple[str, str]]:
    """Schema and name of every table whose rows outlive a build.

    Parameters
    ----------
    manifest : Manifest
        The project as parsed by ``dbt parse``.

    Returns
    -------
    list of (schema, name)
        Incremental models and snapshots, sorted.
    """
    return sorted(
        (node.schema, node.alias)
        for node in manifest.nodes.values()
        if node.resource_type in ("model", "snapshot")
        and node.config.materialized in PERSISTENT_MATERIALIZATIONS
    )


def carry_over(
    published: Path, staging: Path, tables: list[tuple[str, str]]
) -> list[tuple[str, str, int]]:
    """Copy ``tables`` from ``published`` into the new file ``staging``.

    Each table is created from its own DDL in the published warehouse, so
    column order, types and constraints (a contract's primary key) are the
    same, and dbt's ``on_schema_change`` sees exactly the stored schema.
    Attaching read-only takes a shared lock, as readers do, so readers
    holding the published file open do not block it.

    Parameters
    ----------
    published : Path
        The published warehouse (only read).
    staging : Path
        The new warehouse, created if missing.
    tables : list of (schema, name)
        Tables to copy; those not in ``published`` (not built yet) are skipped.

    Returns
    -------
    list of (schema, name, rows)
        The tables copied.
    """
    copied = []
    with duckdb.connect(str(staging)) as con:
        (catalog,) = con.execute("select current_database()").fetchone()
        con.execute(f"attach {sql_literal(published)} as published (read_only)")
        for schema, name in tables:
            found = con.execute(
                "select sql from duckdb_tables() where database_name = 'published'"
                " and schema_name = ? and lower(table_name) = lower(?)",
                [schema, name],
            ).fetchall()
            if not found:
                continue
            con.execute(f"create schema if not exists {_identifier(schema)}")
            # The stored DDL names the table without its schema.
            con.execute(f"use {_identifier(catalog)}.{_identifier(schema)}")
            con.execute(found[0][0])
            target = f"{_identifier(schema)}.{_identifier(name)}"
            con.execute(f"insert into {target} select * from published.{target}")
            (rows,) = con.execute(f"select count(*) from {target}").fetchone()
            copied.append((schema, name, rows))
        con.execute(f"use {_identifier(catalog)}.main")
        con.execute("detach published")
    return copied


def _exit_code(result: dbtRunnerResult) -> int:
    """The code ``dbt`` itself would exit with for this dbtRunner result."""
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def build(dbt_args: list[str], published: Path, exports: Path) -> int:
    """Run ``dbt build`` into a new warehouse and publish it on success.

    Called with the build lock held (see :func:`supervise`).

    Parameters
    ----------
    dbt_args : list of str
        Extra arguments for ``dbt build`` (``--vars``, ``--select``, ...).
    published : Path
        The warehouse readers open.
    exports : Path
        The export directory readers open.

    Returns
    -------
    int
        dbt's exit code (0 when the new warehouse was published): 1 when a
        model or test failed, 2 on a dbt error or bad options.

    Raises
    ------
    PublishRefused
        The published warehouse cannot be read or replaced.
    """
    import click
    from dbt.cli.main import cli

    try:
        options = cli.commands["build"].make_context(PROGRAM, list(dbt_args))
    except click.exceptions.Exit as done:  # --help, --version
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    staging = staging_path(published)
    for leftover in (staging, wal_path(staging)):
        leftover.unlink(missing_ok=True)
    selects_part = any(options.params.get(name) for name in SELECTION_OPTIONS)
    reads_published = selects_part or not options.params.get("full_refresh")
    # Refuse now what would be refused at the end, before a long build.
    with no_writer(published):
        pass
    if reads_published and published.exists():
        check_readable(published)
    before = _identity(published)
    exports_staging = prepare_exports_staging(exports, selects_part)
    previous = {name: os.environ.get(name) for name in BUILD_VARIABLES}
    os.environ[WAREHOUSE_VARIABLE] = str(staging)  # profiles.yml reads them
    os.environ[EXPORTS_VARIABLE] = str(exports_staging)
    try:
        code = _build_staging(options, dbt_args, published, staging, selects_part)
    finally:
        _close_dbt_database()
        for name, value in previous.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value
    try:
        if code != 0:
            print(
                f"dbt build failed: {published} and {exports} were left as they were",
                file=sys.stderr,
            )
            return code
        # Fold any write-ahead log into the file before it is renamed: the
        # published warehouse must be one self-contained file.  A connection
        # with a configuration of its own, which DuckDB refuses if dbt's
        # database were still open in this process.
        with duckdb.connect(str(staging), config=CHECKPOINT_CONFIG) as con:
            con.execute("checkpoint")
        wal_path(staging).unlink(missing_ok=True)
        with no_writer(published):
            if _identity(published) != before:
                raise PublishRefused(
                    f"{published} was changed by another process during the "
                    "build; publishing would discard that change. Build "
                    "again; nothing was changed.",
                    BUSY,
                )
            publish_exports(exports_staging, exports)
            try:
                os.replace(staging, published)
            except OSError:
                unpublish_exports(exports)
                raise
        print(f"published {published} and {exports}")
        return 0
    finally:
        staging.unlink(missing_ok=True)
        wal_path(staging).unlink(missing_ok=True)
        shutil.rmtree(exports_staging, ignore_errors=True)


def _identity(path: Path) -> tuple[int, int, int] | None:
    """Inode, size and modification time: what a writer would change."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _close_dbt_database() -> None:
    """Close the database dbt-duckdb keeps open until the process exits.

    Its write lock would follow the file to the published name and make
    readers fail until this process exits.  ``close_all_connections`` is
    dbt-duckdb's own exit hook; the database closes when its environment is
    collected.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    gc.collect()


def _build_staging(
    options: click.Context,
    dbt_args: list[str],
    published: Path,
    staging: Path,
    selects_part: bool,
) -> int:
    """Parse the project, fill ``staging`` with what must carry over, build."""
    from click.core import ParameterSource
    from dbt.cli.main import cli, dbtRunner

    if selects_part and published.exists():
        # Unselected nodes are not rebuilt: start from the whole warehouse.
        # A reader only ever holds the published file read-only, so it is
        # consistent on disk and can be copied while it is open.
        shutil.copyfile(published, staging)
        return _exit_code(dbtRunner().invoke(["build", *dbt_args]))
    # Parse with the build's own project, profile and vars (configs and
    # sources are rendered at parse time), then build from that manifest.
    parse_options = {p.name for p in cli.commands["parse"].params}
    given = {
        name: value
        for name, value in options.params.items()
        if name in parse_options
        and options.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    # The build writes manifest.json; writing it here too would cost time.
    parsed = dbtRunner().invoke(["parse"], **{"write_json": False, **given})
    if not parsed.success:
        return _exit_code(parsed)
    manifest = parsed.result
    if published.exists() and not options.params.get("full_refresh"):
        try:
            copied = carry_over(published, staging, persistent_tables(manifest))
        except duckdb.Error as error:
            # check_readable passed, so a damaged table: say the same
            print(
                f"could not read {published} ({str(error).splitlines()[0]}): "
                f"{FULL_REFRESH_HINT}",
                file=sys.stderr,
            )
            return 2
        for schema, name, rows in copied:
            print(f"carried over {schema}.{name} ({rows} rows) from {published}")
    return _exit_code(dbtRunner(manifest=manifest).invoke(["build", *dbt_args]))


def _prctl(option: int, value: int) -> None:
    """Linux prctl(2); nothing elsewhere."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of process group ``group``, from /proc."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and brackets
        state, _, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == group and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def _reap() -> None:
    """Collect ended children (orphans of the build come to us, see below)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _wait_for_group(group: int, seconds: float) -> list[int]:
    """Wait up to ``seconds`` for ``group`` to end; the processes left."""
    deadline = time.monotonic() + seconds
    while (left := group_members(group)) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.05)
    return left


def _end_group(group: int) -> list[int]:
    """Let the build's process group end, killing what outlives the grace."""
    if not _wait_for_group(group, GRACE_SECONDS):
        return []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
    return _wait_for_group(group, GRACE_SECONDS)


def supervise(dbt_args: list[str], published: Path) -> int:
    """Take the build lock and run the build in a child that cannot outlive us.

    The child runs :func:`build` in a process group of its own, inherits
    the lock (a lock on the open file, so it is held while either process
    lives) and is killed by the kernel when this process dies
    (``PR_SET_PDEATHSIG``).  Orphans of the child come to this process
    (``PR_SET_CHILD_SUBREAPER``), which ends the group when the child is
    done.  The lock file records the group: a build started after a
    ``kill -9`` waits for what is left of it, or refuses.

    Returns
    -------
    int
        The child's exit code, 75 when another build of the same warehouse
        (or what is left of one) is running, 128 + N when the child was
        killed by signal N.
    """
    published.parent.mkdir(parents=True, exist_ok=True)
    lock_path = published.with_name(f".{published.stem}.build.lock")
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another build of {published} is running", file=sys.stderr)
            return BUSY
        lock.seek(0)
        recorded = lock.read().strip()
        if recorded.isdigit():
            left = _wait_for_group(int(recorded), GRACE_SECONDS)
            if left:
                print(
                    f"processes of an earlier build of {published} are still "
                    f"running (PIDs {', '.join(map(str, left))}): wait for "
                    f"them to end or stop them with `kill -9 -- -{recorded}`, "
                    "then build again",
                    file=sys.stderr,
                )
                return BUSY
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        worker = subprocess.Popen(
            [sys.executable, "-m", "cc_segmentation.build", *dbt_args],
            env={**os.environ, WORKER_VARIABLE: f"{lock.fileno()}:{os.getpid()}"},
            pass_fds=(lock.fileno(),),
            process_group=0,
        )
        lock.seek(0)
        lock.truncate()
        lock.write(f"{worker.pid}\n")
        lock.flush()

        def forward(signum: int, _frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                worker.send_signal(signum)

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, forward)
        code = worker.wait()
        left = _end_group(worker.pid)
        if left:
            print(
                f"processes of this build would not end (PIDs "
                f"{', '.join(map(str, left))}); the next build waits for them",
                file=sys.stderr,
            )
        else:
            lock.seek(0)
            lock.truncate()
        if code < 0:
            print(
                f"the build was stopped by signal {-code}: {published} was "
                "left as it was",
                file=sys.stderr,
            )
            return 128 - code
        return code


def run_worker(dbt_args: list[str], published: Path, marker: str) -> int:
    """The child of :func:`supervise`: die with it, build, say what failed."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _lock_fd, supervisor = marker.split(":")
    if os.getppid() != int(supervisor):  # it died before prctl took effect
        return 1
    del os.environ[WORKER_VARIABLE]  # for any process dbt starts
    exports = Path(os.path.abspath(os.environ.get(EXPORTS_VARIABLE, DEFAULT_EXPORTS)))
    try:
        return build(dbt_args, published, exports)
    except PublishRefused as refused:
        print(refused, file=sys.stderr)
        return refused.code


def run(dbt_args: list[str]) -> int:
    """Build as ``cc-segmentation build`` does: :func:`supervise` the build."""
    published = Path(os.environ.get(WAREHOUSE_VARIABLE, DEFAULT_WAREHOUSE)).resolve()
    return supervise(dbt_args, published)


def main() -> None:
    published = Path(os.environ.get(WAREHOUSE_VARIABLE, DEFAULT_WAREHOUSE)).resolve()
    marker = os.environ.get(WORKER_VARIABLE)
    if marker:
        sys.exit(run_worker(sys.argv[1:], published, marker))
    sys.exit(supervise(sys.argv[1:], published))


if __name__ == "__main__":
    main()
