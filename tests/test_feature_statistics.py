"""feature_distributions and feature_correlations on the real file, checked
against independent pandas / numpy / scipy computations from the raw CSV."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from conftest import FREQUENCIES
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

pytestmark = pytest.mark.slow

QUANTILES = {"p25": 0.25, "median": 0.5, "p75": 0.75, "p99": 0.99}
# What reduced_feature_names() (macros/features/cc_features.sql) leaves out.
LEFT_OUT_OF_REDUCED_SET = {
    "purchases",
    "purchases_installments_frequency",
    "cash_advance_trx",
}
REDUNDANT_CORRELATION = 0.8  # the var's default in dbt_project.yml


@pytest.fixture(scope="module")
def measures(real_csv, real_build) -> pd.DataFrame:
    """The 17 measures as the pipeline keeps them: every row (the real file
    has none to quarantine), frequencies above 1 capped at 1, missing values
    left missing."""
    quarantined = real_build.query("select count(*) as n from quarantined_customers")
    assert quarantined.n[0] == 0
    raw = pd.read_csv(real_csv)
    measures = raw.drop(columns="CUST_ID").astype(float)
    measures[FREQUENCIES] = measures[FREQUENCIES].clip(upper=1.0)
    measures.columns = measures.columns.str.lower()
    return measures


@pytest.fixture(scope="module")
def distributions(real_build) -> pd.DataFrame:
    return real_build.query(
        "select * from feature_distributions order by feature_position"
    )


@pytest.fixture(scope="module")
def correlations(real_build) -> pd.DataFrame:
    return real_build.query(
        "select * from feature_correlations"
        " order by feature_a_position, feature_b_position"
    )


def test_one_distribution_row_per_measure_in_file_order(distributions, measures):
    assert distributions.feature_name.tolist() == list(measures.columns)
    assert_array_equal(distributions.feature_position, np.arange(1, 18))


def test_counts_and_shares_match_pandas(distributions, measures):
    reported = measures.notna()
    assert (distributions.n_rows == len(measures)).all()
    assert_array_equal(distributions.n_reported, reported.sum())
    assert_array_equal(distributions.n_missing, (~reported).sum())
    assert_allclose(distributions.share_missing, (~reported).mean(), rtol=1e-12)
    share_zero = (measures == 0).sum() / reported.sum()
    assert_allclose(distributions.share_zero, share_zero, rtol=1e-12)
    # the real file's only gaps
    missing = distributions.set_index("feature_name").n_missing
    assert missing[missing > 0].to_dict() == {
        "credit_limit": 1,
        "minimum_payments": 313,
    }


def test_moments_and_extremes_match_pandas(distributions, measures):
    assert_allclose(distributions["mean"], measures.mean(), rtol=1e-9)
    assert_allclose(distributions.stddev, measures.std(ddof=1), rtol=1e-9)
    assert_array_equal(distributions["min"], measures.min())
    assert_array_equal(distributions["max"], measures.max())


def test_quantiles_match_numpy_linear_interpolation(distributions, measures):
    for column, q in QUANTILES.items():
        expected = [
            np.quantile(measures[name].dropna(), q, method="linear")
            for name in measures.columns
        ]
        assert_allclose(distributions[column], expected, rtol=1e-12, err_msg=column)


def test_skewness_is_the_adjusted_fisher_pearson_g1(distributions, measures):
    # DuckDB's skewness() is pandas' .skew(): G1, the bias-adjusted one
    # (scipy bias=False), not the plain moment ratio g1 (scipy bias=True).
    assert_allclose(distributions.skewness, measures.skew(), rtol=1e-9)
    adjusted = [
        stats.skew(measures[name].dropna(), bias=False) for name in measures.columns
    ]
    plain = [
        stats.skew(measures[name].dropna(), bias=True) for name in measures.columns
    ]
    assert_allclose(distributions.skewness, adjusted, rtol=1e-9)
    assert not np.allclose(distributions.skewness, plain, rtol=1e-6)
    skewness = distributions.set_index("feature_name").skewness
    assert skewness["purchases"] == pytest.approx(8.144, abs=1e-3)


def test_one_correlation_row_per_unordered_pair(correlations, measures):
    pairs = list(itertools.combinations(range(17), 2))
    assert len(correlations) == len(pairs) == 136
    names = measures.columns
    assert correlations.feature_a.tolist() == [names[a] for a, _ in pairs]
    assert correlations.feature_b.tolist() == [names[b] for _, b in pairs]
    assert_array_equal(correlations.feature_a_position, [a + 1 for a, _ in pairs])
    assert_array_equal(correlations.feature_b_position, [b + 1 for _, b in pairs])


def test_pearson_r_matches_pandas_pairwise_complete(correlations, measures):
    expected = measures.corr()  # pairwise complete by default
    pairs = zip(correlations.feature_a, correlations.feature_b, strict=True)
    expected_r = [expected.loc[a, b] for a, b in pairs]
    assert_allclose(correlations.pearson_r, expected_r, rtol=1e-9)
    reported = measures.notna()
    expected_n = [
        (reported[a] & reported[b]).sum()
        for a, b in zip(correlations.feature_a, correlations.feature_b, strict=True)
    ]
    assert_array_equal(correlations.n_pairs, expected_n)


def test_redundant_pairs_are_exactly_those_pandas_finds(correlations, measures):
    r = measures.corr()
    expected = {
        (a, b)
        for a, b in itertools.combinations(measures.columns, 2)
        if abs(r.loc[a, b]) >= REDUNDANT_CORRELATION
    }
    flagged = correlations[correlations.is_redundant]
    assert set(zip(flagged.feature_a, flagged.feature_b, strict=True)) == expected
    assert len(expected) == 3


def test_the_redundant_pairs_explain_the_reduced_set(correlations):
    left_out_a = correlations.feature_a.isin(LEFT_OUT_OF_REDUCED_SET)
    left_out_b = correlations.feature_b.isin(LEFT_OUT_OF_REDUCED_SET)
    expected_left_out = correlations.feature_a.where(left_out_a & ~left_out_b)
    expected_left_out = expected_left_out.fillna(
        correlations.feature_b.where(left_out_b & ~left_out_a)
    )
    assert_array_equal(
        correlations.left_out_feature.fillna("-"), expected_left_out.fillna("-")
    )
    assert_array_equal(
        correlations.is_reduced_set_reason,
        correlations.is_redundant & (left_out_a != left_out_b),
    )
    # every redundant pair loses one measure, and every measure left out is
    # cited by a redundant pair: the reduced set is what the table says
    reasons = correlations[correlations.is_reduced_set_reason]
    assert reasons.is_redundant.all()
    assert len(reasons) == correlations.is_redundant.sum()
    assert set(reasons.left_out_feature) == LEFT_OUT_OF_REDUCED_SET
