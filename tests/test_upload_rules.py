"""The dashboard's upload and ``scoring.score`` apply the pipeline's rules.

One small raw file with awkward cells is built by the real pipeline; the
build's own verdict on each row (its segment, or its quarantine reason) is
the answer that scoring the same file, and uploading it to the dashboard,
must reproduce.  File-level failures are checked against hand-written
messages, and what reaches the page or the download against CommonMark's
and OWASP's rules, written out here independently of the code.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import dbt_build
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import cc_segmentation
from cc_segmentation import RAW_COLUMNS
from cc_segmentation.apps.scoring import score

pytestmark = pytest.mark.slow

APP = str(Path(cc_segmentation.__file__).parent / "apps" / "dashboard.py")
N_REAL = 300
IMAGE_ID = "![x](http://127.0.0.1:9/id.png)"
IMAGE_CELL = "![b](http://127.0.0.1:9/cell.png)"
LINK_ID = "[c](http://127.0.0.1:9/c)"
FORMULA_ID = '=HYPERLINK("http://127.0.0.1:9/","click")'

#: (cust_id, {column: cell}): each an awkward version of one real row.
AWKWARD = [
    ("AWK-NA", {"BALANCE": "NA"}),
    ("AWK-NULL", {"MINIMUM_PAYMENTS": "NULL"}),
    ("AWK-N/A", {"CREDIT_LIMIT": "N/A"}),
    ("AWK-EMPTY", {"MINIMUM_PAYMENTS": ""}),
    ("AWK-SPACES", {"MINIMUM_PAYMENTS": "   "}),
    ("AWK-PADDED", {"PURCHASES": " 12.5 "}),
    ("AWK-WORD", {"BALANCE": "lots"}),
    ("AWK-NEGATIVE", {"CASH_ADVANCE": "-5"}),
    ("AWK-FREQ-CAPPED", {"CASH_ADVANCE_FREQUENCY": "1.2"}),
    ("AWK-FREQ-HIGH", {"BALANCE_FREQUENCY": "1.9"}),
    ("AWK-NAN", {"PAYMENTS": "NaN"}),
    ("AWK-COMMA", {"PAYMENTS": "1,000"}),
    ("AWK-TRX", {"PURCHASES_TRX": "2.5"}),
    ("AWK-TENURE", {"TENURE": "0"}),
    ("AWK-SCI", {"CREDIT_LIMIT": "1e3"}),
    ("AWK-MANY-MISSING", {c: "" for c in RAW_COLUMNS[1:7]}),
    ("", {}),
    ("   ", {}),
    ("AWK-TWICE", {}),
    ("AWK-TWICE", {"BALANCE": "1"}),
    (IMAGE_ID, {"BALANCE": IMAGE_CELL}),
    (LINK_ID, {}),
    (FORMULA_ID, {}),
    ("@SUM(A1)", {}),
    ("+1", {}),
    ("-2", {"PRC_FULL_PAYMENT": "-0.5"}),
]


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


@pytest.fixture(scope="module")
def awkward_rows(real_csv) -> list[list[str]]:
    """Header, N_REAL real rows, then the AWKWARD rows."""
    with real_csv.open(newline="") as file:
        real = list(csv.reader(file))
    header, data = real[0], real[1:]
    rows = [header, *data[:N_REAL]]
    for i, (cust_id, cells) in enumerate(AWKWARD):
        row = dict(zip(header, data[N_REAL + i], strict=True))
        row.update(CUST_ID=cust_id, **cells)
        rows.append([row[c] for c in header])
    return rows


@pytest.fixture(scope="module")
def awkward_csv(tmp_path_factory, awkward_rows) -> Path:
    path = tmp_path_factory.mktemp("awkward_file") / "awkward.csv"
    path.write_text(csv_text(awkward_rows), newline="")
    return path


@pytest.fixture(scope="module")
def awkward_build(tmp_path_factory, awkward_csv):
    build = dbt_build(tmp_path_factory.mktemp("awkward"), awkward_csv)
    assert build.returncode == 0, build.output[-3000:]
    return build


@pytest.fixture(scope="module")
def pipeline_verdicts(awkward_build) -> pd.DataFrame:
    """The pipeline's answer per data row, by position in the file: the
    segment of a segmented customer, or the quarantine reason."""
    return awkward_build.query(
        "select q.source_row_number, null::integer as segment_id, "
        "q.quarantine_reason from quarantined_customers as q "
        "union all "
        "select source_row_number, segment_id, null from customer_segments "
        "order by source_row_number"
    ).set_index("source_row_number")


def verdict(row) -> tuple:
    reason = row.rejection_reason
    if pd.isna(reason) or reason == "":
        return ("segment", int(float(row.segment_id)))
    return ("rejected", reason)


def test_the_pipeline_reads_the_awkward_cells_as_documented(pipeline_verdicts):
    """The README's table, checked on the build itself."""
    reasons = pipeline_verdicts.quarantine_reason
    first = N_REAL + 1
    at = {cust_id: first + i for i, (cust_id, _) in enumerate(AWKWARD)}
    assert reasons[at["AWK-NA"]] == "balance is not a number: NA"
    assert reasons[at["AWK-NULL"]] == "minimum_payments is not a number: NULL"
    assert reasons[at["AWK-N/A"]] == "credit_limit is not a number: N/A"
    for imputed in ("AWK-EMPTY", "AWK-SPACES", "AWK-PADDED", "AWK-FREQ-CAPPED"):
        assert pd.isna(reasons[at[imputed]]), imputed
    assert reasons[at["AWK-NEGATIVE"]] == "cash_advance is negative: -5"
    assert reasons[at[""]] == "cust_id is missing"
    assert reasons[at["AWK-TWICE"]] == "cust_id AWK-TWICE appears 2 times"
    assert reasons[at[IMAGE_ID]] == f"balance is not a number: {IMAGE_CELL}"
    assert pd.isna(reasons[at[FORMULA_ID]])


