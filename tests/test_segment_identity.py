"""Segment ids and names survive a refit: builds into one warehouse in turn."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import copy_build, dbt_build

pytestmark = pytest.mark.slow


def subsample(real_csv, path, seed, fraction=0.9):
    lines = real_csv.read_bytes().splitlines(keepends=True)
    body = np.array(lines[1:], dtype=object)
    keep = np.random.default_rng(seed).random(len(body)) < fraction
    path.write_bytes(lines[0] + b"".join(body[keep]))  # temporary, never committed
    return path


def names(build):
    return (
        build.query("select cust_id, segment_name from customer_segments")
        .set_index("cust_id")
        .segment_name
    )


@pytest.fixture(scope="module")
def refits(tmp_path_factory, real_csv):
    tmp = tmp_path_factory.mktemp("identity")
    warehouse = tmp / "segmentation.duckdb"
    first = dbt_build(tmp / "a", subsample(real_csv, tmp / "a.csv", 1), warehouse)
    assert first.returncode == 0, first.output[-3000:]
    first_names = names(first)
    second = dbt_build(tmp / "b", subsample(real_csv, tmp / "b.csv", 2), warehouse)
    assert second.returncode == 0, second.output[-3000:]
    return first_names, second


def test_a_refit_on_another_90_percent_keeps_segment_names(refits):
    first_names, second = refits
    second_names = names(second)
    common = first_names.index.intersection(second_names.index)
    agreement = (first_names[common] == second_names[common]).mean()
    print(f"same segment name for {agreement:.2%} of {len(common)} customers")
    assert agreement >= 0.95


def test_history_keeps_both_fits_and_reports_kept_segments(refits):
    _, second = refits
    models = second.query("select model_id from segmentation_models")
    assert len(models) == 2
    lineage = second.query("select * from segment_lineage order by fitted_at")
    first_id, second_id = lineage.model_id.drop_duplicates().tolist()
    assert set(lineage[lineage.model_id == first_id].status) == {"first fit"}
    latest = lineage[lineage.model_id == second_id]
    assert set(latest.status) == {"kept"}
    assert (latest.previous_model_id == first_id).all()
    earlier = lineage[lineage.model_id == first_id].set_index("segment_id")
    for row in latest.itertuples():
        assert earlier.loc[row.segment_id, "segment_name"] == row.segment_name


def test_a_new_and_a_vanished_segment_are_reported_not_renumbered(
    tmp_path, real_csv, real_build
):
    # the first fit is the default build's (six segments on the real file),
    # copied; a fit with one segment more is built into the copy
    first = copy_build(real_build, tmp_path / "first")
    (k,) = first.query("select n_clusters from segmentation_models").n_clusters
    more = dbt_build(
        tmp_path / "more", real_csv, first.warehouse, n_clusters=k + 1, promote=True
    )
    assert more.returncode == 0, more.output[-3000:]
    lineage = more.query("select * from segment_lineage")
    latest = lineage[lineage.fitted_at == lineage.fitted_at.max()]
    assert (latest.status == "new").sum() >= 1
    new_ids = latest[latest.status == "new"].segment_id
    assert (new_ids > k).all()  # a new id, not a reused one
    live = latest[latest.status != "vanished"]
    assert len(live) == k + 1
    assert live.segment_name.is_unique
    vanished = latest[latest.status == "vanished"]
    # whatever could not be matched is listed, so k old = kept + vanished
    assert (latest.status == "kept").sum() + len(vanished) == k
