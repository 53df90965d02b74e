"""Scoring through the stored scoring query gives the pipeline's answers."""

from __future__ import annotations

import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cc_segmentation.apps.scoring import score

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("given", ["path", "dataframe"])
def test_scoring_the_real_file_reproduces_customer_segments(
    real_build, real_csv, given
):
    raw = pd.read_csv(real_csv, dtype=str, keep_default_na=False)
    scored = score(real_build.warehouse, real_csv if given == "path" else raw)
    assert len(scored) == len(raw)
    assert scored.rejection_reason.isna().all()
    expected = real_build.query(
        "select cust_id, segment_id, distance_to_centroid, probability, "
        "second_segment_id, confidence, reason_1_feature, crm_actions, "
        "is_distance_anomaly from customer_segments"
    ).set_index("cust_id")
    got = scored.set_index("cust_id").loc[expected.index]
    assert_array_equal(got.segment_id, expected.segment_id)
    assert_array_equal(got.second_segment_id, expected.second_segment_id)
    assert_allclose(got.distance_to_centroid, expected.distance_to_centroid, rtol=1e-9)
    assert_allclose(got.probability, expected.probability, rtol=1e-9)
    assert_allclose(got.confidence, expected.confidence, rtol=1e-9, atol=1e-12)
    assert_array_equal(got.reason_1_feature, expected.reason_1_feature)
    assert_array_equal(got.crm_actions, expected.crm_actions)
    assert_array_equal(got.is_distance_anomaly, expected.is_distance_anomaly)


def test_bad_rows_come_back_with_a_reason_and_good_ones_are_scored(
    real_build, real_csv
):
    raw = pd.read_csv(real_csv, dtype=str).head(3)
    raw.loc[0, "BALANCE"] = "lots"
    raw.loc[1, "TENURE"] = "40"
    scored = score(real_build.warehouse, raw)
    assert scored.rejection_reason.tolist()[:2] == [
        "balance is not a number: lots",
        "tenure is not a whole number of months in 1-12: 40",
    ]
    assert scored.segment_id.isna().tolist() == [True, True, False]
    assert scored.cust_id.tolist() == raw.CUST_ID.tolist()


def test_missing_columns_are_named(real_build, real_csv):
    raw = pd.read_csv(real_csv, dtype=str).head(2).drop(columns=["TENURE", "PAYMENTS"])
    with pytest.raises(ValueError, match="missing columns: PAYMENTS, TENURE"):
        score(real_build.warehouse, raw)
