"""The model folders show the flow: no model reads a model of a later folder.

staging -> intermediate -> champion -> marts -> exports.  Two edges still
run the other way, both memory-ordering hints at 10 M customers: the CRM
export waits for the other export, and feature_drift_bins for the CRM
export (two COPYs at once ran out of memory).  The fit state the
intermediate models read (int_feature_scaling, int_segment_centroids,
int_pca_fit) is no longer a mart: the marts publish it.  The remaining edges
are listed here by name, so that a new back edge fails this test, and so
does one that is removed until it is struck from the list: the list only
shrinks.
"""

from __future__ import annotations

import json

import pytest
from conftest import REAL_CSV, run_dbt

ORDER = {"staging": 0, "intermediate": 1, "champion": 2, "marts": 3, "exports": 4}

#: (parent, child) edges from a later folder, or out of an export.
KNOWN_BACK_EDGES = {
    ("customer_with_clusters", "customer_with_clusters_and_crm"),
    ("customer_with_clusters_and_crm", "feature_drift_bins"),
}


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
    # three models: a staging model reading a mart is a back edge, a mart
    # reading staging is not, and anything reading an export is
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
            "model.p.mart": node("mart", "marts", []),
            "model.p.mart2": node("mart2", "marts", ["stg", "export"]),
            "model.p.export": node("export", "exports", ["mart"]),
        }
    }
    assert back_edges(manifest) == {("mart", "stg"), ("export", "mart2")}


@pytest.mark.slow
def test_no_new_back_edge_and_none_left_listed_after_it_goes(tmp_path):
    parsed = run_dbt(["parse"], tmp_path, {"raw_path": str(REAL_CSV)})
    assert parsed.returncode == 0, (parsed.stdout + parsed.stderr)[-3000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    found = back_edges(manifest)
    assert found - KNOWN_BACK_EDGES == set(), "a new back edge"
    assert KNOWN_BACK_EDGES - found == set(), "gone: strike it from the list"
