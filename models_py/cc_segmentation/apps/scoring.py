"""Score new customers with a built warehouse, without rebuilding it.

The warehouse's ``scoring_query`` table holds the pipeline's own scoring
SQL (validation checks, imputation, standardization, nearest centroid: the
same dbt macros, compiled against the fitted tables).  :func:`score` runs it
in a private in-memory DuckDB session that attaches the warehouse
read-only, so it never blocks a build.

A CSV file is read by :func:`read_customers_csv` with the raw source's own
``read_csv`` dialect (every cell as text, comma, double quotes, no
sniffing), so a cell means what it means to the pipeline: only an empty or
blank cell is missing, and ``NA``, ``NULL`` or ``N/A`` is a value that is
not a number.  Columns are found by name, in any order and any case;
columns other than the 18 raw ones are ignored.  Every problem with a file
is one ``ValueError`` naming it (and the line, where there is one).
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import duckdb
import pandas as pd

from cc_segmentation import RAW_COLUMNS, sql_literal

#: The most rows one call scores (the dashboard's upload limit).  Scoring
#: itself streams in DuckDB; the limit is for what comes back: a DataFrame
#: the dashboard shows and offers for download, which for a million rows
#: took 90 s and 3.8 GB of memory.  A file of that size is a job for a build.
MAX_ROWS = 100_000

#: The raw source's dialect (_cc_general__sources.yml), column list aside.
_CSV_DIALECT = (
    "header = true, delim = ',', quote = '\"', escape = '\"', auto_detect = false"
)
_HEADER_BYTES = 1 << 20


def _raw_positions(names: list[str], source: str) -> list[int]:
    """Where each of the 18 raw columns is among ``names``.

    Names match trimmed and case-insensitively, as in the pipeline's header
    check.  Two names for one raw column, or a raw column missing, is a
    ``ValueError`` naming them.
    """
    found: dict[str, list[int]] = {}
    for position, column in enumerate(names):
        key = str(column).strip().upper()
        if key in RAW_COLUMNS:
            found.setdefault(key, []).append(position)
    for key, positions in found.items():
        if len(positions) > 1:
            spelled = " and ".join(repr(str(names[p])) for p in positions)
            raise ValueError(
                f"{source}: columns {spelled} are both {key} (column names are "
                "not case-sensitive): keep one"
            )
    missing = [column for column in RAW_COLUMNS if column not in found]
    if missing:
        raise ValueError(f"{source}: missing columns: {', '.join(missing)}")
    return [found[column][0] for column in RAW_COLUMNS]


def _header(path: Path, source: str) -> list[str]:
    """The header line's names, parsed with the CSV dialect, or a ValueError."""
    with path.open("rb") as file:
        line = file.readline(_HEADER_BYTES)
        empty = not line and not file.read(1)
    if empty:
        raise ValueError(
            f"{source} is empty: expected a header line with the columns "
            f"{', '.join(RAW_COLUMNS)} and one row per customer"
        )
    if b"\x00" in line:
        raise ValueError(
            f"{source} is not a CSV text file (line 1 has NUL bytes): "
            "save it as CSV UTF-8"
        )
    if len(line) == _HEADER_BYTES and not line.endswith(b"\n"):
        raise ValueError(f"{source}: line 1 is over 1 MB long, not a CSV header")
    try:
        text = line.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise ValueError(
            f"{source}: line 1 is not UTF-8 text: save the file as CSV UTF-8"
        ) from None
    if not text.strip():
        raise ValueError(f"{source}: line 1 is blank, expected the header")
    try:
        return next(csv.reader([text.rstrip("\r\n")]))
    except csv.Error as error:
        raise ValueError(f"{source}: line 1 is not a CSV header: {error}") from None


def _read_error(error: duckdb.Error, source: str) -> ValueError:
    """DuckDB's multi-line CSV error as one line naming the file and line."""
    text = str(error)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    at = f": line {line.group(1)}" if line else ""
    fields = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if fields:
        return ValueError(
            f"{source}{at} has {fields.group(2)} fields but the header has "
            f"{fields.group(1)} (a value with a comma needs double quotes)"
        )
    if "not utf-8 encoded" in text or "Invalid unicode" in text:
        return ValueError(f"{source}{at} is not UTF-8 text: save it as CSV UTF-8")
    first = text.splitlines()[0].split("Error: ", 1)[-1]
    return ValueError(
        f"{source}{at} cannot be read as CSV (comma-separated, UTF-8, "
        f"double quotes): {first}"
    )