def test_score_gives_every_row_the_pipelines_verdict(
    awkward_build, awkward_csv, pipeline_verdicts
):
    scored = score(awkward_build.warehouse, awkward_csv)
    assert scored.input_row_number.tolist() == list(pipeline_verdicts.index)
    expected = [
        ("segment", int(r.segment_id))
        if pd.isna(r.quarantine_reason)
        else ("rejected", r.quarantine_reason)
        for r in pipeline_verdicts.itertuples()
    ]
    got = [verdict(row) for row in scored.itertuples()]
    mismatches = [
        (n, e, g)
        for n, e, g in zip(pipeline_verdicts.index, expected, got, strict=True)
        if e != g
    ]
    assert not mismatches


def test_a_dataframe_read_by_pandas_keeps_NA_as_text_only_when_asked(
    awkward_build, awkward_csv
):
    """The DataFrame path takes cells as they are: pandas' default reading
    turns NA into a missing value, and the file path does not."""
    text = pd.read_csv(awkward_csv, dtype=str, keep_default_na=False)
    row = text.index[text.CUST_ID == "AWK-NA"][0]
    assert score(awkward_build.warehouse, text).rejection_reason[row] == (
        "balance is not a number: NA"
    )


# --- file-level failures: one line naming the file ---------------------------

HEADER = ",".join(RAW_COLUMNS)
ROW = "C1,1,1,1,1,0,0,1,1,0,0,0,1,1000,10,10,0,12"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "bad.csv is empty: expected a header line with the columns CUST_ID"),
        (f"{HEADER}\r\n".encode(), "bad.csv has a header but no data rows"),
        (
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00[Content_Types].xml",
            "bad.csv is not a CSV text file (line 1 has NUL bytes)",
        ),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
            "bad.csv: line 1 is not UTF-8 text",
        ),
        (
            f"{HEADER}\n{ROW}\nC2,caf\xe9,1\n".encode("latin-1"),
            "bad.csv: line 3 is not UTF-8 text: save it as CSV UTF-8",
        ),
        (
            f"{HEADER},GR\xd6SSE\n{ROW},1\n".encode("latin-1"),
            "bad.csv: line 1 is not UTF-8 text",
        ),
        (
            f"{HEADER}\n{ROW}\n{ROW.replace('C1', 'C2')}\n{ROW},extra\n".encode(),
            "bad.csv: line 4 has 19 fields but the header has 18",
        ),
        (
            f"{HEADER}\n{ROW.rsplit(',', 1)[0]}\n".encode(),
            "bad.csv: line 2 has 17 fields but the header has 18",
        ),
        (
            f"{HEADER},balance\n{ROW},2\n".encode(),
            "bad.csv: columns 'BALANCE' and 'balance' are both BALANCE",
        ),
        (
            f"{HEADER.replace(',TENURE', '').replace(',PAYMENTS', '')}\n".encode(),
            "bad.csv: missing columns: PAYMENTS, TENURE",
        ),
    ],
    ids=[
        "empty",
        "header-only",
        "xlsx",
        "png",
        "latin-1-row",
        "latin-1-header",
        "extra-field",
        "missing-field",
        "same-column-twice",
        "missing-columns",
    ],
)
def test_an_unreadable_file_is_one_line_naming_it(
    awkward_build, tmp_path, content, message
):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError) as raised:
        score(awkward_build.warehouse, path, name="bad.csv")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_more_rows_than_the_limit_are_refused(awkward_build, tmp_path):
    path = tmp_path / "four.csv"
    rows = [ROW.replace("C1", f"C{i}") for i in range(4)]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    assert len(score(awkward_build.warehouse, path, max_rows=4)) == 4
    with pytest.raises(ValueError, match=r"four.csv has more than 3 rows"):
        score(awkward_build.warehouse, path, name="four.csv", max_rows=3)


