"""Build a fresh warehouse beside the published one and publish it atomically.

``python -m cc_segmentation.build [dbt build options]`` runs ``dbt build``
(in this process, with ``dbtRunner``) on a new, private warehouse file and,
only if every model and test passes, renames it over the published file.  So:

- a build never fails because a dashboard or an analyst holds the published
  warehouse open (read-only connections do not lock the new file);
- a reader never sees a half-built warehouse: connections opened before the
  rename keep reading the previous file, new ones get the complete new one;
- a build that fails or is killed leaves the published warehouse as it was
  (the new file is discarded, or deleted by the next build).

The new file starts empty except for the tables whose rows outlive a build:
those of incremental models and snapshots (segmentation_models, the segment
history, the fit caches), found in dbt's manifest and copied from the
published warehouse.  Every other table is rebuilt, so rebuilding the same
data does not grow the warehouse.  ``--full-refresh`` copies nothing.  A
build that selects only some nodes (``--select``, ``--exclude``, ...) needs
the rest of the warehouse, so it starts from a copy of the published file.
Two builds at once are refused (a lock file beside the warehouse).
"""

from __future__ import annotations

import fcntl
import gc
import os
import shutil
import sys
from pathlib import Path

import click
import duckdb
from click.core import ParameterSource
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from dbt.cli.main import cli, dbtRunner, dbtRunnerResult
from dbt.contracts.graph.manifest import Manifest

PROGRAM = "python -m cc_segmentation.build"
DEFAULT_WAREHOUSE = "warehouse/segmentation.duckdb"
WAREHOUSE_VARIABLE = "CC_SEGMENTATION_WAREHOUSE"
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
# Nodes whose table keeps rows from earlier builds.
PERSISTENT_MATERIALIZATIONS = {"incremental", "snapshot"}


def staging_path(published: Path) -> Path:
    """Where the next build is written: a hidden file beside the published one."""
    return published.with_name(f".{published.stem}.building{published.suffix}")


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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
        con.execute(f"attach {_literal(str(published))} as published (read_only)")
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


def build(dbt_args: list[str], published: Path) -> int:
    """Run ``dbt build`` into a new warehouse and publish it on success.

    Parameters
    ----------
    dbt_args : list of str
        Extra arguments for ``dbt build`` (``--vars``, ``--select``, ...).
    published : Path
        The warehouse readers open.

    Returns
    -------
    int
        dbt's exit code (0 when the new warehouse was published): 1 when a
        model or test failed, 2 on a dbt error or bad options, 75 when
        another build of the same warehouse is running.
    """
    try:
        options = cli.commands["build"].make_context(PROGRAM, list(dbt_args))
    except click.exceptions.Exit as done:  # --help, --version
        return done.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    published = published.resolve()
    published.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(published)
    staging_wal = staging.with_name(staging.name + ".wal")
    lock_path = published.with_name(f".{published.stem}.build.lock")
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another build of {published} is running", file=sys.stderr)
            return 75
        for leftover in (staging, staging_wal):
            leftover.unlink(missing_ok=True)
        previous = os.environ.get(WAREHOUSE_VARIABLE)
        os.environ[WAREHOUSE_VARIABLE] = str(staging)  # profiles.yml reads it
        try:
            code = _build_staging(options, dbt_args, published, staging)
        finally:
            _close_dbt_database()
            if previous is None:
                del os.environ[WAREHOUSE_VARIABLE]
            else:
                os.environ[WAREHOUSE_VARIABLE] = previous
        if code != 0:
            staging.unlink(missing_ok=True)
            staging_wal.unlink(missing_ok=True)
            print(
                f"dbt build failed: {published} was left as it was",
                file=sys.stderr,
            )
            return code
        # Fold any write-ahead log into the file before it is renamed: the
        # published warehouse must be one self-contained file.  A connection
        # with a configuration of its own, which DuckDB refuses if dbt's
        # database were still open in this process.
        with duckdb.connect(str(staging), config=CHECKPOINT_CONFIG) as con:
            con.execute("checkpoint")
        staging_wal.unlink(missing_ok=True)
        os.replace(staging, published)
        print(f"published {published}")
        return 0


def _close_dbt_database() -> None:
    """Close the database dbt-duckdb keeps open until the process exits.

    Its write lock would follow the file to the published name and make
    readers fail until this process exits.  ``close_all_connections`` is
    dbt-duckdb's own exit hook; the database closes when its environment is
    collected.
    """
    DuckDBConnectionManager.close_all_connections()
    gc.collect()


def _build_staging(
    options: click.Context, dbt_args: list[str], published: Path, staging: Path
) -> int:
    """Parse the project, fill ``staging`` with what must carry over, build."""
    selects_part = any(options.params.get(name) for name in SELECTION_OPTIONS)
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
            print(f"could not read {published}: {error}", file=sys.stderr)
            return 2
        for schema, name, rows in copied:
            print(f"carried over {schema}.{name} ({rows} rows) from {published}")
    return _exit_code(dbtRunner(manifest=manifest).invoke(["build", *dbt_args]))


def main() -> None:
    published = Path(os.environ.get(WAREHOUSE_VARIABLE, DEFAULT_WAREHOUSE))
    sys.exit(build(sys.argv[1:], published))


if __name__ == "__main__":
    main()
