"""Build the project on Apache Spark: ``cc-segmentation build --target spark``.

dbt-spark's ``session`` method runs SQL models, seeds and tests on a Spark
session inside the dbt process, but it submits Python models only to
Databricks (``all_purpose_cluster``, ``job_cluster``).  This module adds a
third submission method, ``session``: the Python model's compiled script
(its ``model()`` and dbt-spark's own code that writes the result with
``saveAsTable``) runs in the same process, on the same Spark session the SQL
models use.  So the Python models stay nodes of the one dbt DAG, ``dbt ls``
and the docs show them where they are, and a Spark build is one ``dbt
build``, like a DuckDB build.

The Python models read only bounded inputs (a fixed-seed sample, small fit
tables: :mod:`cc_segmentation.segmentation.warehouse`), so pulling them into
this process costs what it costs on DuckDB.

A Spark build writes to the Spark warehouse of the ``spark`` target
(``$CC_SEGMENTATION_SPARK_WAREHOUSE``, default ``warehouse/spark``) directly:
Spark tables are directories, so there is no single file to publish
atomically, and the DuckDB warehouse is not touched.
"""

from __future__ import annotations

import sys
from typing import Any

from dbt.adapters.base.impl import PythonJobHelper

#: The submission method this module adds; the ``spark`` target's Python
#: models use it (dbt_project.yml, ``submission_method``).
SESSION_METHOD = "session"
#: The directory that holds a Spark build's tables, metastore and exports.
SPARK_WAREHOUSE_VARIABLE = "CC_SEGMENTATION_SPARK_WAREHOUSE"
DEFAULT_SPARK_WAREHOUSE = "warehouse/spark"
#: Spark's ANSI SQL mode: bad casts and arithmetic errors fail, as in DuckDB.
ANSI_MODE = "spark.sql.ansi.enabled"


class SessionPythonJobHelper(PythonJobHelper):
    """Runs a dbt Python model's compiled script on the current Spark session."""

    def __init__(self, parsed_model: dict[str, Any], credential: object) -> None:
        self.parsed_model = parsed_model
        self.credential = credential

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        # The session dbt-spark's cursor opened (getOrCreate returns it).
        spark = SparkSession.builder.getOrCreate()
        name = self.parsed_model.get("unique_id", "python model")
        code = compile(compiled_code, f"<{name}>", "exec")
        exec(code, {"__name__": "__dbt_python_model__", "spark": spark})


def enable_session_python_models() -> None:
    """Make dbt-spark run Python models with the ``session`` method.

    Adds :class:`SessionPythonJobHelper` to dbt-spark's submission helpers
    (once, before dbt runs; :func:`prepare_dbt_spark` calls it).
    """
    from dbt.adapters.spark.impl import SparkAdapter

    declared = SparkAdapter.__dict__["python_submission_helpers"]
    if getattr(declared.fget, "adds_session", False):
        return
    helpers = declared.fget

    def with_session(self: SparkAdapter) -> dict[str, type[PythonJobHelper]]:
        return {**helpers(self), SESSION_METHOD: SessionPythonJobHelper}

    with_session.adds_session = True  # type: ignore[attr-defined]
    SparkAdapter.python_submission_helpers = property(with_session)  # type: ignore[method-assign,assignment]


def honour_the_profiles_ansi_mode() -> None:
    """Let the profile's ``spark.sql.ansi.enabled`` stand.

    dbt-spark 1.11 sets ``spark.sql.ansi.enabled`` to ``false`` in every
    target's ``server_side_parameters``, over what the profile says.  The
    ``spark`` target asks for ANSI mode, so that a bad cast, an overflow or a
    division by zero fails the build as it does on DuckDB instead of giving
    NULL; this puts the profile's value back after dbt-spark has read the
    credentials (once, before dbt runs; :func:`prepare_dbt_spark` calls it).
    A profile that does not set it keeps dbt-spark's ``false``.
    """
    from dbt.adapters.spark.connections import SparkCredentials

    post_init = SparkCredentials.__post_init__
    if getattr(post_init, "honours_ansi_mode", False):
        return

    def keeping_ansi_mode(self: SparkCredentials) -> None:
        wanted = self.server_side_parameters.get(ANSI_MODE)
        post_init(self)
        if wanted is not None:
            self.server_side_parameters[ANSI_MODE] = str(wanted).lower()

    keeping_ansi_mode.honours_ansi_mode = True  # type: ignore[attr-defined]
    keeping_ansi_mode.__wrapped__ = post_init  # type: ignore[attr-defined]
    SparkCredentials.__post_init__ = keeping_ansi_mode  # type: ignore[method-assign]


def prepare_dbt_spark() -> None:
    """What dbt-spark needs to run this project: the ``session`` submission
    method for the Python models, and the profile's ANSI mode."""
    enable_session_python_models()
    honour_the_profiles_ansi_mode()


def run(dbt_args: list[str]) -> int:
    """``dbt build`` on the ``spark`` target, in this process.

    Parameters
    ----------
    dbt_args : list of str
        Options for ``dbt build``; they include ``--target spark``.

    Returns
    -------
    int
        dbt's exit code: 0 when every model and test passed.
    """
    from dbt.cli.main import dbtRunner

    prepare_dbt_spark()
    result = dbtRunner().invoke(["build", *dbt_args])
    if result.success:
        return 0
    if result.exception is not None:
        print(result.exception, file=sys.stderr)
        return 2
    return 1


def targets_spark(dbt_args: list[str]) -> bool:
    """Whether ``dbt build`` with ``dbt_args`` runs on a Spark target.

    The target is ``--target``/``-t`` or ``$DBT_TARGET``, else the profile's
    default; its ``type`` is read from ``profiles.yml`` (``--profiles-dir``,
    ``$DBT_PROFILES_DIR`` or the working directory, as dbt finds it).
    """
    import os
    from pathlib import Path

    import yaml

    target = os.environ.get("DBT_TARGET")
    profiles_dir = os.environ.get("DBT_PROFILES_DIR")
    for index, arg in enumerate(dbt_args):
        for option in ("--target", "-t", "--profiles-dir"):
            if arg == option and index + 1 < len(dbt_args):
                value = dbt_args[index + 1]
            elif arg.startswith(option + "="):
                value = arg.split("=", 1)[1]
            else:
                continue
            if option == "--profiles-dir":
                profiles_dir = value
            else:
                target = value
    path = Path(profiles_dir or ".") / "profiles.yml"
    if not path.exists():
        path = Path.home() / ".dbt" / "profiles.yml"
    if not path.exists():
        return False
    profile = (yaml.safe_load(path.read_text()) or {}).get("cc_segmentation", {})
    output = profile.get("outputs", {}).get(target or profile.get("target"), {})
    return isinstance(output, dict) and output.get("type") == "spark"
