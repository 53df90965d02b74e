"""Unit tests of cc_segmentation.segmentation.personas on hand-made catalogues."""

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from cc_segmentation.segmentation.personas import match_personas


def _centroids(points):
    rows = [
        {"segment_id": s, "feature_name": f, "centroid_z": v}
        for s, point in points.items()
        for f, v in point.items()
    ]
    return pd.DataFrame(rows)


SIGNATURES = pd.DataFrame(
    {
        "persona_id": ["spender", "spender", "saver"],
        "feature_name": ["spend", "save", "save"],
        "signature_z": [2.0, -1.0, 2.0],
    }
)
CATALOGUE = ["average", "saver", "spender"]  # average: no signature rows = 0


def test_each_segment_gets_the_persona_its_centroid_is_nearest_to():
    centroids = _centroids(
        {
            1: {"spend": 0.1, "save": 0.2},
            2: {"spend": 1.8, "save": -0.7},
            3: {"spend": -0.3, "save": 1.5},
        }
    )
    matched = match_personas(centroids, SIGNATURES, CATALOGUE)
    assert matched["segment_id"].tolist() == [1, 2, 3]
    assert matched["persona_id"].tolist() == ["average", "spender", "saver"]
    assert matched["persona_occurrence"].tolist() == [1, 1, 1]
    # distance of segment 2 to spender (2, -1): sqrt(0.2^2 + 0.3^2)
    assert_allclose(matched["match_distance"][1], (0.04 + 0.09) ** 0.5)


def test_assignment_is_global_not_greedy():
    # Both segments are nearest to "spender" (2, -1).  Greedy in segment
    # order would give it to segment 1 (costs 0.5 + 15.08); the optimal
    # pairing gives segment 1 "saver" (0, 2) instead (costs 8.5 + 0.08).
    centroids = _centroids(
        {1: {"spend": 1.5, "save": -0.5}, 2: {"spend": 2.2, "save": -1.2}}
    )
    matched = match_personas(centroids, SIGNATURES, ["saver", "spender"])
    assert matched["persona_id"].tolist() == ["saver", "spender"]


def test_more_segments_than_personas_reuses_the_catalogue():
    centroids = _centroids(
        {
            1: {"spend": 2.0, "save": -1.0},
            2: {"spend": 2.1, "save": -1.0},
            3: {"spend": 0.0, "save": 2.0},
        }
    )
    matched = match_personas(centroids, SIGNATURES, ["saver", "spender"])
    assert matched["persona_id"].tolist() == ["spender", "spender", "saver"]
    assert matched["persona_occurrence"].tolist() == [1, 2, 1]


def test_signature_for_an_unknown_persona_is_an_error():
    centroids = _centroids({1: {"spend": 0.0, "save": 0.0}})
    with pytest.raises(ValueError, match="not in the catalogue"):
        match_personas(centroids, SIGNATURES, ["saver"])
