"""Build a fresh warehouse beside the published one and publish it atomically.

``cc-segmentation build [dbt build options]`` (also
``python -m cc_segmentation build``) runs ``dbt build`` with dbt's
programmatic ``dbtRunner``, in this process, on a new, private warehouse file
and a new, private export directory and, only if every model and test passes,
puts both in place of the published ones.  So:

- a build never fails because a dashboard or an analyst holds the published
  warehouse open (read-only connections do not lock the new file);
- a reader never sees a half-built warehouse: connections opened before the
  rename keep reading the previous file, new ones get the complete new one;
  the export directory is exchanged in one step
  (:mod:`cc_segmentation.publishing.publish`), so its files all come from one build;
- a build that fails or is killed leaves the published warehouse and its
  exports as they were (the new ones are discarded, or by the next build);
- a build refuses to publish over a warehouse another process holds
  read-write, or one beside a leftover write-ahead log, or one that is
  damaged, and says so;
- two builds of one warehouse never run at once: a build holds an exclusive
  lock on a lock file beside the warehouse, and a second one refuses.

The new file starts empty except for the tables whose rows outlive a build:
those of incremental models and snapshots (segmentation_models, the segment
history, the fit caches), found in dbt's manifest and copied from the
published warehouse.  Every other table is rebuilt, so rebuilding the same
data does not grow the warehouse.  ``--full-refresh`` copies nothing.  A
build that selects only some nodes (``--select``, ``--exclude``, ...) needs
the rest of the warehouse, so it starts from a copy of the published file
(and of its exports).

A refit whose model (the challenger) the promotion gate holds back
(``promotion_decision``, README "Champion and challenger") fails at
``int_promotion_gate``, before any scoring mart.  The build then builds the
file again into a second private file, starting from the first one's
lasting tables (the published ones plus the challenger's fit state, history
and caches), with ``refit: false`` and the champion's feature settings; on
success that file, with the first build's decision and move matrix, is the
one published.  So a held-back challenger publishes the champion's scores of
the new file, and stays in the registry for a later ``promote: true``.

A build is one process.  The lock is a ``flock`` on an open file, which the
kernel releases when the process ends, however it ends: after a ``kill -9``
the next build starts at once, and the files the killed one left (its
private warehouse and exports) are deleted by it.  The only processes a build
starts are the libraries' own: ``uname`` and ``lscpu`` (platform and CPU
queries, waited for) and multiprocessing's resource tracker, which dbt's
adapter starts for its connection lock.  The tracker inherits no lock and
opens no warehouse, and it ends by itself when the build's end closes its
pipe.
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cc_segmentation import sql_literal
from cc_segmentation.publishing.publish import (
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
# Options that make dbt build only part of the project.
SELECTION_OPTIONS = (
    "select",
    "exclude",
    "selector",
    "resource_types",
    "exclude_resource_types",
)
# Any explicit setting (this one is DuckDB's default); typed as duckdb's
# connect() takes it.
CHECKPOINT_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "access_mode": "READ_WRITE"
}
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
        ((catalog,),) = con.execute("select current_database()").fetchall()
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
            ((rows,),) = con.execute(f"select count(*) from {target}").fetchall()
            copied.append((schema, name, rows))
        con.execute(f"use {_identifier(catalog)}.main")
        con.execute("detach published")
    return copied


def _exit_code(result: dbtRunnerResult) -> int:
    """The code ``dbt`` itself would exit with for this dbtRunner result.

    Ctrl-C while dbt runs comes back as the result's exception; it is raised
    again, so that an interrupted build says so (see :func:`run`).
    """
    if isinstance(result.exception, KeyboardInterrupt):
        raise result.exception
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def build(dbt_args: list[str], published: Path, exports: Path) -> int:
    """Run ``dbt build`` into a new warehouse and publish it on success.

    Called with the build lock held (see :func:`run`).

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
    # One try from here: an interrupted build also leaves nothing behind.
    try:
        os.environ[WAREHOUSE_VARIABLE] = str(staging)  # profiles.yml reads them
        os.environ[EXPORTS_VARIABLE] = str(exports_staging)
        try:
            failed: list[str] = []
            code = _build_staging(
                options, dbt_args, published, staging, selects_part, failed
            )
            if code != 0 and failed == [GATE] and not selects_part:
                code = _score_with_champion(options, dbt_args, staging)
        finally:
            _close_dbt_database()
            for name, value in previous.items():
                if value is None:
                    del os.environ[name]
                else:
                    os.environ[name] = value
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


def _score_with_champion(
    options: click.Context, dbt_args: list[str], staging: Path
) -> int:
    """A held-back challenger: build the file again with the champion.

    The second build starts from the held-back one's tables that outlive a
    build (the published ones, plus the challenger's fit state, history and
    caches), scores with the champion (refit: false, with the champion's
    feature settings), and on success takes ``staging``'s place with the
    held-back build's decision and move matrix.
    """
    from dbt.cli.main import cli

    held = held_back(_checkpointed(staging))
    if held is None:
        return 1
    print(
        f"challenger {held['challenger']} is held back; building the file "
        f"again with the champion {held['champion']}"
    )
    scored = champion_path(staging)
    for leftover in (scored, wal_path(scored)):
        leftover.unlink(missing_ok=True)
    dbt_vars = {**(options.params.get("vars") or {}), **held["vars"]}  # type: ignore[dict-item]
    args = with_vars(dbt_args, dbt_vars)
    os.environ[WAREHOUSE_VARIABLE] = str(scored)
    try:
        code = _build_staging(
            cli.commands["build"].make_context(PROGRAM, list(args)),
            args,
            staging,
            scored,
            selects_part=False,
        )
        if code != 0:
            return code
        keep_decision(staging, _checkpointed(scored))
        # one self-contained file before it takes the held-back one's place
        _checkpointed(scored)
        os.replace(scored, staging)
    finally:
        os.environ[WAREHOUSE_VARIABLE] = str(staging)
        for leftover in (scored, wal_path(scored)):
            leftover.unlink(missing_ok=True)
    decision = str(held["decision"]).removeprefix("held back: ")
    print(
        f"challenger {held['challenger']} held back: {decision}. The champion "
        f"{held['champion']} scored this file. To promote the challenger, "
        "build again with the same vars and promote: true."
    )
    return 0


