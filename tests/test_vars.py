"""Every var is checked before any model runs: a bad value stops the build
with a line naming the var, the value and what is allowed; a good value in
any accepted spelling passes."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from conftest import dbt_build, run_dbt

pytestmark = pytest.mark.slow


def validate(tmp_path, **dbt_vars) -> subprocess.CompletedProcess:
    """Run the on-run-start check alone (`dbt run-operation validate_vars`)."""
    return run_dbt(
        ["run-operation", "validate_vars"],
        tmp_path,
        dbt_vars,
        CC_SEGMENTATION_WAREHOUSE=str(tmp_path / "vars.duckdb"),
    )


BAD = [
    ("frequency_tolerance", "abc", "a number >= 0"),
    ("frequency_tolerance", -0.1, "a number >= 0"),
    ("max_missing_measures", "abc", "a whole number from 0 to 16"),
    ("max_missing_measures", 17, "a whole number from 0 to 16"),
    ("max_missing_measures", 2.5, "a whole number from 0 to 16"),
    ("log1p_money", "yes", "true or false"),
    ("log1p_money", 1, "true or false"),
    ("anomaly_quantile", 0, "a number > 0.5 and <= 1"),
    ("anomaly_quantile", 1.5, "a number > 0.5 and <= 1"),
    ("n_clusters", 1, "'auto' or a whole number >= 2"),
    ("n_clusters", 2.5, "'auto' or a whole number >= 2"),
    ("n_clusters", "many", "'auto' or a whole number >= 2"),
    ("n_init", 0, "a whole number >= 1"),
    ("n_init", True, "a whole number >= 1"),
    ("random_state", -1, "a whole number from 0 to 4294967295"),
    ("k_min", 1, "a whole number >= 2"),
    ("k_min_stability", 1.1, "a number >= 0 and <= 1"),
    ("k_min_segment_share", 1, "a number >= 0 and < 1"),
    ("redundant_correlation", "nan", "a number > 0 and <= 1"),
    ("impute_method", "mode", "median or mean"),
    ("raw_path", "", "the path of a CSV or Parquet file"),
    ("fit_max_rows", 0, "a whole number >= 1"),
    ("scaling_clip_quantile", 0.5, "a number >= 0 and < 0.5"),
    ("scaling_clip_quantile", -0.001, "a number >= 0 and < 0.5"),
    # the promotion gate: a share of customers, so 0 < share <= 1, at the edges
    ("promote_min_kept_share", 0, "a number > 0 and <= 1"),
    ("promote_min_kept_share", 1.0000001, "a number > 0 and <= 1"),
    ("promote", "yes", "true or false"),
    ("promote", 1, "true or false"),
    ("features", "balance,shoe_size", "'all', 'reduced' or a list of balance, "),
]


# Checked while dbt parses the models, which stops at the first bad one.
PARSE_TIME = {"impute_method", "features"}


def runs_of(cases: list[tuple]) -> list[dict]:
    """The BAD cases as few `validate_vars` runs as keep each check its own.

    A dbt command costs seconds, mostly parsing, so the cases share runs:
    the macro reports every bad var at once, a run never names one var twice,
    and a var checked at parse time runs alone.
    """
    runs: list[dict] = []
    for name, value, _ in cases:
        shared = name not in PARSE_TIME
        for run in runs:
            if shared and name not in run and not PARSE_TIME & run.keys():
                run[name] = value
                break
        else:
            runs.append({name: value})
    return runs


def reported(output: str) -> set[str]:
    """The vars the failed run's message names."""
    return set(re.findall(r"var '(\w+)' is ", output))


@pytest.fixture(scope="module")
def bad_var_run(tmp_path_factory):
    """(vars, result) of the run holding a BAD case; each run is made once."""
    runs = runs_of(BAD)
    results: dict[int, subprocess.CompletedProcess] = {}

    def run_holding(name, value) -> tuple[dict, subprocess.CompletedProcess]:
        (index,) = [
            i
            for i, run in enumerate(runs)
            if name in run and json.dumps(run[name]) == json.dumps(value)
        ]
        if index not in results:
            workdir = tmp_path_factory.mktemp(f"bad_vars_{index}")
            results[index] = validate(workdir, **runs[index])
        return runs[index], results[index]

    return run_holding


@pytest.mark.parametrize(("name", "value", "allowed"), BAD)
def test_a_bad_var_is_named_with_its_value_and_what_is_allowed(
    bad_var_run, name, value, allowed
):
    dbt_vars, result = bad_var_run(name, value)
    assert result.returncode != 0
    line = f"var '{name}' is {json.dumps(value)}: allowed: {allowed}"
    assert line in result.stdout, result.stdout[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    # the run names its own vars and no other: this var's line, like the
    # failure, is its own check's doing, not a neighbour's
    assert reported(result.stdout) == set(dbt_vars), result.stdout[-2000:]


def test_every_bad_var_is_reported_at_once(tmp_path):
    result = validate(
        tmp_path, frequency_tolerance="abc", log1p_money="yes", n_clusters=1
    )
    assert result.returncode != 0
    named = [line for line in result.stdout.splitlines() if "var '" in line]
    assert len(named) == 3, result.stdout[-2000:]


@pytest.mark.parametrize(
    ("dbt_vars", "message"),
    [
        (
            {"k_min": 5, "k_max": 4},
            "var 'k_max' is 4: allowed: a whole number >= k_min (5)",
        ),
        (
            {"k_auto_min": 13},
            "var 'k_auto_min' is 13: allowed: a whole number from 2 to k_max (12)",
        ),
        (
            {"k_selection_silhouette_rows": 10},
            "var 'k_selection_silhouette_rows' is 10: allowed: "
            "a whole number > k_max (12)",
        ),
    ],
)
def test_vars_that_contradict_each_other_are_named(tmp_path, dbt_vars, message):
    result = validate(tmp_path, **dbt_vars)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-2000:]


def test_good_values_pass_as_numbers_text_or_booleans(tmp_path):
    result = validate(
        tmp_path,
        n_clusters="5",
        n_init="3",
        log1p_money="False",
        anomaly_quantile="0.95",
        frequency_tolerance=0,
        max_missing_measures=16,
        k_min=3,
        k_max=3,
        k_auto_min=3,
        features="reduced",
        promote="TRUE",
        promote_min_kept_share=1,
    )
    assert result.returncode == 0, result.stdout[-2000:]


def test_a_bad_var_stops_the_build_before_any_model_runs(tmp_path, real_csv):
    build = dbt_build(tmp_path, real_csv, anomaly_quantile=0)
    assert build.returncode != 0
    assert "var 'anomaly_quantile' is 0: allowed:" in build.output
    assert "Bad --vars, nothing was built" in build.output
    # no model ran: the on-run-start check comes first
    assert "OK created" not in build.output
    assert "PASS=" not in build.output or "PASS=0" in build.output
