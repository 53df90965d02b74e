"""Drift alarms: fit-time baselines, segment_drift and its warn / error tests.

Every figure is checked against numpy / pandas computed here from the
warehouse's own per-customer tables (int_customers_imputed,
customer_segments) and the stored baselines.  The dbt unit tests in
dbt_project/models/monitor/_monitor__unit_tests.yml check the SQL on
hand-worked toy cases (tests/test_dbt_unit_tests.py runs them).

A scoring run is a ``refit: false`` build over a copy of the real file's
build: it scores a shifted copy of the real file with the stored model
(tests/test_refit.py checks that build itself).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import Build, copy_build, run_dbt

from cc_segmentation.data.shift import shifted_copy

FLOOR = 1e-4  # macro drift_share_floor
DECILES = np.arange(1, 10) / 10
DEFAULTS = {
    "psi": (0.1, 0.25),
    "mix_psi": (0.1, 0.25),
    "confidence_drop": (0.05, 0.1),
    "anomaly_ratio": (2.0, 4.0),
}
THRESHOLD_VARS = {
    "feature_psi": "psi",
    "segment_mix_psi": "mix_psi",
    "confidence_drop": "confidence_drop",
    "anomaly_ratio": "anomaly_ratio",
}
LATEST = "recorded_at = (select max(recorded_at) from segment_drift)"


# ---------------------------------------------------------------- helpers


def psi(current: np.ndarray, fit: np.ndarray) -> float:
    """PSI with both shares floored at FLOOR, as documented."""
    current, fit = np.maximum(current, FLOOR), np.maximum(fit, FLOOR)
    return float(np.sum((current - fit) * np.log(current / fit)))


def bin_shares(values: np.ndarray, upper_edges: np.ndarray) -> np.ndarray:
    """Shares of ``values`` in bins closed above at ``upper_edges`` (sorted),
    plus the open bin above the last edge."""
    # side="left": the number of edges strictly below a value, so a value on
    # an edge lands in the bin that edge closes
    index = np.searchsorted(upper_edges, values, side="left")
    return np.bincount(index, minlength=len(upper_edges) + 1) / len(values)


def status(value: float, warn: float, error: float) -> str:
    if np.isnan(value):
        return "ok"
    return "error" if value >= error else "warn" if value >= warn else "ok"


def scoring_run(build: Build, raw_path: Path, workdir: Path, **dbt_vars) -> Build:
    """Score ``raw_path`` with ``build``'s published model (refit: false)."""
    run = run_dbt(
        ["build"],
        workdir,
        {"raw_path": str(raw_path), "refit": False, **dbt_vars},
        CC_SEGMENTATION_WAREHOUSE=str(build.warehouse),
        CC_SEGMENTATION_EXPORTS=str(build.exports),
    )
    return Build(
        run.returncode, run.stdout + run.stderr, build.warehouse, build.exports
    )


def drift_rows(build: Build, where: str = LATEST) -> pd.DataFrame:
    return build.query(
        f"select * from segment_drift where {where} "
        "order by run_id, check_name, subject"
    )


def features(build: Build) -> list[str]:
    return build.query("select feature_name from feature_scaling order by 1")[
        "feature_name"
    ].tolist()


