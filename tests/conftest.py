"""Shared helpers: paths, and running `dbt build` into a throw-away warehouse.

A build of the real file takes minutes, so each build that several tests
read is made once per session here (``real_build``, ``sampled_fit_build``),
and a test that writes to a warehouse works on a copy (``copy_build``).
Everything that runs dbt is marked ``slow``; ``pytest -m "not slow"`` is the
quick loop, and ``run_dbt`` refuses to run for a test not marked so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_CSV = (REPO / ".." / "shared" / "data" / "cc_general.csv").resolve()
DBT = str(Path(sys.executable).with_name("dbt"))


@dataclass
class Build:
    """One `dbt build` run: its outcome and where it wrote."""

    returncode: int
    output: str
    warehouse: Path
    exports: Path

    def query(self, sql: str) -> pd.DataFrame:
        """Run SQL on the built warehouse (read-only, closed afterwards)."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.sql(sql).df()


# Whether the running test is marked slow (None outside a test).
_running: dict[str, bool | None] = {"slow": None}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tests/test_publish.py builds the real file in every test; it is owned
    # elsewhere, so it is marked here rather than by a pytestmark line
    for item in items:
        if item.path.name == "test_publish.py":
            item.add_marker(pytest.mark.slow)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # set before any fixture of the test, session-scoped builds included
    _running["slow"] = item.get_closest_marker("slow") is not None


def pytest_runtest_teardown(item: pytest.Item) -> None:
    _running["slow"] = None


def run_dbt(
    command: list[str], workdir: Path, dbt_vars: dict, **environment: str
) -> subprocess.CompletedProcess:
    """Run ``dbt <command>`` on the project, its target and logs in ``workdir``.

    ``environment`` adds variables (the warehouse and exports that
    profiles.yml reads); the output is captured as text.
    """
    if _running["slow"] is False:
        raise RuntimeError(
            "this test runs dbt but is not marked slow: "
            "`pytest -m 'not slow'` must stay quick"
        )
    env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", **environment)
    return subprocess.run(
        [
            DBT,
            *command,
            "--profiles-dir",
            str(REPO),
            "--project-dir",
            str(REPO),
            "--target-path",
            str(workdir / "target"),
            "--log-path",
            str(workdir / "logs"),
            "--vars",
            json.dumps(dbt_vars),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def dbt_build(
    workdir: Path,
    raw_path: Path,
    warehouse: Path | None = None,
    select: str | None = None,
    **dbt_vars,
) -> Build:
    """Run the project's `dbt build` on ``raw_path`` into ``workdir``.

    The warehouse, exports, target and logs all go under ``workdir`` (or
    ``warehouse`` when given, to build twice into the same file), so tests
    never touch the developer's warehouse/.  ``select`` builds only those
    nodes, with the tests of the selected models only.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = warehouse or workdir / "segmentation.duckdb"
    exports = workdir / "exports"
    exports.mkdir(exist_ok=True)
    result = run_dbt(
        [
            "build",
            *(
                ["--select", select, "--indirect-selection", "cautious"]
                if select
                else []
            ),
        ],
        workdir,
        {"raw_path": str(raw_path), **dbt_vars},
        CC_SEGMENTATION_WAREHOUSE=str(warehouse),
        CC_SEGMENTATION_EXPORTS=str(exports),
    )
    return Build(result.returncode, result.stdout + result.stderr, warehouse, exports)


def copy_build(build: Build, workdir: Path) -> Build:
    """``build``'s warehouse and exports copied into ``workdir``, for a test
    that writes to them (a file copy takes a second, a build minutes)."""
    workdir.mkdir(parents=True, exist_ok=True)
    # a closed DuckDB file holds everything: no write-ahead log beside it
    assert not build.warehouse.with_name(build.warehouse.name + ".wal").exists()
    warehouse = shutil.copy2(build.warehouse, workdir / build.warehouse.name)
    exports = shutil.copytree(build.exports, workdir / "exports")
    return Build(build.returncode, build.output, Path(warehouse), Path(exports))


@pytest.fixture(scope="session")
def real_csv() -> Path:
    if not REAL_CSV.exists():
        pytest.fail(f"the real data set is expected at {REAL_CSV}")
    return REAL_CSV


@pytest.fixture(scope="session")
def real_build(tmp_path_factory, real_csv) -> Build:
    """The default pipeline built once on the real file."""
    build = dbt_build(tmp_path_factory.mktemp("real"), real_csv)
    assert build.returncode == 0, build.output[-5000:]
    return build


#: The path a file larger than the samples takes, on the real file: the k scan
#: and the KMeans fit on 3,000 sampled customers, then Lloyd passes in SQL,
#: and DBSCAN on 2,000 (tests/test_sampled_fit.py, tests/test_outliers.py).
SAMPLED_FIT_SETTINGS = {
    "n_clusters": 5,
    "fit_max_rows": 3000,
    "k_selection_max_rows": 3000,
    "kmeans_refinement_passes": 3,
    "dbscan_max_rows": 2000,
}


@pytest.fixture(scope="session")
def sampled_fit_build(tmp_path_factory, real_csv) -> Build:
    """The real file built once with SAMPLED_FIT_SETTINGS."""
    build = dbt_build(
        tmp_path_factory.mktemp("sampled_fit"), real_csv, **SAMPLED_FIT_SETTINGS
    )
    assert build.returncode == 0, build.output[-5000:]
    return build


MONEY = [
    "BALANCE",
    "PURCHASES",
    "ONEOFF_PURCHASES",
    "INSTALLMENTS_PURCHASES",
    "CASH_ADVANCE",
    "CREDIT_LIMIT",
    "PAYMENTS",
    "MINIMUM_PAYMENTS",
]
FREQUENCIES = [
    "BALANCE_FREQUENCY",
    "PURCHASES_FREQUENCY",
    "ONEOFF_PURCHASES_FREQUENCY",
    "PURCHASES_INSTALLMENTS_FREQUENCY",
    "CASH_ADVANCE_FREQUENCY",
]


@pytest.fixture(scope="session")
def raw(real_csv) -> pd.DataFrame:
    return pd.read_csv(real_csv).sort_values("CUST_ID", ignore_index=True)


@pytest.fixture(scope="session")
def expected_matrix(raw) -> tuple[pd.DataFrame, np.ndarray]:
    """The default model matrix, recomputed from the CSV with pandas/numpy:
    frequencies capped at 1, median imputation, log1p on money, each
    feature clipped to its 0.1 and 99.9 percentiles (linear interpolation,
    as percentile_cont), z-score with the population standard deviation of
    the clipped values."""
    features = raw.drop(columns="CUST_ID").astype(float)
    features[FREQUENCIES] = features[FREQUENCIES].clip(upper=1.0)
    features = features.fillna(features.median())
    features[MONEY] = np.log1p(features[MONEY])
    low, high = features.quantile(0.001), features.quantile(0.999)
    features = features.clip(low, high, axis=1)
    scaling = pd.DataFrame(
        {
            "mean": features.mean(),
            "stddev": features.std(ddof=0),
            "clip_low": low,
            "clip_high": high,
        }
    )
    matrix = ((features - scaling["mean"]) / scaling["stddev"]).to_numpy()
    return scaling, matrix
