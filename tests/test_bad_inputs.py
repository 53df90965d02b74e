"""Malformed raw files: each one is either segmented with every row accounted
for, or stops the build with a message naming the file and the columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import copy_build, dbt_build

pytestmark = pytest.mark.slow

N_ROWS = 400


@pytest.fixture(scope="module")
def base_lines(real_csv) -> list[str]:
    """Header and the first N_ROWS data rows of the real file (CRLF kept)."""
    lines = real_csv.read_bytes().decode().splitlines(keepends=True)
    return lines[: N_ROWS + 1]


@pytest.fixture(scope="module")
def base_build(tmp_path_factory, base_lines):
    workdir = tmp_path_factory.mktemp("base")
    path = workdir / "base.csv"
    path.write_text("".join(base_lines), newline="")
    build = dbt_build(workdir, path)
    assert build.returncode == 0, build.output[-3000:]
    return build


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("".join(lines), newline="")
    return path


def segments(build) -> pd.DataFrame:
    return build.query(
        "select cust_id, segment_id from customer_segments order by cust_id"
    )


def accounted(build) -> tuple[int, int]:
    counts = build.query(
        "select (select count(*) from customer_segments) as segmented, "
        "(select count(*) from quarantined_customers) as quarantined"
    )
    return int(counts.segmented[0]), int(counts.quarantined[0])


def replace_header(lines: list[str], old: str, new: str) -> list[str]:
    return [lines[0].replace(old, new), *lines[1:]]


def set_cell(line: str, column: int, value: str) -> str:
    cells = line.rstrip("\r\n").split(",")
    cells[column] = value
    return ",".join(cells) + "\r\n"


@pytest.mark.parametrize(
    ("case", "make", "expected"),
    [
        (
            "renamed",
            lambda lines: replace_header(lines, "BALANCE,", "BALANCE_EUR,"),
            ["Missing columns: [BALANCE]", "Unexpected columns: [BALANCE_EUR]"],
        ),
        (
            "missing",
            lambda lines: [line.rsplit(",", 1)[0] + "\r\n" for line in lines],
            ["Missing columns: [TENURE]", "Unexpected columns: []"],
        ),
        (
            "extra",
            lambda lines: [
                lines[0].rstrip("\r\n") + ",SEGMENT\r\n",
                *[line.rstrip("\r\n") + ",1\r\n" for line in lines[1:]],
            ],
            ["Missing columns: []", "Unexpected columns: [SEGMENT]"],
        ),
        ("empty", lambda lines: [], ["is empty"]),
        ("header_only", lambda lines: lines[:1], ["has a header but no data rows"]),
    ],
)
def test_unusable_files_stop_the_build_naming_file_and_columns(
    tmp_path, base_lines, case, make, expected
):
    path = write(tmp_path, f"{case}.csv", make(base_lines))
    build = dbt_build(tmp_path, path)
    assert build.returncode != 0
    assert str(path) in build.output
    for fragment in expected:
        assert fragment in build.output, build.output[-3000:]


def test_missing_file_stops_the_build_and_says_what_to_do(tmp_path):
    missing = tmp_path / "nowhere.csv"
    build = dbt_build(tmp_path, missing)
    assert build.returncode != 0
    assert f"Raw file {missing} does not exist" in build.output


def test_a_failed_build_leaves_the_last_good_warehouse_as_it_was(
    tmp_path, base_lines, base_build
):
    # the last good warehouse: a copy of the base build, which stays as it was
    good = copy_build(base_build, tmp_path / "good")
    before = good.query("select * from segmentation_models")
    bad = write(tmp_path, "bad.csv", replace_header(base_lines, "TENURE", "MONTHS"))
    failed = dbt_build(tmp_path / "bad", bad, good.warehouse)
    assert failed.returncode != 0
    pd.testing.assert_frame_equal(
        failed.query("select * from segmentation_models"), before
    )
    pd.testing.assert_frame_equal(segments(failed), segments(good))


def test_row_level_problems_are_quarantined_with_reasons(tmp_path, base_lines):
    lines = list(base_lines)
    lines[1] = set_cell(lines[1], 1, "12,5")  # a decimal comma splits the cell
    lines[1] = lines[1].replace("12,5", "twelve")
    lines[2] = set_cell(lines[2], 4, "-100")  # ONEOFF_PURCHASES
    lines[3] = set_cell(lines[3], 0, lines[4].split(",")[0])  # duplicate CUST_ID
    lines[5] = set_cell(lines[5], 0, "")  # missing CUST_ID
    lines[6] = set_cell(lines[6], 17, "40")  # TENURE
    lines[7] = set_cell(lines[7], 10, "2.5")  # CASH_ADVANCE_FREQUENCY
    path = write(tmp_path, "rows.csv", lines)
    build = dbt_build(tmp_path, path)
    assert build.returncode == 0, build.output[-3000:]

    segmented, quarantined = accounted(build)
    assert segmented + quarantined == N_ROWS
    reasons = build.query(
        "select source_row_number, cust_id, quarantine_reason, raw_balance "
        "from quarantined_customers order by source_row_number"
    )
    assert reasons.source_row_number.tolist() == [1, 2, 3, 4, 5, 6, 7]
    text = reasons.quarantine_reason.tolist()
    assert text[0] == "balance is not a number: twelve"
    assert reasons.raw_balance[0] == "twelve"
    assert text[1] == "oneoff_purchases is negative: -100"
    assert text[2] == text[3] == f"cust_id {reasons.cust_id[2]} appears 2 times"
    assert text[4] == "cust_id is missing"
    assert text[5] == "tenure is not a whole number of months in 1-12: 40"
    assert text[6].startswith("cash_advance_frequency is outside [0, 1]")
    assert str(path) in set(
        build.query("select source_file from quarantined_customers").source_file
    )


def test_blank_lines_are_not_rows_and_no_row_is_lost(tmp_path, base_lines, base_build):
    lines = [*base_lines[:100], "\r\n", *base_lines[100:], "\r\n"]
    build = dbt_build(tmp_path, write(tmp_path, "blank.csv", lines))
    assert build.returncode == 0, build.output[-3000:]
    assert accounted(build) == (N_ROWS, 0)
    pd.testing.assert_frame_equal(segments(build), segments(base_build))


def test_lf_line_endings_give_the_same_segments_as_crlf(
    tmp_path, base_lines, base_build
):
    lines = [line.replace("\r\n", "\n") for line in base_lines]
    build = dbt_build(tmp_path, write(tmp_path, "lf.csv", lines))
    assert build.returncode == 0, build.output[-3000:]
    pd.testing.assert_frame_equal(segments(build), segments(base_build))


def test_parquet_input_gives_the_same_segments_as_csv(tmp_path, base_lines, base_build):
    csv = write(tmp_path, "base.csv", base_lines)
    parquet = tmp_path / "base.parquet"
    pd.read_csv(csv).to_parquet(parquet, index=False)
    build = dbt_build(tmp_path, parquet)
    assert build.returncode == 0, build.output[-3000:]
    pd.testing.assert_frame_equal(segments(build), segments(base_build))


def test_a_ragged_row_stops_the_build_naming_file_and_line(tmp_path, base_lines):
    lines = list(base_lines)
    lines[10] = lines[10].rstrip("\r\n") + ",999\r\n"
    path = write(tmp_path, "ragged.csv", lines)
    build = dbt_build(tmp_path, path)
    assert build.returncode != 0
    assert str(path) in build.output
    # lines[10] is line 11 of the file (the header is line 1)
    assert "CSV Error on Line: 11" in build.output, build.output[-3000:]
    assert "Expected Number of Columns: 18 Found: 19" in build.output


def test_a_path_with_quotes_braces_spaces_and_accents_is_read_as_given(
    tmp_path, base_lines
):
    # a quote that would end a SQL literal, an embedded query, braces that
    # str.format would read, a shell variable, non-ASCII letters
    folder = tmp_path / "dír {x} é"
    folder.mkdir()
    lines = list(base_lines)
    lines[1] = set_cell(lines[1], 1, "twelve")
    path = write(folder, "O'Brien ' || (select 42) || ' {0} $HOME.csv", lines)
    build = dbt_build(tmp_path, path)
    assert build.returncode == 0, build.output[-3000:]
    assert accounted(build) == (N_ROWS - 1, 1)
    source = build.query("select source_file, raw_balance from quarantined_customers")
    assert source.source_file.tolist() == [str(path)]
    assert source.raw_balance.tolist() == ["twelve"]


def test_every_file_of_a_glob_has_its_header_checked(tmp_path, base_lines, base_build):
    def swap(line: str) -> str:  # BALANCE and PURCHASES change places
        cells = line.rstrip("\r\n").split(",")
        cells[1], cells[3] = cells[3], cells[1]
        return ",".join(cells) + "\r\n"

    half = N_ROWS // 2 + 1
    write(tmp_path, "part_1.csv", base_lines[:half])
    write(tmp_path, "part_2.csv", [base_lines[0], *base_lines[half:]])
    whole = dbt_build(tmp_path / "whole", tmp_path / "part_*.csv")
    assert whole.returncode == 0, whole.output[-3000:]
    assert accounted(whole) == (N_ROWS, 0)
    pd.testing.assert_frame_equal(segments(whole), segments(base_build))

    swapped = write(
        tmp_path, "part_3.csv", [swap(line) for line in [base_lines[0], base_lines[1]]]
    )
    build = dbt_build(tmp_path / "swapped", tmp_path / "part_*.csv")
    assert build.returncode != 0
    assert (
        f"Raw file {swapped} has the wrong header. Its columns are in another order"
        in build.output
    ), build.output[-3000:]


# Degenerate and extreme data: each either segments with every row accounted
# for, or stops with one message that names the file and what is wrong.


def cells(line: str) -> list[str]:
    return line.rstrip("\r\n").split(",")


def test_a_constant_measure_weighs_nothing_is_recorded_and_warns(tmp_path, real_csv):
    lines = real_csv.read_bytes().decode().splitlines(keepends=True)
    kept = [line for line in lines[1:] if cells(line)[17] == "12"][:N_ROWS]
    build = dbt_build(tmp_path, write(tmp_path, "tenure12.csv", [lines[0], *kept]))
    assert build.returncode == 0, build.output[-3000:]
    assert "WARN" in build.output and "no_model_feature_is_constant" in build.output
    assert sum(accounted(build)) == len(kept)

    # independent answer: the columns whose values are all equal
    values = pd.DataFrame([cells(line)[1:] for line in kept]).apply(pd.to_numeric)
    constant = [
        name.lower()
        for name, column in zip(lines[0].strip().split(",")[1:], values, strict=True)
        if values[column].min() == values[column].max()
    ]
    assert constant == ["tenure"]
    scaling = build.query(
        "select feature_name, stddev, is_constant from feature_scaling"
    )
    assert scaling.loc[scaling.is_constant, "feature_name"].tolist() == constant
    assert scaling.loc[scaling.is_constant, "stddev"].tolist() == [1.0]
    centroids = build.query(
        "select centroid_z from segment_centroids where feature_name = 'tenure'"
    )
    assert (centroids.centroid_z == 0).all()
    r = build.query(
        "select pearson_r, is_redundant from feature_correlations "
        "where 'tenure' in (feature_a, feature_b)"
    )
    # r is undefined with a constant measure, so no pair of it is redundant
    assert len(r) == 16 and r.pearson_r.isna().all()
    assert not r.is_redundant.any()


def test_an_empty_measure_stops_the_build_naming_the_column(tmp_path, base_lines):
    lines = [base_lines[0], *[set_cell(line, 15, "") for line in base_lines[1:]]]
    path = write(tmp_path, "no_minimum_payments.csv", lines)
    build = dbt_build(tmp_path, path)
    assert build.returncode != 0
    assert (
        f"Raw file {path}: no valid customer has a value for MINIMUM_PAYMENTS, "
        "so it cannot be imputed or used" in build.output
    ), build.output[-3000:]


@pytest.mark.parametrize("n_rows", [1, 3, 99])
def test_too_few_customers_stop_the_build_saying_the_minimum(
    tmp_path, base_lines, n_rows
):
    path = write(tmp_path, f"rows_{n_rows}.csv", base_lines[: n_rows + 1])
    build = dbt_build(tmp_path, path)
    assert build.returncode != 0
    assert (
        f"Raw file {path} has {n_rows} valid customers in {n_rows} rows; "
        "the segmentation needs at least 100" in build.output
    ), build.output[-3000:]


def test_too_few_valid_customers_cite_the_first_quarantined_row(tmp_path, base_lines):
    lines = [base_lines[0]]
    lines += [set_cell(line, 17, "40") for line in base_lines[1:31]]
    lines += base_lines[31:121]
    path = write(tmp_path, "mostly_bad.csv", lines)
    build = dbt_build(tmp_path, path)
    assert build.returncode != 0
    assert (
        f"Raw file {path} has 90 valid customers in 120 rows; the segmentation "
        "needs at least 100 (first quarantined row 1: tenure is not a whole "
        "number of months in 1-12: 40)" in build.output
    ), build.output[-3000:]


def profiles_file(tmp_path: Path, base_lines: list[str], n_profiles: int) -> Path:
    """200 customers who share n_profiles rows of measures."""
    rows = [
        f"P{i:03d}," + base_lines[1 + i % n_profiles].split(",", 1)[1]
        for i in range(200)
    ]
    return write(tmp_path, f"profiles_{n_profiles}.csv", [base_lines[0], *rows])


def test_few_distinct_profiles_give_one_segment_each(tmp_path, base_lines):
    build = dbt_build(tmp_path, profiles_file(tmp_path, base_lines, 4))
    assert build.returncode == 0, build.output[-3000:]
    found = build.query("select cust_id, segment_id from customer_segments")
    assert len(found) == 200
    # the same profile, the same segment, and no segment shared by two
    profile = found.cust_id.str[1:].astype(int) % 4
    assert found.groupby(profile).segment_id.nunique().tolist() == [1, 1, 1, 1]
    assert found.segment_id.nunique() == 4
    # duplicates are each other's neighbours: no DBSCAN noise among them
    noise = build.query(
        "select count(*) as n from customer_segments where is_dbscan_noise"
    )
    assert noise.n[0] == 0


@pytest.mark.parametrize(
    ("n_profiles", "dbt_vars", "message"),
    [
        (
            1,
            {},
            "the 200 customers of the k scan have only 1 distinct profiles: "
            "no k from k_min = 2 can be scanned",
        ),
        (
            4,
            {"n_clusters": 5},
            "n_clusters is 5, but the 200 customers fitted have only 4 distinct "
            "profiles: set n_clusters to at most 4",
        ),
    ],
)
def test_fewer_distinct_profiles_than_segments_stop_the_build(
    tmp_path, base_lines, n_profiles, dbt_vars, message
):
    build = dbt_build(
        tmp_path, profiles_file(tmp_path, base_lines, n_profiles), **dbt_vars
    )
    assert build.returncode != 0
    assert message in build.output, build.output[-3000:]


def test_values_no_statistic_can_carry_are_quarantined_not_imputed(
    tmp_path, base_lines
):
    lines = list(base_lines)
    lines[1] = set_cell(lines[1], 1, "1e103")  # BALANCE
    lines[2] = set_cell(lines[2], 11, "3000000000")  # CASH_ADVANCE_TRX
    lines[3] = set_cell(lines[3], 12, "2147483647")  # PURCHASES_TRX: the largest kept
    path = write(tmp_path, "extreme.csv", lines)
    build = dbt_build(tmp_path, path)
    assert build.returncode == 0, build.output[-3000:]
    assert accounted(build) == (N_ROWS - 2, 2)
    reasons = build.query(
        "select source_row_number, quarantine_reason from quarantined_customers "
        "order by source_row_number"
    )
    assert reasons.quarantine_reason.tolist() == [
        "balance is above 1e15, more than any card amount: 1e103",
        "cash_advance_trx is above 2147483647, the largest count stored: 3000000000",
    ]
    kept = build.query(
        "select purchases_trx, n_imputed_measures from customer_segments "
        "where source_row_number = 3"
    )
    assert kept.purchases_trx[0] == 2147483647
    # every imputed value is counted: one per blank cell, as the file says
    blanks = {
        row: sum(cell.strip() == "" for cell in cells(line)[1:])
        for row, line in enumerate(lines[1:], start=1)
    }
    imputed = build.query(
        "select source_row_number, n_imputed_measures from customer_segments"
    )
    assert {row: blanks[row] for row in imputed.source_row_number} == dict(
        zip(imputed.source_row_number, imputed.n_imputed_measures, strict=True)
    )