def expected_drift(build: Build) -> pd.DataFrame:
    """The latest run's checks, recomputed with numpy / pandas from the
    warehouse's per-customer tables and the stored baselines."""
    ((model_id,),) = build.query(
        "select distinct model_id from customer_segments"
    ).to_numpy()
    customers = build.query("select * from int_customers_imputed")
    bins = build.query(
        f"select * from feature_drift_bins where model_id = '{model_id}'"
        " order by feature_name, bin_number"
    )
    baseline = build.query(
        f"select * from segment_drift_baselines where model_id = '{model_id}'"
        " and anomaly_quantile = (select cast(max(anomaly_quantile) as double)"
        " from int_segment_anomaly_thresholds)"
    ).set_index("segment_id")
    segments = build.query(
        "select segment_id, confidence, is_distance_anomaly from customer_segments"
    )
    rows = []
    for feature, feature_bins in bins.groupby("feature_name"):
        current = bin_shares(
            customers[feature].to_numpy(),
            feature_bins["upper_edge"].dropna().to_numpy(),
        )
        rows.append(("feature_psi", feature, psi(current, feature_bins["fit_share"])))
    sizes = segments.groupby("segment_id").size().reindex(baseline.index, fill_value=0)
    rows.append(
        (
            "segment_mix_psi",
            "all",
            psi((sizes / len(segments)).to_numpy(), baseline["fit_share"].to_numpy()),
        )
    )
    by_segment = segments.groupby("segment_id")
    medians = by_segment["confidence"].median()
    anomalies = by_segment["is_distance_anomaly"].mean()
    first = baseline.iloc[0]
    rows.append(
        (
            "confidence_drop",
            "all",
            first["model_median_confidence"] - np.median(segments["confidence"]),
        )
    )
    rows.append(
        (
            "anomaly_ratio",
            "all",
            segments["is_distance_anomaly"].mean()
            / max(first["model_anomaly_share"], FLOOR),
        )
    )
    for segment_id, fit in baseline.iterrows():
        rows.append(
            (
                "confidence_drop",
                fit["segment_name"],
                fit["fit_median_confidence"] - medians.get(segment_id, np.nan),
            )
        )
        rows.append(
            (
                "anomaly_ratio",
                fit["segment_name"],
                anomalies.get(segment_id, np.nan)
                / max(fit["fit_anomaly_share"], FLOOR),
            )
        )
    return pd.DataFrame(rows, columns=["check_name", "subject", "expected"])


def assert_drift_matches(build: Build, thresholds: dict | None = None) -> pd.DataFrame:
    """segment_drift's latest run equals expected_drift, value and status."""
    thresholds = {**DEFAULTS, **(thresholds or {})}
    found = drift_rows(build)
    merged = found.merge(
        expected_drift(build), on=["check_name", "subject"], how="outer", indicator=True
    )
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    np.testing.assert_allclose(
        merged["check_value"].astype(float),
        merged["expected"].astype(float),
        rtol=1e-9,
        atol=1e-12,
    )
    for row in merged.itertuples():
        warn, error = thresholds[THRESHOLD_VARS[row.check_name]]
        assert (row.warn_threshold, row.error_threshold) == (warn, error)
        assert row.status == status(row.expected, warn, error), row
    assert (found["refit_recommended"] == (found["status"] != "ok").any()).all()
    return merged


def alarm_lines(output: str) -> list[str]:
    return [
        line.split("test ")[1].split(" ")[0]
        for line in output.splitlines()
        if "Warning in test drift_" in line or "Failure in test drift_" in line
    ]


# ------------------------------------------------------------ quick tests


def _toy_csv(path: Path) -> Path:
    path.write_text(
        "CUST_ID,BALANCE,TENURE\n"
        + "".join(f"C{i},{10 * i}.25,12\n" for i in range(1, 9))
        + "C9,,12\n"
    )
    return path


def test_shifted_copy_multiplies_a_fixed_seed_share_and_keeps_the_rest(tmp_path):
    source = _toy_csv(tmp_path / "raw.csv")
    first = shifted_copy(source, tmp_path / "a.csv", factor=1.5, share=1 / 3, seed=7)
    again = shifted_copy(source, tmp_path / "b.csv", factor=1.5, share=1 / 3, seed=7)
    other = shifted_copy(source, tmp_path / "c.csv", factor=1.5, share=2 / 3, seed=8)
    assert first.n_rows == 9
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert first.shifted_ids == again.shifted_ids
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    for copy in (first, other):
        shifted = pd.read_csv(copy.path, dtype=str, keep_default_na=False)
        assert list(shifted.columns) == list(raw.columns)
        changed = shifted["BALANCE"] != raw["BALANCE"]
        assert sorted(shifted.loc[changed, "CUST_ID"]) == sorted(copy.shifted_ids)
        # every other cell as it was, text for text
        assert shifted[["CUST_ID", "TENURE"]].equals(raw[["CUST_ID", "TENURE"]])
        assert shifted.loc[~changed, "BALANCE"].equals(raw.loc[~changed, "BALANCE"])
        assert (
            shifted.loc[changed, "BALANCE"].astype(float).to_numpy()
            == raw.loc[changed, "BALANCE"].astype(float).to_numpy() * 1.5
        ).all()
    # round(9 / 3) = 3 rows drawn; a blank cell drawn stays blank, unlisted
    assert len(first.shifted_ids) <= 3 and len(other.shifted_ids) <= 6
    assert len(other.shifted_ids) >= 5
    assert first.shifted_ids != other.shifted_ids


