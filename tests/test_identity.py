"""Unit tests of cc_segmentation.segmentation.identity on hand-made fits."""

import json
from datetime import datetime

import pandas as pd
import pytest

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


def test_a_segment_that_vanishes_and_returns_gets_its_old_id_back():
    m1 = track([(2, 0, 0), (0, 2, 0)], None, "m1", 1)
    # a transient model: the savers are gone, borrowers appear (id 3)
    m2 = track([(2, 0, 0), (0, 0, 2)], m1, "m2", 2)
    history = pd.concat([m1, m2], ignore_index=True)
    # the savers come back (moved 0.2), the borrowers go
    m3 = track([(2, 0, 0), (0, 2.2, 0)], history, "m3", 3)
    live = m3[m3.status != "vanished"]
    assert live.segment_id.tolist() == [1, 2]
    assert live.status.tolist() == ["kept", "returned"]
    assert live.persona_id.tolist() == ["spender", "saver"]
    returned = live[live.status == "returned"].iloc[0]
    assert returned.previous_model_id == "m1"  # matched where last seen
    assert returned.match_distance == pytest.approx(0.2)
    vanished = m3[m3.status == "vanished"]
    assert vanished.segment_id.tolist() == [3]
    # a fourth, new kind of segment takes 4: ids 2 and 3 stay theirs
    history = pd.concat([history, m3], ignore_index=True)
    m4 = track([(2, 0, 0), (0, 2, 0), (5, 5, 5)], history, "m4", 4)
    assert sorted(m4.segment_id[m4.status != "vanished"]) == [1, 2, 4]
    assert m4.loc[m4.segment_id == 4, "status"].tolist() == ["new"]


def test_a_centroid_moving_exactly_the_threshold_is_the_same_segment():
    m1 = track([(2, 0, 0), (0, 2, 0)], None, "m1", 1)
    # the spenders move by exactly 1.0 (the threshold): kept
    at = track([(3, 0, 0), (0, 2, 0)], m1, "m2", 2)
    assert at.status.tolist() == ["kept", "kept"]
    assert at.match_distance.tolist() == [1.0, 0.0]
    # a hair further: a new segment, and the spenders vanish
    beyond = track([(3 + 1e-9, 0, 0), (0, 2, 0)], m1, "m2", 2)
    assert sorted(beyond.status) == ["kept", "new", "vanished"]
    assert beyond.loc[beyond.status == "new", "segment_id"].tolist() == [3]


def test_matching_is_global_not_greedy():
    # Before: X = (0,0,0) id 1, Y = (1.1,0,0) id 2.  Now: A = (0.5,0,0),
    # B = (-0.55,0,0).  Distances: A-X 0.5, A-Y 0.6, B-X 0.55, B-Y 1.65.
    # Greedy (closest first) pairs A-X, then B-Y is beyond 1.0: B would be
    # new and Y vanished.  Globally A-Y + B-X = 1.15 keeps both.
    m1 = track([(0, 0, 0), (1.1, 0, 0)], None, "m1", 1)
    m2 = track([(0.5, 0, 0), (-0.55, 0, 0)], m1, "m2", 2)
    assert m2.status.tolist() == ["kept", "kept"]
    paired = dict(zip(m2.fit_segment_id, m2.segment_id, strict=True))
    assert paired == {1: 2, 2: 1}  # A (fit 1) is Y (id 2), B is X
    assert m2.match_distance.round(9).tolist() == [0.55, 0.6]


def test_a_cached_fit_built_again_after_others_keeps_its_ids():
    m1 = track([(2, 0, 0), (0, 2, 0)], None, "m1", 1)
    m2 = track([(2, 0, 0), (0, 0, 2)], m1, "m2", 2)
    history = pd.concat([m1, m2], ignore_index=True)
    # m1's file is built again: its stored fit is reused, so are its rows,
    # not a re-match against m2 (which would make the savers "new", id 4)
    again = track([(2, 0, 0), (0, 2, 0)], history, "m1", 1)
    pd.testing.assert_frame_equal(again, m1)


def test_a_new_segment_never_takes_the_name_of_a_vanished_one():
    m1 = track([(2, 0, 0), (0, 2, 0)], None, "m1", 1)
    # the savers vanish; a different saver-like group far away appears
    m2 = track([(2, 0, 0), (0, 4, 0)], m1, "m2", 2)
    new = m2[m2.status == "new"].iloc[0]
    assert (new.segment_id, new.persona_id) == (3, "saver")
    # "Savers" (occurrence 1) is segment 2's name for good: this is "Savers 2"
    assert new.persona_occurrence == 2
