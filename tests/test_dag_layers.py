"""The model folders show the flow: no model reads a model of a later folder.

staging -> prepare -> fit -> registry -> champion -> score -> exports ->
monitor, and an export feeds nothing: its files are written at the end of
the run (on-run-end), so no model has to wait for one.
"""

from __future__ import annotations

import json

import pytest
from conftest import REAL_CSV, REPO, run_dbt

FOLDERS = [
    "staging",
    "prepare",
    "fit",
    "registry",
    "champion",
    "score",
    "exports",
    "monitor",
]
ORDER = {folder: position for position, folder in enumerate(FOLDERS)}


def back_edges(manifest: dict) -> set[tuple[str, str]]:
    """Model edges whose parent's folder comes after the child's, or whose
    parent is an export (an export feeds nothing)."""

    def folder(unique_id: str) -> str:
        # dbt_project/models/<folder>/...
        return manifest["nodes"][unique_id]["original_file_path"].split("/")[2]

    found = set()
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "model":
            continue
        for parent in node["depends_on"]["nodes"]:
            if not parent.startswith("model."):
                continue
            if (
                ORDER[folder(parent)] > ORDER[folder(unique_id)]
                or folder(parent) == "exports"
            ):
                found.add((manifest["nodes"][parent]["name"], node["name"]))
    return found


def test_back_edges_by_hand():
    # a staging model reading a scoring mart is a back edge, a monitoring
    # mart reading staging is not (nor an export reading a score), and
    # anything reading an export is, even from a later folder
    def node(name, folder, parents):
        return {
            "resource_type": "model",
            "name": name,
            "original_file_path": f"dbt_project/models/{folder}/{name}.sql",
            "depends_on": {"nodes": [f"model.p.{p}" for p in parents]},
        }

    manifest = {
        "nodes": {
            "model.p.stg": node("stg", "staging", ["mart"]),
            "model.p.mart": node("mart", "score", []),
            "model.p.mart2": node("mart2", "monitor", ["stg", "export"]),
            "model.p.export": node("export", "exports", ["mart"]),
        }
    }
    assert back_edges(manifest) == {("mart", "stg"), ("export", "mart2")}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("parse")
    parsed = run_dbt(["parse"], workdir, {"raw_path": str(REAL_CSV)})
    assert parsed.returncode == 0, (parsed.stdout + parsed.stderr)[-3000:]
    return json.loads((workdir / "target" / "manifest.json").read_text())


@pytest.mark.slow
def test_no_back_edge_and_no_export_feeds_a_model(manifest):
    assert back_edges(manifest) == set()


@pytest.mark.slow
def test_every_model_lives_in_a_flow_folder_with_its_yaml(manifest):
    # a model outside the eight folders, or documented in another folder's
    # YAML, breaks the picture the folders give
    misplaced = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        folder = node["original_file_path"].split("/")[2]
        documented_in = (node["patch_path"] or "").split("://")[-1].split("/")[2:3]
        if folder not in ORDER or documented_in != [folder]:
            misplaced.append((node["name"], folder, node["patch_path"]))
    assert misplaced == []


def test_only_the_snapshot_hook_looks_a_table_up_by_name():
    # every other read of the published registry goes through
    # source("published", ...), so lineage shows it
    by_name = sorted(
        str(path.relative_to(REPO))
        for path in (REPO / "dbt_project").rglob("*.sql")
        if "get_relation(" in path.read_text()
    )
    assert by_name == ["dbt_project/macros/registry/published_state.sql"]


@pytest.mark.slow
def test_the_published_source_is_the_lasting_registry_and_what_reads_it(manifest):
    # each table of the source is an incremental model (so the build runner
    # carries it over and the snapshot finds it), and the models that read
    # the published model depend on it
    models = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    published = {
        source["name"]
        for source in manifest["sources"].values()
        if source["source_name"] == "published"
    }
    assert published == {
        "scoring_runs",
        "segmentation_models",
        "fitted_features",
        "fitted_segments",
        "int_kmeans_fits",
        "int_segment_history",
    }
    assert {models[name]["config"]["materialized"] for name in published} == {
        "incremental"
    }
    readers = {
        name
        for name, node in models.items()
        if any(".published." in parent for parent in node["depends_on"]["nodes"])
    }
    assert readers == {
        "int_feature_impute_values",
        "int_feature_scaling",
        "int_fit_input_fingerprint",
        "int_kmeans_fit_settings",
        "int_segment_anomaly_thresholds",
        "int_published_champion",
        "int_champion_scores",
    }
