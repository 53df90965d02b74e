"""Unit tests of cc_segmentation.segmentation.identity on hand-made fits."""

import json
from datetime import datetime

import pandas as pd

from cc_segmentation.segmentation.identity import track_segments

SIGNATURES = pd.DataFrame(
    {
        "persona_id": ["spender", "saver", "borrower"],
        "feature_name": ["spend", "save", "borrow"],
        "signature_z": [2.0, 2.0, 2.0],
    }
)
CATALOGUE = ["spender", "saver", "borrower"]


def fit(points):
    """Long-form centroids; the fit numbers segments 1.. in the given order."""
    return pd.DataFrame(
        [
            {
                "segment_id": s,
                "feature_name": f,
                "feature_position": i,
                "centroid_z": v,
            }
            for s, point in enumerate(points, start=1)
            for i, (f, v) in enumerate(
                zip(["spend", "save", "borrow"], point, strict=True), start=1
            )
        ]
    )


def track(points, history, model_id, day):
    return track_segments(
        fit(points),
        history,
        SIGNATURES,
        CATALOGUE,
        model_id=model_id,
        fitted_at=datetime(2026, 1, day),
        max_match_distance=1.0,
    )


def test_first_fit_takes_fit_ids_and_nearest_personas():
    first = track([(2, 0, 0), (0, 2, 0)], None, "m1", 1)
    assert first.status.tolist() == ["first fit", "first fit"]
    assert first.segment_id.tolist() == [1, 2]
    assert first.persona_id.tolist() == ["spender", "saver"]
    assert json.loads(first.centroid_z[0]) == [2, 0, 0]


def test_refit_keeps_ids_and_names_even_when_the_fit_renumbers():
    first = track([(2, 0, 0), (0, 2, 0)], None, "m1", 1)
    # the refit lists the savers first (they grew); both moved by 0.1
    second = track([(0, 2.1, 0), (2.1, 0, 0)], first, "m2", 2)
    assert second.status.tolist() == ["kept", "kept"]
    assert second.segment_id.tolist() == [1, 2]  # rows in stable-id order
    assert second.fit_segment_id.tolist() == [2, 1]
    assert second.persona_id.tolist() == ["spender", "saver"]
    assert second.match_distance.round(6).tolist() == [0.1, 0.1]
    assert (second.previous_model_id == "m1").all()


def test_new_and_vanished_segments_are_reported():
    first = track([(2, 0, 0), (0, 2, 0)], None, "m1", 1)
    # savers gone, borrowers appear; spenders stay
    second = track([(2, 0, 0), (0, 0, 2)], first, "m2", 2)
    live = second[second.status != "vanished"]
    assert live.status.tolist() == ["kept", "new"]
    assert live.segment_id.tolist() == [1, 3]  # 3: never reuse an id
    assert live.persona_id.tolist() == ["spender", "borrower"]
    vanished = second[second.status == "vanished"]
    assert vanished.segment_id.tolist() == [2]
    assert vanished.fit_segment_id.isna().all()


def test_rebuilding_the_same_model_gives_the_same_rows():
    first = track([(2, 0, 0), (0, 2, 0)], None, "m1", 1)
    second = track([(0, 2.1, 0), (2.1, 0, 0)], first, "m2", 2)
    history = pd.concat([first, second], ignore_index=True)
    again = track([(0, 2.1, 0), (2.1, 0, 0)], history, "m2", 2)
    pd.testing.assert_frame_equal(again, second)


def test_rebuilding_a_model_with_a_new_segment_keeps_its_id():
    first = track([(2, 0, 0), (0, 2, 0)], None, "m1", 1)
    second = track([(2, 0, 0), (0, 0, 2)], first, "m2", 2)
    history = pd.concat([first, second], ignore_index=True)
    again = track([(2, 0, 0), (0, 0, 2)], history, "m2", 2)
    # the borrowers are segment 3 however often m2 is rebuilt (not 4)
    pd.testing.assert_frame_equal(again, second)
    assert again[again.status == "new"].segment_id.tolist() == [3]