def test_columns_in_another_order_and_case_with_extras_are_read_by_name(
    awkward_build, awkward_rows, pipeline_verdicts, tmp_path
):
    header, *data = awkward_rows
    order = [*reversed(range(len(header)))]
    rows = [["note", *(header[i].lower() for i in order)]]
    rows += [["=1+1", *(r[i] for i in order)] for r in data]
    path = tmp_path / "reordered.csv"
    path.write_text(csv_text(rows), newline="")
    scored = score(awkward_build.warehouse, path)
    expected = pipeline_verdicts.quarantine_reason.fillna("").tolist()
    assert scored.rejection_reason.fillna("").tolist() == expected


# --- the dashboard ------------------------------------------------------------


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """What the dashboard's download buttons would send, by media file id."""
    saved: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        saved[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", load_and_get_id)
    return saved


@pytest.fixture
def dashboard(awkward_build, monkeypatch) -> AppTest:
    monkeypatch.setenv("CC_SEGMENTATION_WAREHOUSE", str(awkward_build.warehouse))
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception
    return app


def upload(app: AppTest, name: str, content: bytes) -> AppTest:
    app.file_uploader[0].set_value((name, content, "text/csv")).run()
    assert not app.exception
    return app


def downloaded(app: AppTest, downloads: dict[str, bytes]) -> list[dict[str, str]]:
    (button,) = app.get("download_button")
    data = downloads[Path(button.proto.url).stem]
    text = data.decode() if isinstance(data, bytes) else data
    return list(csv.DictReader(io.StringIO(text)))


def commonmark_unescape(text: str) -> str:
    """CommonMark: a backslash before ASCII punctuation shows it as itself."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def markdown_bodies(app: AppTest) -> list[str]:
    """Every string the page renders as Markdown: text elements, alerts,
    captions, widget labels and st.table cells."""
    bodies = []

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            kind = getattr(child, "type", "")
            if kind in {"markdown", "caption", "title", "subheader", "header"} or (
                kind in {"error", "warning", "success", "info"}
            ):
                bodies.append(child.value)
            if kind == "table":
                bodies.extend(str(v) for v in child.value.to_numpy().ravel())
            if isinstance(getattr(child, "label", None), str):
                bodies.append(child.label)
            walk(child)

    walk(app._tree)
    return bodies


def live_markdown(body: str) -> str:
    """``body`` without its backslash-escaped characters: what is left is
    what CommonMark may read as syntax."""
    return re.sub(r"\\[!-/:-@\[-`{-~]", "", body)


def test_the_upload_gives_every_row_the_pipelines_verdict(
    dashboard, awkward_csv, pipeline_verdicts, downloads
):
    upload(dashboard, "awkward.csv", awkward_csv.read_bytes())
    assert not dashboard.error
    rows = downloaded(dashboard, downloads)
    expected = [
        ("segment", int(r.segment_id))
        if pd.isna(r.quarantine_reason)
        else ("rejected", r.quarantine_reason)
        for r in pipeline_verdicts.itertuples()
    ]
    got = [verdict(pd.Series(row)) for row in rows]
    assert got == expected


def test_the_download_quotes_formula_cells_and_keeps_numbers(
    dashboard, awkward_csv, awkward_rows, downloads
):
    upload(dashboard, "awkward.csv", awkward_csv.read_bytes())
    rows = downloaded(dashboard, downloads)
    by_input = dict(zip([r[0] for r in awkward_rows[1:]], rows, strict=True))
    assert by_input[FORMULA_ID]["CUST_ID"] == "'" + FORMULA_ID
    assert by_input["@SUM(A1)"]["CUST_ID"] == "'@SUM(A1)"
    # a plain number is a number to a spreadsheet, not a formula
    assert by_input["+1"]["CUST_ID"] == "+1"
    assert by_input["-2"]["CUST_ID"] == "-2"
    assert by_input["-2"]["PRC_FULL_PAYMENT"] == "-0.5"
    assert by_input["AWK-NEGATIVE"]["CASH_ADVANCE"] == "-5"
    assert by_input["AWK-NA"]["BALANCE"] == "NA"
    dangerous = ("=", "+", "-", "@", "\t", "\r")
    for row in rows:
        for cell in row.values():
            if cell.startswith(dangerous):
                float(cell)  # only a plain number may start so
    # numbers stay numbers: the probability of every scored row parses
    scored = [r for r in rows if not r["rejection_reason"]]
    assert all(0 < float(r["probability"]) <= 1 for r in scored)


def test_re_uploading_the_download_scores_the_same_customers(
    dashboard, awkward_csv, downloads
):
    upload(dashboard, "awkward.csv", awkward_csv.read_bytes())
    first = downloaded(dashboard, downloads)
    (button,) = dashboard.get("download_button")
    again = downloads[Path(button.proto.url).stem]
    upload(dashboard, "awkward_with_segments.csv", again)
    assert not dashboard.error
    second = downloaded(dashboard, downloads)
    assert [r["segment_id"] for r in second] == [r["segment_id"] for r in first]
    # rows whose id was not quoted keep their reason too
    same = [
        (a["rejection_reason"], b["rejection_reason"])
        for a, b in zip(first, second, strict=True)
        if not a["CUST_ID"].startswith("'")
    ]
    assert same and all(a == b for a, b in same)
    assert [bool(r["rejection_reason"]) for r in second] == [
        bool(r["rejection_reason"]) for r in first
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x00\x01\x02", "is not a CSV text file"),
        (
            f"{HEADER}\n{ROW}\n".replace("C1", "C\xe9").encode("latin-1"),
            "line 2 is not UTF-8",
        ),
        (f"{HEADER}\n{ROW},1\n".encode(), "line 2 has 19 fields"),
        (f"{HEADER},Balance\n{ROW},1\n".encode(), "'BALANCE' and 'Balance'"),
    ],
    ids=["empty", "binary", "latin-1", "extra-field", "same-column-twice"],
)
def test_a_bad_upload_is_one_error_naming_the_file(dashboard, content, message):
    upload(dashboard, "bad.csv", content)
    (error,) = dashboard.error
    shown = commonmark_unescape(error.value)
    assert shown.startswith("bad.csv")
    assert message in shown
    assert not dashboard.get("download_button")


def test_the_upload_limit_is_enforced_and_named(dashboard, monkeypatch):
    monkeypatch.setattr("cc_segmentation.apps.scoring.MAX_ROWS", 2)
    rows = [ROW.replace("C1", f"C{i}") for i in range(3)]
    content = "\n".join([HEADER, *rows])
    upload(dashboard, "three.csv", content.encode())
    (error,) = dashboard.error
    assert commonmark_unescape(error.value).startswith("three.csv has more than 2 rows")


def assert_no_live_markdown(app: AppTest) -> None:
    for body in markdown_bodies(app):
        live = live_markdown(body)
        assert "](" not in live and "<" not in live, body


def test_data_reaches_the_page_as_text_not_markdown(dashboard):
    app = dashboard
    app.text_input[0].input(IMAGE_ID).run()
    (warning,) = app.warning
    assert commonmark_unescape(warning.value) == (
        f"{IMAGE_ID} was quarantined: balance is not a number: {IMAGE_CELL}"
    )
    assert_no_live_markdown(app)
    app.text_input[0].input(LINK_ID + "-unknown").run()
    (warning,) = app.warning
    assert commonmark_unescape(warning.value) == (
        f"No customer {LINK_ID}-unknown in this warehouse."
    )
    assert_no_live_markdown(app)
    app.text_input[0].input(LINK_ID).run()
    assert not app.warning
    assert any("segment" in body for body in markdown_bodies(app))
    assert_no_live_markdown(app)


def test_a_file_name_reaches_the_page_as_text(dashboard):
    upload(dashboard, f"{IMAGE_ID}.csv", f"{HEADER}\n".encode())
    (error,) = dashboard.error
    assert commonmark_unescape(error.value) == (
        f"{IMAGE_ID}.csv has a header but no data rows"
    )
    assert "](" not in live_markdown(error.value)