def test_shifted_copy_names_a_cell_that_is_not_a_number(tmp_path):
    source = tmp_path / "raw.csv"
    source.write_text("CUST_ID,BALANCE\nC1,lots\n")
    with pytest.raises(ValueError, match=r"raw\.csv, line 2: BALANCE is not a number"):
        shifted_copy(source, tmp_path / "out.csv", share=1.0)
    with pytest.raises(ValueError, match="has no column PAYMENTS"):
        shifted_copy(source, tmp_path / "out.csv", column="PAYMENTS")


# ------------------------------------------------------------- slow tests


@pytest.mark.slow
def test_baselines_are_the_fit_customers_deciles_and_segment_figures(real_build):
    customers = real_build.query("select * from int_customers_imputed")
    bins = real_build.query("select * from feature_drift_bins")
    assert len(set(bins["model_id"])) == 1
    assert sorted(bins["feature_name"].unique()) == features(real_build)
    for feature, stored in bins.groupby("feature_name"):
        stored = stored.sort_values("bin_number")
        values = customers[feature].to_numpy()
        # quantile_disc is numpy's inverted_cdf; tied deciles collapse
        edges = np.unique(np.quantile(values, DECILES, method="inverted_cdf"))
        np.testing.assert_array_equal(stored["upper_edge"].to_numpy()[:-1], edges)
        assert stored["upper_edge"].isna().to_numpy()[-1]
        assert stored["bin_number"].tolist() == list(range(1, len(edges) + 2))
        counts = np.bincount(
            np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1
        )
        np.testing.assert_array_equal(stored["fit_customers"], counts)
        np.testing.assert_allclose(
            stored["fit_share"], counts / len(values), rtol=1e-15
        )
    # ties collapse: 66 % of the real customers never pay in full
    prc = bins[bins["feature_name"] == "prc_full_payment"]
    assert len(prc) < 10 and prc["fit_share"].max() > 0.6

    segments = real_build.query("select * from customer_segments")
    baseline = real_build.query("select * from segment_drift_baselines")
    by_segment = segments.groupby("segment_id")
    expected = pd.DataFrame(
        {
            "fit_customers": by_segment.size(),
            "fit_share": by_segment.size() / len(segments),
            "fit_median_confidence": by_segment["confidence"].median(),
            "fit_anomaly_share": by_segment["is_distance_anomaly"].mean(),
            "segment_name": by_segment["segment_name"].first(),
        }
    )
    found = baseline.set_index("segment_id").loc[expected.index]
    assert found["segment_name"].equals(expected["segment_name"])
    for column in ["fit_customers", "fit_share", "fit_median_confidence"]:
        np.testing.assert_allclose(found[column], expected[column], rtol=1e-12)
    np.testing.assert_allclose(
        found["fit_anomaly_share"], expected["fit_anomaly_share"], rtol=1e-12
    )
    np.testing.assert_allclose(
        found["model_median_confidence"], np.median(segments["confidence"]), rtol=1e-12
    )
    np.testing.assert_allclose(
        found["model_anomaly_share"], segments["is_distance_anomaly"].mean(), rtol=1e-12
    )


@pytest.mark.slow
def test_a_refit_build_compares_the_fit_with_itself(real_build):
    rows = drift_rows(real_build, "true")
    assert len(set(rows["run_id"])) == 1
    assert_drift_matches(real_build)
    by_check = rows.groupby("check_name")["check_value"]
    assert (by_check.get_group("feature_psi") == 0).all()
    assert len(by_check.get_group("feature_psi")) == len(features(real_build))
    assert (by_check.get_group("segment_mix_psi") == 0).all()
    assert (by_check.get_group("confidence_drop") == 0).all()
    assert (by_check.get_group("anomaly_ratio") == 1).all()
    assert (rows["status"] == "ok").all() and not rows["refit_recommended"].any()
    assert alarm_lines(real_build.output) == []
    # the run and the baseline are the same build
    ((fit_run_id,),) = real_build.query(
        "select distinct fit_run_id from feature_drift_bins"
    ).to_numpy()
    assert rows["run_id"].iloc[0] == fit_run_id


