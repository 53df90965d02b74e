"""Unit tests of segmentation.selection on toy data with known answers."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from cc_segmentation.segmentation.selection import (
    choose_k,
    silhouette,
    silhouette_table,
    stability,
)

# Two tight pairs far apart: (0,0),(0,2) and (10,0),(10,2).
PAIRS = np.array([[0.0, 0.0], [0.0, 2.0], [10.0, 0.0], [10.0, 2.0]])
PAIR_LABELS = np.array([1, 1, 2, 2])


def test_silhouette_of_two_tight_pairs_by_hand():
    # a = 2 for every point; b = mean distance to the other pair
    # = (10 + sqrt(104)) / 2, so s = 1 - a / b.
    b = (10 + np.sqrt(104)) / 2
    assert silhouette(PAIRS, PAIR_LABELS) == pytest.approx(1 - 2 / b)


def test_silhouette_samples_above_max_rows():
    rng = np.random.default_rng(0)
    matrix = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(6, 1, (60, 2))])
    labels = np.repeat([0, 1], 60)
    sampled = silhouette(matrix, labels, max_rows=50, random_state=3)
    assert sampled == silhouette(matrix, labels, max_rows=50, random_state=3)
    assert sampled != silhouette(matrix, labels)
    assert sampled == pytest.approx(silhouette(matrix, labels), abs=0.1)


def test_stability_is_one_for_separated_blobs():
    rng = np.random.default_rng(1)
    matrix = np.vstack([rng.normal(c, 0.1, (30, 2)) for c in (0, 5, 10)])
    assert stability(matrix, 3, n_init=3, random_state=0) == pytest.approx(1.0)


def _scores(**columns):
    base = {
        "k": [2, 3, 4, 5, 6],
        "silhouette": [0.30, 0.25, 0.22, 0.21, 0.20],
        "davies_bouldin": [1.6, 1.6, 1.5, 1.2, 1.4],
        "stability": [0.99, 0.99, 0.95, 0.95, 0.80],
        "smallest_segment_share": [0.4, 0.3, 0.2, 0.1, 0.08],
    }
    base.update(columns)
    return pd.DataFrame(base)


def test_choose_k_gates_then_scores():
    table = choose_k(_scores())
    # k 2, 3 fail k >= 4; k 6 fails stability.  Scaled silhouette (range
    # 0.20-0.30): k4 0.2, k5 0.1; scaled DB (1.2-1.6, lower better):
    # k4 0.25, k5 1.0.  Scores 0.225 and 0.55: k = 5.
    assert table.is_eligible.tolist() == [False, False, True, True, False]
    assert_allclose(table.score[[2, 3]], [0.225, 0.55])
    assert table.k[table.is_chosen].tolist() == [5]


def test_choose_k_segment_share_gate_and_ties_to_smaller_k():
    table = choose_k(_scores(smallest_segment_share=[0.4, 0.3, 0.2, 0.01, 0.08]))
    assert table.k[table.is_chosen].tolist() == [4]
    tied = choose_k(_scores(silhouette=[0.2] * 5, davies_bouldin=[1.0] * 5), min_k=2)
    assert tied.k[tied.is_chosen].tolist() == [2]


def test_choose_k_with_nothing_eligible_considers_every_k():
    table = choose_k(_scores(stability=[0.1] * 5))
    assert table.is_eligible.all()
    assert table.is_chosen.sum() == 1


def test_silhouette_table_by_hand():
    # Two tight pairs 10 apart: a(i) = 2; b(i) = mean distance to the other
    # pair = (10 + sqrt(104)) / 2; s(i) = (b - a) / b, the same for all rows.
    b = (10 + np.sqrt(104)) / 2
    table = silhouette_table(PAIRS, PAIR_LABELS)
    assert table.scope.tolist() == ["model", "segment", "segment"]
    assert table.segment_id.iloc[1:].tolist() == [1, 2]
    assert_allclose(table.silhouette, [(b - 2) / b] * 3)
    assert table.n_silhouette_rows.tolist() == [4, 2, 2]
