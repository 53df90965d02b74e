"""The exported files: CSV cells a spreadsheet would run are defused.

The rule (OWASP's CSV-injection advice, shared with the dashboard's
download): in a CSV file we write, a text cell whose first character is
= + - @ tab or carriage return gets a leading single quote, unless the whole
cell is a plain decimal number (a spreadsheet reads -2 as a number).
Numbers stay numbers; the Parquet files and the warehouse keep every value
verbatim."""

from __future__ import annotations

import csv
import re

import pandas as pd
import pytest
from conftest import dbt_build

pytestmark = pytest.mark.slow

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
HOSTILE_IDS = [
    '=HYPERLINK("http://x")',
    "+1",
    "-2",
    "-2+3",
    "@SUM(A1)",
    "\tC_TAB",
    "C_NORMAL",
]


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory, raw):
    """The first 400 real customers, six of them with hostile ids."""
    workdir = tmp_path_factory.mktemp("hostile")
    rows = raw.head(400).copy()
    rows.loc[: len(HOSTILE_IDS) - 1, "CUST_ID"] = HOSTILE_IDS
    raw_path = workdir / "hostile.csv"
    rows.to_csv(raw_path, index=False)
    build = dbt_build(workdir, raw_path)
    assert build.returncode == 0, build.output[-5000:]
    return build


@pytest.mark.parametrize(
    "name", ["customer_with_clusters", "customer_with_clusters_and_crm"]
)
def test_csv_text_cells_never_start_a_formula(hostile_build, name):
    parquet = pd.read_parquet(hostile_build.exports / f"{name}.parquet")
    with open(hostile_build.exports / f"{name}.csv", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert header == list(parquet.columns)
    assert len(rows) == len(parquet)
    # Parquet: verbatim, every hostile id present as it was in the raw file
    assert set(HOSTILE_IDS) <= set(parquet["cust_id"])
    text_columns = [
        c for c in parquet.columns if pd.api.types.is_string_dtype(parquet[c])
    ]
    assert "cust_id" in text_columns and "segment_name" in text_columns
    for row, (_, expected) in zip(rows, parquet.iterrows(), strict=True):
        for column, cell in zip(header, row, strict=True):
            value = expected[column]
            if column in text_columns:
                if value.startswith(FORMULA_STARTS) and not DECIMAL.fullmatch(value):
                    assert cell == "'" + value
                else:
                    assert cell == value
                assert not cell.startswith(FORMULA_STARTS) or DECIMAL.fullmatch(cell)
            elif not pd.isna(value):  # numbers written as numbers
                assert float(cell) == pytest.approx(float(value), rel=1e-6)
    by_id = {row[0] for row in rows}
    assert {
        "'=HYPERLINK(\"http://x\")", "+1", "-2", "'-2+3", "'@SUM(A1)",
        "'\tC_TAB", "C_NORMAL",
    } <= by_id  # fmt: skip


def test_the_warehouse_keeps_hostile_ids_verbatim(hostile_build):
    stored = hostile_build.query(
        "select cust_id from customer_segments where cust_id in "
        "('=HYPERLINK(\"http://x\")', '+1', '-2', '-2+3', '@SUM(A1)', "
        "chr(9) || 'C_TAB', 'C_NORMAL')"
    )
    assert sorted(stored["cust_id"]) == sorted(HOSTILE_IDS)
