"""The dbt unit tests, which the everyday build leaves out (selectors.yml).

dbt's unit tests check the SQL of validation, imputation and the
nearest-centroid rule on hand-worked toy inputs: they test code, not data,
so the default `dbt build` (the `everyday` selector) skips them, as dbt
recommends for production runs, and CI runs them here, once, against the
real file's build (their models' parents must exist in the warehouse).
"""

import json

import pytest
from conftest import copy_build, run_dbt

pytestmark = pytest.mark.slow


def test_every_dbt_unit_test_passes(real_build, real_csv, tmp_path):
    # dbt opens the warehouse to write: a copy, so the shared build stays put
    build = copy_build(real_build, tmp_path / "warehouse")
    run = run_dbt(
        ["test", "--select", "test_type:unit"],
        tmp_path,
        {"raw_path": str(real_csv)},
        CC_SEGMENTATION_WAREHOUSE=str(build.warehouse),
        CC_SEGMENTATION_EXPORTS=str(build.exports),
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())
    ran = {r["unique_id"]: r["status"] for r in results["results"]}
    # the hooks run too, as operations: on-run-start's validate_vars,
    # snapshot_published_state and check_published_model, and on-run-end's
    # drop_published_state and export_files (no export ran: no file)
    hooks = {uid for uid in ran if uid.startswith("operation.")}
    assert hooks == {
        f"operation.cc_segmentation.cc_segmentation-on-run-start-{n}" for n in (0, 1, 2)
    } | {f"operation.cc_segmentation.cc_segmentation-on-run-end-{n}" for n in (0, 1)}
    ran = {uid: status for uid, status in ran.items() if uid not in hooks}
    assert set(ran) == set(manifest["unit_tests"]) and ran  # every one, only them
    assert set(ran.values()) == {"pass"}


def test_the_default_build_leaves_the_unit_tests_out(real_build):
    assert "unit test" not in real_build.output.split("Finished running")[-1]