def read_customers_csv(
    path: str | os.PathLike, name: str | None = None, max_rows: int | None = MAX_ROWS
) -> pd.DataFrame:
    """Read a raw customer file exactly as the pipeline's source reads it.

    Parameters
    ----------
    path : path
        A CSV file with a header line.
    name : str, optional
        What messages call the file (the dashboard passes the uploaded
        file's name); ``path`` by default.
    max_rows : int or None
        More data rows than this is an error; None for no limit.

    Returns
    -------
    DataFrame
        The 18 raw columns (named as in ``RAW_COLUMNS``), in file order,
        every value the cell's text as read (None for an empty cell).

    Raises
    ------
    ValueError
        One line naming the file: empty, not UTF-8 text, binary, a raw
        column missing or given twice, a row with more or fewer fields than
        the header (with its line), no data rows, or over ``max_rows``.
    """
    path = Path(path)
    source = name or str(path)
    names = _header(path, source)
    positions = _raw_positions(names, source)
    columns = ", ".join(f"f{i} := 'VARCHAR'" for i in range(len(names)))
    picked = ", ".join(
        f"f{p} as {column}" for p, column in zip(positions, RAW_COLUMNS, strict=True)
    )
    limit = "" if max_rows is None else f"limit {int(max_rows) + 1}"
    with duckdb.connect() as con:
        try:
            rows = con.execute(
                f"select {picked} from read_csv({sql_literal(path)}, "
                f"{_CSV_DIALECT}, columns = struct_pack({columns})) {limit}"
            ).df()
        except duckdb.Error as error:
            raise _read_error(error, source) from None
    if rows.empty:
        raise ValueError(f"{source} has a header but no data rows")
    _check_size(len(rows), max_rows, source)
    return rows.astype(object).where(rows.notna(), None)


def _check_size(n_rows: int, max_rows: int | None, source: str) -> None:
    if max_rows is not None and n_rows > max_rows:
        raise ValueError(
            f"{source} has more than {max_rows:,} rows, the most one upload "
            "scores: split it, or segment it with a pipeline build"
        )


def score(
    warehouse: str | Path,
    customers: pd.DataFrame | str | os.PathLike,
    *,
    name: str | None = None,
    max_rows: int | None = MAX_ROWS,
) -> pd.DataFrame:
    """Segment ``customers`` with the model stored in ``warehouse``.

    Parameters
    ----------
    warehouse : path
        A built warehouse (``warehouse/segmentation.duckdb``).
    customers : DataFrame or path
        A CSV file (read by :func:`read_customers_csv`, so with the
        pipeline's parsing rules), or a DataFrame with the raw file's 18
        columns (any case, any order; values as numbers or text, None or
        NaN for a missing value: a DataFrame's cells are taken as they
        are, so read a file with ``dtype=str, keep_default_na=False`` or
        pass its path).  Other columns are ignored.
    name : str, optional
        What error messages call the input; the path by default.
    max_rows : int or None
        More rows than this is an error; None for no limit.

    Returns
    -------
    DataFrame
        One row per input row, in input order: ``rejection_reason`` (NULL
        when scored, else the pipeline's quarantine reason), segment,
        distances, probabilities, the three reasons and the CRM action.

    Raises
    ------
    ValueError
        One line naming the input, for any input that cannot be read (see
        :func:`read_customers_csv`), a raw column missing or given twice,
        or more than ``max_rows`` rows.
    """
    if not isinstance(customers, pd.DataFrame):
        customers = read_customers_csv(customers, name, max_rows)
    source = name or "customers"
    positions = _raw_positions(list(customers.columns), source)
    _check_size(len(customers), max_rows, source)
    frame = customers.iloc[:, positions].astype("string")
    frame.columns = [c.lower() for c in RAW_COLUMNS]
    with duckdb.connect() as con:
        con.execute(f"attach {sql_literal(warehouse)} as warehouse (read_only)")
        rows = con.execute("select query from warehouse.main.scoring_query").fetchall()
        con.register("scoring_frame", frame)
        con.execute("create temp table scoring_input as select * from scoring_frame")
        return con.execute(rows[0][0]).df()