@pytest.fixture(scope="module")
def scoring_runs(real_build, real_csv, tmp_path_factory):
    """The real file's build, then four scoring runs of one shifted copy
    (BALANCE x 1.5 for a third of the customers) with its stored model:
    default thresholds; the PSI warn threshold below the balance's PSI;
    the error threshold below it too; default thresholds again.  The
    thresholds come from the PSI numpy expects.  Returns the runs, the
    expected balance PSI and snapshots of the history after each run."""
    workdir = tmp_path_factory.mktemp("drift")
    build = copy_build(real_build, workdir / "warehouse")
    copy = shifted_copy(real_csv, workdir / "shifted.csv")
    history = [build.query("select * from segment_drift order by all")]
    baselines = [
        build.query(f"select * from {t} order by all")
        for t in ("feature_drift_bins", "segment_drift_baselines")
    ]
    runs = [scoring_run(build, copy.path, workdir / "run2")]
    assert runs[0].returncode == 0, runs[0].output[-5000:]
    history.append(build.query("select * from segment_drift order by all"))
    balance = expected_drift(build).set_index(["check_name", "subject"])
    balance_psi = float(balance.loc[("feature_psi", "balance"), "expected"])
    settings = [
        {"drift_psi_warn": balance_psi / 2},
        {"drift_psi_warn": balance_psi / 4, "drift_psi_error": balance_psi / 2},
        {},
    ]
    for number, dbt_vars in enumerate(settings, start=3):
        runs.append(scoring_run(build, copy.path, workdir / f"run{number}", **dbt_vars))
        history.append(build.query("select * from segment_drift order by all"))
    return {
        "build": build,
        "copy": copy,
        "runs": runs,
        "settings": [{}, *settings],
        "balance_psi": balance_psi,
        "history": history,
        "baselines": baselines,
    }


@pytest.mark.slow
def test_a_scoring_run_is_compared_with_the_stored_fit(scoring_runs, real_build):
    build, copy = scoring_runs["build"], scoring_runs["copy"]
    (second,) = scoring_runs["runs"][:1]
    assert second.returncode == 0, second.output[-5000:]
    # the shifted customers were scored with the stored model
    assert build.query("select distinct model_id from customer_segments").equals(
        real_build.query("select distinct model_id from customer_segments")
    )
    scored = build.query("select cust_id, balance from customer_segments")
    fitted = real_build.query("select cust_id, balance from customer_segments")
    both = scored.merge(fitted, on="cust_id")
    moved = both.query("balance_x != balance_y")
    # x 1.5 moves every shifted balance but a 0 (quarantined rows are out)
    shifted = both[both["cust_id"].isin(copy.shifted_ids) & (both["balance_y"] > 0)]
    assert sorted(moved["cust_id"]) == sorted(shifted["cust_id"])
    np.testing.assert_array_equal(moved["balance_x"], moved["balance_y"] * 1.5)
    # ... which is run 2 of scoring_runs; every later run re-checks the
    # same customers, so the last one's figures are run 2's
    merged = assert_drift_matches(build)
    values = merged.set_index(["check_name", "subject"])["check_value"]
    # BALANCE x 1.5 for a third moves the balance, and only it
    assert values[("feature_psi", "balance")] == pytest.approx(
        scoring_runs["balance_psi"]
    )
    assert 0.005 < scoring_runs["balance_psi"] < 0.02  # small: ok at 0.1
    others = values.loc["feature_psi"].drop("balance")
    assert (others == 0).all()
    assert alarm_lines(second.output) == []


@pytest.mark.slow
def test_alarms_warn_and_fail_the_build_at_their_thresholds(scoring_runs):
    _, warned, failed, _ = scoring_runs["runs"]
    history = scoring_runs["history"]
    assert warned.returncode == 0, warned.output[-5000:]
    assert alarm_lines(warned.output) == ["drift_feature_psi_at_warn"]
    assert failed.returncode == 1, failed.output[-5000:]
    assert alarm_lines(failed.output) == ["drift_feature_psi_at_error"]
    for run_history, settings in zip(
        history[2:4], scoring_runs["settings"][1:3], strict=True
    ):
        latest = run_history[
            run_history["recorded_at"] == run_history["recorded_at"].max()
        ]
        balance = latest[latest["subject"] == "balance"].iloc[0]
        psi_warn = settings["drift_psi_warn"]
        psi_error = settings.get("drift_psi_error", DEFAULTS["psi"][1])
        assert (balance["warn_threshold"], balance["error_threshold"]) == pytest.approx(
            (psi_warn, psi_error)
        )
        expected = status(balance["check_value"], psi_warn, psi_error)
        assert balance["status"] == expected
        assert (latest["status"] != "ok").sum() == 1
        assert latest["refit_recommended"].all()


