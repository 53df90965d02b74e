"""The promotion gate, built: a champion, a held-back challenger, refit: false.

One warehouse, four builds (plain `dbt build`, in place):

1. the real file's default build (the champion, k = 6 on the real file);
2. the same file with n_clusters one more: a challenger with another k, so
   held back: the build fails at promotion_decision, names both models and
   what to do, and no scoring mart changes;
3. refit: false: scored with the champion, as the message says;
4. n_clusters one more again with promote: true: the challenger scores.

The champion's scores that the gate compares with (int_champion_scores) are
checked against the champion's own published scores of the same file, and
the move matrix against the two builds' customer_segments.

Then the README's command, cc-segmentation build, on the same sequence: a
held-back challenger publishes the champion's scores of the file and keeps
its decision, move matrix and fit state; promote: true then publishes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO, copy_build, dbt_build

pytestmark = pytest.mark.slow

SEGMENTS = (
    "select cust_id, model_id, segment_id from customer_segments order by cust_id"
)


@pytest.fixture(scope="module")
def gate(real_build, real_csv, tmp_path_factory):
    root = tmp_path_factory.mktemp("champion")
    build = copy_build(real_build, root / "warehouse")
    champion = build.query(SEGMENTS)
    (k,) = build.query("select n_clusters from segmentation_models").n_clusters
    runs = build.query("select * from scoring_runs")
    steps = {"champion": champion, "k": int(k), "runs": runs}

    held = dbt_build(
        root / "held", real_csv, warehouse=build.warehouse, n_clusters=k + 1
    )
    steps["held"] = held
    steps["held_segments"] = build.query(SEGMENTS)
    steps["held_runs"] = build.query("select * from scoring_runs")

    frozen = dbt_build(
        root / "frozen", real_csv, warehouse=build.warehouse, refit=False
    )
    assert frozen.returncode == 0, frozen.output[-5000:]
    steps["frozen_segments"] = build.query(SEGMENTS)

    promoted = dbt_build(
        root / "promoted",
        real_csv,
        warehouse=build.warehouse,
        n_clusters=k + 1,
        promote=True,
    )
    assert promoted.returncode == 0, promoted.output[-5000:]
    steps["promoted_segments"] = build.query(SEGMENTS)
    steps["decision"] = build.query("select * from promotion_decision")
    steps["moves"] = build.query("select * from promotion_moves")
    steps["champion_scores"] = build.query(
        "select cust_id, champion_model_id as model_id, segment_id "
        "from int_champion_scores order by cust_id"
    )
    return steps


def test_a_challenger_with_another_k_is_held_back_with_what_to_do(gate):
    held = gate["held"]
    assert held.returncode != 0
    (champion_id,) = gate["champion"].model_id.unique()
    message = next(line for line in held.output.splitlines() if "is held back" in line)
    assert f"(the champion: k = {gate['k']})" in message
    assert f"The champion {champion_id} (k = {gate['k']}) still scores" in message
    assert '--vars "{refit: false}"' in message
    assert '--vars "{promote: true}"' in message


def test_a_held_back_build_changes_no_score_and_records_no_run(gate):
    pd.testing.assert_frame_equal(gate["held_segments"], gate["champion"])
    pd.testing.assert_frame_equal(gate["held_runs"], gate["runs"])


def test_refit_false_after_a_held_back_challenger_scores_with_the_champion(gate):
    pd.testing.assert_frame_equal(gate["frozen_segments"], gate["champion"])


def test_promote_true_makes_the_challenger_score(gate):
    promoted = gate["promoted_segments"]
    (champion_id,) = gate["champion"].model_id.unique()
    (challenger_id,) = promoted.model_id.unique()
    assert challenger_id != champion_id
    assert promoted.segment_id.nunique() == gate["k"] + 1
    decision = gate["decision"].iloc[0]
    assert decision.decision == "promoted by hand (promote: true)"
    assert decision.challenger_model_id == challenger_id
    assert decision.champion_model_id == champion_id
    assert decision.champion_n_clusters == gate["k"]
    assert decision.challenger_n_clusters == gate["k"] + 1


def test_the_champion_scores_the_new_file_as_its_own_build_did(gate):
    # the same file and the champion's stored fit state: every customer gets
    # the segment the champion's own build published
    pd.testing.assert_frame_equal(
        gate["champion_scores"].reset_index(drop=True),
        gate["champion"].reset_index(drop=True),
        check_dtype=False,
    )


def test_the_move_matrix_counts_both_builds_published_segments(gate):
    pairs = gate["champion"].merge(
        gate["promoted_segments"], on="cust_id", suffixes=("_champion", "_challenger")
    )
    expected = (
        pairs.groupby(["segment_id_champion", "segment_id_challenger"])
        .size()
        .rename("n_customers")
        .reset_index()
        .rename(
            columns={
                "segment_id_champion": "champion_segment_id",
                "segment_id_challenger": "challenger_segment_id",
            }
        )
    )
    moves = gate["moves"][
        ["champion_segment_id", "challenger_segment_id", "n_customers"]
    ]
    pd.testing.assert_frame_equal(
        moves.sort_values(["champion_segment_id", "challenger_segment_id"]).reset_index(
            drop=True
        ),
        expected.reset_index(drop=True),
        check_dtype=False,
    )
    decision = gate["decision"].iloc[0]
    kept = (pairs.segment_id_champion == pairs.segment_id_challenger).sum()
    assert decision.n_compared == len(pairs)
    assert decision.n_kept == kept
    assert decision.kept_share == pytest.approx(kept / len(pairs), abs=1e-12)


@pytest.fixture(scope="module")
def published(real_build, real_csv, tmp_path_factory):
    """cc-segmentation build on a copy of the champion's warehouse: another k
    (held back, so the champion's scores are published), then the same with
    promote: true."""
    root = tmp_path_factory.mktemp("published")
    build = copy_build(real_build, root / "warehouse")
    (k,) = build.query("select n_clusters from segmentation_models").n_clusters
    steps = {"k": int(k), "champion": build.query(SEGMENTS)}
    for name, dbt_vars in (
        ("held", {"n_clusters": int(k) + 1}),
        ("promoted", {"n_clusters": int(k) + 1, "promote": True}),
    ):
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "cc_segmentation",
                "build",
                "--target-path",
                str(root / name / "target"),
                "--log-path",
                str(root / name / "logs"),
                "--vars",
                json.dumps({"raw_path": str(real_csv), **dbt_vars}),
            ],  # fmt: skip
            cwd=REPO,
            env=dict(
                os.environ,
                CC_SEGMENTATION_WAREHOUSE=str(build.warehouse),
                CC_SEGMENTATION_EXPORTS=str(build.exports),
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        steps[name] = {
            "run": run,
            "segments": build.query(SEGMENTS),
            "decision": build.query("select * from promotion_decision"),
            "moves": build.query("select * from promotion_moves"),
            "models": build.query("select model_id from segmentation_models"),
            "runs": build.query("select * from scoring_runs order by run_number"),
            "exported": pd.read_parquet(
                build.exports / "customer_with_clusters.parquet"
            ),
        }
    return steps


def test_a_held_back_challenger_publishes_the_champions_scores(published):
    held = published["held"]
    assert held["run"].returncode == 0, (held["run"].stdout + held["run"].stderr)[
        -5000:
    ]
    (champion_id,) = published["champion"].model_id.unique()
    pd.testing.assert_frame_equal(held["segments"], published["champion"])
    # the exports too, and the run is recorded as scored with the champion
    exported = held["exported"].sort_values("cust_id").reset_index(drop=True)
    assert (
        exported.segment_id.to_numpy() == published["champion"].segment_id.to_numpy()
    ).all()
    last = held["runs"].iloc[-1]
    assert last.model_id == champion_id and not last.is_refit
    # the build ends with one line saying so and how to promote
    last_line = held["run"].stdout.strip().splitlines()[-2]
    assert last_line.startswith("challenger ")
    assert f"held back: k = {published['k'] + 1}" in last_line
    assert f"The champion {champion_id} scored this file" in last_line
    assert "promote: true" in last_line


def test_a_held_back_challenger_stays_in_the_registry_with_its_reason(published):
    held = published["held"]
    decision = held["decision"].iloc[0]
    assert not decision.is_promoted
    assert decision.decision.startswith("held back: k = ")
    assert decision.challenger_model_id in set(held["models"].model_id)
    assert held["moves"].n_customers.sum() == len(published["champion"])
    assert (held["moves"].challenger_model_id == decision.challenger_model_id).all()


def test_promote_true_after_a_held_back_build_publishes_the_challenger(published):
    promoted = published["promoted"]
    assert promoted["run"].returncode == 0, promoted["run"].stdout[-5000:]
    held_challenger = published["held"]["decision"].iloc[0].challenger_model_id
    assert set(promoted["segments"].model_id) == {held_challenger}
    assert promoted["decision"].iloc[0].decision == "promoted by hand (promote: true)"
    assert promoted["runs"].iloc[-1].model_id == held_challenger
    # the held-back build stored its fit: this one reused it
    assert (
        f"KMeans fit {held_challenger}: same input and settings as stored, reused"
        in promoted["run"].stdout
    )