def _checkpointed(path: Path) -> Path:
    """``path`` with its write-ahead log folded in (dbt's database is closed)."""
    _close_dbt_database()
    with duckdb.connect(str(path), config=CHECKPOINT_CONFIG) as con:
        con.execute("checkpoint")
    return path


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
    failed: list[str] | None = None,
) -> int:
    """Parse the project, fill ``staging`` with what must carry over, build.

    ``published`` is where the tables that outlive a build come from (the
    published warehouse, or a held-back build's file); the names of the
    nodes that failed are appended to ``failed`` when given.
    """
    from click.core import ParameterSource
    from dbt.cli.main import cli, dbtRunner
    from dbt.contracts.graph.manifest import Manifest

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
    assert isinstance(manifest, Manifest)  # what parse returns, by dbt's contract
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
    result = dbtRunner(manifest=manifest).invoke(["build", *dbt_args])
    if failed is not None and result.result is not None:
        failed.extend(
            outcome.node.name
            for outcome in getattr(result.result, "results", [])
            if str(outcome.status) in ("error", "fail")
        )
    return _exit_code(result)


#: The node that stops a build whose challenger is held back.
GATE = "int_promotion_gate"


def champion_path(published: Path) -> Path:
    """Where a held-back build scores the file with the champion."""
    return published.with_name(f".{published.stem}.champion{published.suffix}")


def held_back(staging: Path) -> dict[str, object] | None:
    """The held-back challenger of a failed build, or None.

    Read from the build's own ``promotion_decision``, with the champion's
    fit settings from ``segmentation_models``: what a build that scores
    with the champion must pass as vars.
    """
    try:
        with duckdb.connect(str(staging), read_only=True) as con:
            found = con.execute(
                "select decision.challenger_model_id, decision.decision,"
                " decision.champion_model_id, models.features,"
                " models.impute_method, models.is_log1p_money"
                " from promotion_decision as decision"
                " inner join segmentation_models as models"
                " on decision.champion_model_id = models.model_id"
                " where not decision.is_promoted"
            ).fetchall()
    except duckdb.Error:
        return None
    if len(found) != 1:
        return None
    challenger, decision, champion, features, impute_method, log1p = found[0]
    return {
        "challenger": challenger,
        "decision": decision,
        "champion": champion,
        "vars": {
            "refit": False,
            "features": features,
            "impute_method": impute_method,
            "log1p_money": log1p,
        },
    }


def with_vars(dbt_args: list[str], dbt_vars: dict[str, object]) -> list[str]:
    """``dbt_args`` with its ``--vars`` replaced by ``dbt_vars``."""
    kept: list[str] = []
    skip = False
    for arg in dbt_args:
        if skip:
            skip = False
        elif arg == "--vars":
            skip = True
        elif not arg.startswith("--vars="):
            kept.append(arg)
    return [*kept, "--vars", json.dumps(dbt_vars)]


def keep_decision(held: Path, scored: Path) -> None:
    """Put the held-back build's decision and move matrix in ``scored``.

    The build that scored with the champion decided nothing (its challenger
    is the champion): what this build decided is the held-back one's.
    """
    with duckdb.connect(str(scored)) as con:
        con.execute(f"attach {sql_literal(held)} as held (read_only)")
        for table in ("promotion_decision", "promotion_moves"):
            con.execute(f"delete from main.{table}")
            con.execute(f"insert into main.{table} select * from held.main.{table}")
        con.execute("detach held")


def lock_path(published: Path) -> Path:
    """The file a build of ``published`` holds locked while it runs."""
    return published.with_name(f".{published.stem}.build.lock")


def run(dbt_args: list[str], published: Path | None = None) -> int:
    """Take the build lock, build and publish, release the lock.

    Parameters
    ----------
    dbt_args : list of str
        Extra arguments for ``dbt build`` (``--vars``, ``--select``, ...).
    published : Path, optional
        The warehouse readers open; by default ``$CC_SEGMENTATION_WAREHOUSE``
        or ``warehouse/segmentation.duckdb``.  The export directory is
        ``$CC_SEGMENTATION_EXPORTS`` or ``warehouse/exports``.

    Returns
    -------
    int
        dbt's exit code (0 when the new warehouse was published), 75 when
        another build of the same warehouse is running or a process holds it
        read-write, 2 when it needs attention (damaged, stray write-ahead
        log), 130 when the build was interrupted.
    """
    if published is None:
        published = Path(os.environ.get(WAREHOUSE_VARIABLE, DEFAULT_WAREHOUSE))
    published = published.resolve()
    exports = Path(os.path.abspath(os.environ.get(EXPORTS_VARIABLE, DEFAULT_EXPORTS)))
    published.parent.mkdir(parents=True, exist_ok=True)
    # Open once, never closed while the build runs: the lock lives with the
    # open file, and the kernel drops it when this process ends.
    with open(lock_path(published), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another build of {published} is running", file=sys.stderr)
            return BUSY
        try:
            return build(dbt_args, published, exports)
        except PublishRefused as refused:
            print(refused, file=sys.stderr)
            return refused.code
        except KeyboardInterrupt:
            print(
                f"the build was interrupted: {published} and {exports} were "
                "left as they were",
                file=sys.stderr,
            )
            return 130