@pytest.mark.slow
def test_alarms_look_at_the_latest_run_only(scoring_runs):
    last = scoring_runs["runs"][-1]
    history = scoring_runs["history"][-1]
    # the failed run's error row is in the (unpublished, built in place)
    # table, and the next run passes all the same
    assert (history["status"] == "error").sum() == 1
    assert last.returncode == 0, last.output[-5000:]
    assert alarm_lines(last.output) == []


@pytest.mark.slow
def test_runs_append_and_never_rewrite_history_or_baselines(scoring_runs):
    build, history = scoring_runs["build"], scoring_runs["history"]
    assert [h["run_id"].nunique() for h in history] == [1, 2, 3, 4, 5]
    for before, after in zip(history[:-1], history[1:], strict=True):
        kept = after[after["run_id"].isin(before["run_id"])].reset_index(drop=True)
        pd.testing.assert_frame_equal(kept, before.reset_index(drop=True))
    for table, stored in zip(
        ("feature_drift_bins", "segment_drift_baselines"),
        scoring_runs["baselines"],
        strict=True,
    ):
        pd.testing.assert_frame_equal(
            build.query(f"select * from {table} order by all"), stored
        )
    # every run has its checks, and one model
    per_run = (
        history[-1]
        .groupby("run_id")
        .agg(rows=("check_name", "size"), models=("model_id", "nunique"))
    )
    assert (per_run["models"] == 1).all()
    assert len(set(per_run["rows"])) == 1


@pytest.mark.slow
def test_a_model_without_a_baseline_warns(scoring_runs, tmp_path):
    """A warehouse whose model was fitted before the drift alarms existed."""
    build = copy_build(scoring_runs["build"], tmp_path / "warehouse")
    with duckdb.connect(str(build.warehouse)) as con:
        con.execute("delete from feature_drift_bins")
        con.execute("delete from segment_drift_baselines")
    run = scoring_run(build, scoring_runs["copy"].path, tmp_path / "run")
    assert run.returncode == 0, run.output[-5000:]
    assert alarm_lines(run.output) == ["drift_baseline_missing"]
    rows = drift_rows(build)
    assert rows[["check_name", "subject", "status"]].to_numpy().tolist() == [
        ["baseline", "all", "warn"]
    ]
    assert rows["refit_recommended"].all()
    # a scoring run does not make the scored customers the baseline
    assert build.query("select count(*) as n from feature_drift_bins")["n"][0] == 0


@pytest.mark.slow
def test_another_anomaly_quantile_on_the_same_fit_is_not_drift(
    real_build, real_csv, tmp_path
):
    """anomaly_quantile is not part of model_id: a rebuild of the same fit
    at 0.95 flags 5 % of customers, which against the 1 % stored at 0.99
    would be an anomaly ratio of about 5 (an error).  It gets a baseline of
    its own, and the 0.99 one is kept."""
    build = copy_build(real_build, tmp_path / "warehouse")
    before = build.query("select * from segment_drift_baselines order by all")
    run = run_dbt(
        [
            "build",
            "--select",
            "int_segment_anomaly_thresholds customer_segments tag:drift",
            "--exclude",
            "test_type:unit",
            "--indirect-selection",
            "cautious",
        ],
        tmp_path,
        {"raw_path": str(real_csv), "anomaly_quantile": 0.95},
        CC_SEGMENTATION_WAREHOUSE=str(build.warehouse),
        CC_SEGMENTATION_EXPORTS=str(build.exports),
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    assert alarm_lines(run.stdout) == []
    baselines = build.query("select * from segment_drift_baselines order by all")
    assert sorted(set(baselines["anomaly_quantile"])) == [0.95, 0.99]
    kept = baselines[baselines["anomaly_quantile"] == 0.99].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, before)
    segments = build.query("select is_distance_anomaly from customer_segments")
    new = baselines[baselines["anomaly_quantile"] == 0.95]
    assert new["model_anomaly_share"].iloc[0] == pytest.approx(
        segments["is_distance_anomaly"].mean(), rel=1e-12
    )
    assert 0.045 < new["model_anomaly_share"].iloc[0] < 0.055
    rows = drift_rows(build)
    ratios = rows.loc[rows["check_name"] == "anomaly_ratio", "check_value"]
    assert (ratios == 1).all() and (rows["status"] == "ok").all()
