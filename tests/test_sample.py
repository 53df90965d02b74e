"""Tests of the synthetic sample generator (``cc_segmentation.data.sample``).

Statistical comparisons use figures computed here from the real file, never
hard-coded ones, so they follow the data if it is ever corrected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import FREQUENCIES as CAPPED_FREQUENCIES
from conftest import MONEY, REAL_CSV

from cc_segmentation import RAW_COLUMNS, cli
from cc_segmentation.data import sample as gen

N_ROWS = 20_000
# the shares in [0, 1]: the five frequencies and the share of full payments
FREQUENCIES = [*CAPPED_FREQUENCIES, "PRC_FULL_PAYMENT"]


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    if not REAL_CSV.exists():
        pytest.fail(f"the real data set is expected at {REAL_CSV}")
    return pd.read_csv(REAL_CSV)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return pd.concat(gen.generate_chunks(N_ROWS, seed=7, chunk_size=6_000))


def _read_csv(path: Path) -> pd.DataFrame:
    # Explicit types: a sample's CREDIT_LIMIT can be all whole numbers, which
    # type inference would read as integers (the dbt source reads text anyway).
    dtypes = {f.name: f.type.to_pandas_dtype() for f in gen.SCHEMA}
    return pd.read_csv(path, dtype={**dtypes, "CUST_ID": "str"})


# --------------------------------------------------------------------------
# Shape, identifiers, determinism, streaming
# --------------------------------------------------------------------------


def test_columns_order_and_types(df):
    assert tuple(df.columns) == RAW_COLUMNS
    assert len(df) == N_ROWS
    assert df.index.equals(pd.RangeIndex(N_ROWS))
    for col in ("CASH_ADVANCE_TRX", "PURCHASES_TRX", "TENURE"):
        assert df[col].dtype == np.int64, col
    for col in set(RAW_COLUMNS[1:]) - {"CASH_ADVANCE_TRX", "PURCHASES_TRX", "TENURE"}:
        assert df[col].dtype == np.float64, col
    assert df["CUST_ID"].iloc[0] == "C10001"


def test_chunks_have_requested_size():
    sizes = [len(c) for c in gen.generate_chunks(2_500, seed=1, chunk_size=1_000)]
    assert sizes == [1_000, 1_000, 500]
    assert list(gen.generate_chunks(0)) == []


def test_customer_ids_unique_and_real_format(df):
    assert df["CUST_ID"].is_unique
    assert df["CUST_ID"].str.fullmatch(r"C\d{5,}").all()
    # Around the 10-million mark, without generating 10 million rows.
    ids = gen._customer_ids(9_999_000, 10_001_000).to_pylist()
    assert len(set(ids)) == len(ids)
    assert ids[-1] == f"C{10_001_000 - 1 + gen.FIRST_CUSTOMER_NUMBER}"


def test_csv_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = gen.write_sample(tmp_path / "a.csv", n_rows=3_000, seed=42)
    b = gen.write_sample(tmp_path / "b.csv", n_rows=3_000, seed=42)
    c = gen.write_sample(tmp_path / "c.csv", n_rows=3_000, seed=43)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    # Same ids, different customers.
    ra, rc = _read_csv(a), _read_csv(c)
    assert ra["CUST_ID"].equals(rc["CUST_ID"])
    assert not ra["BALANCE"].equals(rc["BALANCE"])


def test_csv_layout(tmp_path):
    path = gen.write_sample(tmp_path / "s.csv", n_rows=2_000, seed=3)
    text = path.read_text()
    lines = text.split("\n")
    assert lines[0] == ",".join(RAW_COLUMNS)
    assert lines[-1] == ""  # trailing newline, LF only
    assert len(lines) == 2_000 + 2
    assert "\r" not in text and '"' not in text
    assert all(line.count(",") == len(RAW_COLUMNS) - 1 for line in lines[:-1])
    # Missing MINIMUM_PAYMENTS is an empty cell.
    mp = RAW_COLUMNS.index("MINIMUM_PAYMENTS")
    assert any(line.split(",")[mp] == "" for line in lines[1:-1])


def test_chunk_size_independence_and_prefix_stability(tmp_path):
    # Cross an internal block boundary so the guarantee is actually exercised.
    n = gen.BLOCK_ROWS + 4_000
    small = pd.concat(gen.generate_chunks(n, seed=11, chunk_size=7_777))
    large = pd.concat(gen.generate_chunks(n, seed=11, chunk_size=100_000))
    pd.testing.assert_frame_equal(small, large)
    prefix = pd.concat(gen.generate_chunks(1_000, seed=11))
    pd.testing.assert_frame_equal(prefix, large.iloc[:1_000])
    # CSV bytes do not depend on the chunk size either.
    a = gen.write_sample(tmp_path / "a.csv", n_rows=5_000, seed=5, chunk_size=999)
    b = gen.write_sample(tmp_path / "b.csv", n_rows=5_000, seed=5, chunk_size=5_000)
    assert a.read_bytes() == b.read_bytes()


def test_parquet_and_csv_streams_read_back_equal(tmp_path):
    n, chunk = 3_500, 1_000
    expected = pd.concat(gen.generate_chunks(n, seed=9, chunk_size=chunk))
    expected = expected.reset_index(drop=True)
    csv_path = gen.write_sample(tmp_path / "s.csv", n, seed=9, chunk_size=chunk)
    pq_path = gen.write_sample(tmp_path / "s.parquet", n, seed=9, chunk_size=chunk)

    from_csv = _read_csv(csv_path)
    from_parquet = pd.read_parquet(pq_path)
    pd.testing.assert_frame_equal(from_csv, expected)
    pd.testing.assert_frame_equal(from_parquet, expected)

    meta = pq.ParquetFile(pq_path).metadata
    assert meta.num_row_groups == 4  # written chunk by chunk
    mp = meta.schema.to_arrow_schema().get_field_index("MINIMUM_PAYMENTS")
    nulls = sum(meta.row_group(i).column(mp).statistics.null_count for i in range(4))
    assert nulls == expected["MINIMUM_PAYMENTS"].isna().sum() > 0


def test_cli_creates_parent_dirs(tmp_path):
    out = tmp_path / "warehouse" / "raw" / "cc_general_sample.csv"
    assert cli.main(["sample", "--rows", "500", "--seed", "4", "--out", str(out)]) == 0
    assert len(_read_csv(out)) == 500


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError):
        gen.generate_chunks(-1)
    with pytest.raises(ValueError):
        gen.generate_chunks(10, chunk_size=0)
    with pytest.raises(ValueError):
        gen.generate_chunks(10, seed=-1)
    with pytest.raises(TypeError):
        gen.generate_chunks(10.5)
    with pytest.raises(ValueError):
        gen.write_sample(tmp_path / "s.csv", 10, fmt="xlsx")
    assert not (tmp_path / "s.csv").exists()


# --------------------------------------------------------------------------
# Logical structure of the real data
# --------------------------------------------------------------------------


def test_purchases_is_sum_of_parts(df):
    parts = df["ONEOFF_PURCHASES"] + df["INSTALLMENTS_PURCHASES"]
    assert (df["PURCHASES"] - parts).abs().max() < 0.011


def test_frequencies_in_unit_interval_and_consistent(df):
    for col in FREQUENCIES:
        assert df[col].between(0, 1).all(), col
    widest = df[["ONEOFF_PURCHASES_FREQUENCY", "PURCHASES_INSTALLMENTS_FREQUENCY"]]
    assert (df["PURCHASES_FREQUENCY"] >= widest.max(axis=1) - 1e-9).all()


@pytest.mark.parametrize(
    "group",
    [
        ("CASH_ADVANCE", "CASH_ADVANCE_FREQUENCY", "CASH_ADVANCE_TRX"),
        ("PURCHASES", "PURCHASES_FREQUENCY", "PURCHASES_TRX"),
        ("ONEOFF_PURCHASES", "ONEOFF_PURCHASES_FREQUENCY"),
        ("INSTALLMENTS_PURCHASES", "PURCHASES_INSTALLMENTS_FREQUENCY"),
        ("BALANCE", "BALANCE_FREQUENCY"),
    ],
)
def test_zero_amount_iff_zero_frequency_and_count(df, group):
    zero = df[group[0]] == 0
    assert 0 < zero.mean() < 1
    for col in group[1:]:
        assert ((df[col] == 0) == zero).all(), col


def test_counts_and_tenure_are_integers_in_range(df):
    for col in ("CASH_ADVANCE_TRX", "PURCHASES_TRX"):
        assert (df[col] >= 0).all()
    assert df["TENURE"].between(6, 12).all()
    assert set(df["TENURE"]) == set(range(6, 13))
    # Each active month has at least one transaction.
    for freq, trx in (
        ("PURCHASES_FREQUENCY", "PURCHASES_TRX"),
        ("CASH_ADVANCE_FREQUENCY", "CASH_ADVANCE_TRX"),
    ):
        months = np.rint(df[freq] * df["TENURE"])
        assert (df[trx] >= months).all(), trx


def test_money_non_negative_and_rounded(df):
    assert (df["CREDIT_LIMIT"] > 0).all()
    for col in MONEY:
        values = df[col].dropna()
        assert (values >= 0).all(), col
        assert np.allclose(values, values.round(6), rtol=0, atol=1e-9), col
    assert not df.drop(columns="MINIMUM_PAYMENTS").isna().any().any()


def test_payments_rules(df):
    no_payments = df["PAYMENTS"] == 0
    assert no_payments.any()
    assert df.loc[no_payments, "MINIMUM_PAYMENTS"].isna().all()
    assert (df.loc[no_payments, "PRC_FULL_PAYMENT"] == 0).all()


# --------------------------------------------------------------------------
# Statistical resemblance to the real file
# --------------------------------------------------------------------------


def test_missing_minimum_payments_share(df, real):
    share = df["MINIMUM_PAYMENTS"].isna().mean()
    real_share = real["MINIMUM_PAYMENTS"].isna().mean()
    assert abs(real_share - 0.035) < 0.001  # the brief's figure, as a sanity check
    assert abs(share - real_share) < 0.01


@pytest.mark.parametrize(
    "col", ["CASH_ADVANCE", "ONEOFF_PURCHASES", "PRC_FULL_PAYMENT"]
)
def test_zero_shares_match_real(df, real, col):
    assert abs((df[col] == 0).mean() - (real[col] == 0).mean()) < 0.03


def test_tenure_distribution_matches_real(df, real):
    assert abs((df["TENURE"] == 12).mean() - (real["TENURE"] == 12).mean()) < 0.02


@pytest.mark.parametrize("col", MONEY)
def test_money_median_and_p90_match_real(df, real, col):
    for q in (0.5, 0.9):
        ours, theirs = df[col].quantile(q), real[col].quantile(q)
        assert abs(ours - theirs) <= 0.25 * abs(theirs), (q, ours, theirs)


@pytest.mark.parametrize(
    "pair",
    [("PURCHASES", "ONEOFF_PURCHASES"), ("CASH_ADVANCE", "CASH_ADVANCE_TRX")],
)
def test_spearman_pairs_match_real(df, real, pair):
    ours = df[list(pair)].corr(method="spearman").iloc[0, 1]
    theirs = real[list(pair)].corr(method="spearman").iloc[0, 1]
    assert abs(ours - theirs) < 0.15


def test_spearman_matrix_close_overall(df, real):
    cols = list(RAW_COLUMNS[1:])
    diff = (df[cols].corr(method="spearman") - real[cols].corr(method="spearman")).abs()
    off_diagonal = diff.to_numpy()[~np.eye(len(cols), dtype=bool)]
    assert off_diagonal.mean() < 0.03
    assert off_diagonal.max() < 0.15
