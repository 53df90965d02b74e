"""Unit tests of segmentation.selection on toy data with known answers."""

import hashlib
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from cc_segmentation.segmentation.selection import (
    DECISIONS,
    StabilityEstimate,
    choose_k,
    resample_members,
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
    found = stability(matrix, 3, n_init=3, random_state=0)
    assert found.value == pytest.approx(1.0)
    assert found.standard_error == pytest.approx(0.0, abs=1e-12)
    assert found.n_resamples == 20


def test_resample_membership_is_a_hash_of_the_customer_id():
    ids = np.array([f"C{i:05d}" for i in range(2000)])
    members = resample_members(ids, 4, fraction=0.8, random_state=7)
    # by hand, for one customer: BLAKE2b-64 of "7:2:C00013" below 0.8 * 2**64
    digest = hashlib.blake2b(b"7:2:C00013", digest_size=8).digest()
    assert members[2, 13] == (int.from_bytes(digest, "little") < 0.8 * 2**64)
    # about 80 % each (binomial sd 0.9 %), and the resamples differ
    assert np.all(np.abs(members.mean(axis=1) - 0.8) < 0.04)
    assert not (members[0] == members[1]).all()
    # one customer less, or the others reversed: nobody else moves
    without = resample_members(ids[ids != "C00500"], 4, random_state=7)
    assert (without == members[:, ids != "C00500"]).all()
    reversed_ids = resample_members(ids[::-1], 4, random_state=7)
    assert (reversed_ids[:, ::-1] == members).all()


def test_stability_se_is_the_jackknife_over_resamples():
    # Two overlapping blobs, so the resampled fits disagree a little.
    rng = np.random.default_rng(5)
    matrix = np.vstack([rng.normal(0, 1, (80, 2)), rng.normal(1.5, 1, (80, 2))])
    ids = np.arange(160)
    found = stability(matrix, 2, ids=ids, n_resamples=6, n_init=2, random_state=3)
    # independently: the same fits, then the jackknife written out
    members = resample_members(ids, 6, random_state=3)
    labels = [
        KMeans(n_clusters=2, n_init=2, random_state=3 + i)
        .fit(matrix[rows])
        .predict(matrix)
        for i, rows in enumerate(members)
    ]
    pairs = list(combinations(range(6), 2))
    ari = {p: adjusted_rand_score(labels[p[0]], labels[p[1]]) for p in pairs}
    mean = np.mean(list(ari.values()))
    left_out = [np.mean([v for p, v in ari.items() if j not in p]) for j in range(6)]
    se = np.sqrt(5 / 6 * np.sum((np.array(left_out) - np.mean(left_out)) ** 2))
    assert found.value == pytest.approx(mean, abs=1e-12)
    assert found.standard_error == pytest.approx(se, abs=1e-12)
    assert 0 < found.standard_error < 0.2


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


def test_the_gates_pass_a_k_exactly_at_their_thresholds():
    # k 4 exactly at both gates; k 5 a hair below one each: k 4 wins
    # although k 5 scores higher (0.225 against 0.55, as above).
    at = choose_k(
        _scores(
            stability=[0.99, 0.99, 0.9, 0.9 - 1e-12, 0.80],
            smallest_segment_share=[0.4, 0.3, 0.05, 0.1, 0.08],
        )
    )
    assert at.is_eligible.tolist() == [False, False, True, False, False]
    assert at.k[at.is_chosen].tolist() == [4]
    share = choose_k(
        _scores(
            stability=[0.99, 0.99, 0.9, 0.99, 0.80],
            smallest_segment_share=[0.4, 0.3, 0.05, 0.05 - 1e-12, 0.08],
        )
    )
    assert share.k[share.is_chosen].tolist() == [4]
    assert share.decision[3] == DECISIONS["small_segment"]


def test_with_nothing_eligible_the_most_stable_k_from_k_auto_min_wins():
    # k 2 is the most stable and scores best, but is below k_auto_min; of
    # k 4..6 (all unstable), k 5 is the most stable.  The old rule (all k
    # eligible, best score) would have picked k 2.
    table = choose_k(_scores(stability=[0.99, 0.5, 0.6, 0.7, 0.65]))
    assert table.k[table.is_chosen].tolist() == [5]
    assert table.decision[3] == DECISIONS["fallback"]
    assert not table.is_eligible.any()
    # a segment too small rules a k out of the fallback while others remain
    small = choose_k(
        _scores(
            stability=[0.99, 0.5, 0.6, 0.7, 0.65],
            smallest_segment_share=[0.4, 0.3, 0.2, 0.01, 0.08],
        )
    )
    assert small.k[small.is_chosen].tolist() == [6]
    # ties go to the smaller k
    tied = choose_k(_scores(stability=[0.99, 0.5, 0.7, 0.7, 0.7]))
    assert tied.k[tied.is_chosen].tolist() == [4]


def test_stability_is_estimated_only_where_the_rule_needs_it():
    scores = _scores().drop(columns="stability")
    known = {4: 0.95, 5: 0.85, 6: 0.99}
    asked = []

    def stability_of(k):
        asked.append(k)
        return StabilityEstimate(known[k], 0.001, 20)

    table = choose_k(scores, stability_of=stability_of)
    # Scores by hand: k 5 0.55, k 6 (silhouette 0, Davies-Bouldin 0.5)
    # 0.25, k 4 0.225.  k 5 is unstable, k 6 stable: chosen, so k 4 is never
    # needed; k 2 and 3 are below k_auto_min.
    assert asked == [5, 6]
    assert table.k[table.is_chosen].tolist() == [6]
    assert_allclose(table.score[2:], [0.225, 0.55, 0.25])
    assert table.stability.isna().tolist() == [True, True, True, False, False]
    assert table.is_eligible.tolist() == [False, False, pd.NA, False, True]
    assert table.decision.tolist() == [
        DECISIONS["below_min_k"],
        DECISIONS["below_min_k"],
        DECISIONS["not_needed"],
        DECISIONS["unstable"],
        DECISIONS["chosen"],
    ]
    # the fallback estimates every k it compares
    asked.clear()
    known.update({4: 0.5, 5: 0.6, 6: 0.55})
    fallback = choose_k(scores, stability_of=stability_of)
    assert asked == [5, 6, 4]
    assert fallback.k[fallback.is_chosen].tolist() == [5]


def test_silhouette_table_by_hand():
    # Two tight pairs 10 apart: a(i) = 2; b(i) = mean distance to the other
    # pair = (10 + sqrt(104)) / 2; s(i) = (b - a) / b, the same for all rows.
    b = (10 + np.sqrt(104)) / 2
    table = silhouette_table(PAIRS, PAIR_LABELS)
    assert table.scope.tolist() == ["model", "segment", "segment"]
    assert table.segment_id.iloc[1:].tolist() == [1, 2]
    assert_allclose(table.silhouette, [(b - 2) / b] * 3)
    assert table.n_silhouette_rows.tolist() == [4, 2, 2]
