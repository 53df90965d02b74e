"""Score new customers with a built warehouse, without rebuilding it.

The warehouse's ``scoring_query`` table holds the pipeline's own scoring
SQL (validation checks, imputation, standardization, nearest centroid: the
same dbt macros, compiled against the fitted tables).  A :class:`Scorer`
runs it in a private in-memory DuckDB session that reads the warehouse
read-only once, so it never blocks a build, and keeps the query's plan for
batch after batch: the scoring API holds one.  :func:`score` opens one for
a single call (the dashboard's way).

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
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import duckdb.func
import pandas as pd
import pyarrow as pa

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
#: scoring_input's columns: the raw columns in lower case.
_INPUT_COLUMNS = [column.lower() for column in RAW_COLUMNS]
#: A Scorer's name for the attached warehouse file while it copies from it.
_PUBLISHED = "published"
#: The fitted tables hold a row per feature, segment or fit; a table larger
#: than this is not one, and copying it into a Scorer would be a mistake.
_FITTED_TABLE_MAX_ROWS = 10_000
_Fetched = TypeVar("_Fetched")


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


def _scoring_frame(
    customers: pd.DataFrame, source: str, max_rows: int | None
) -> pd.DataFrame:
    """The 18 raw columns of ``customers`` as text, named as ``scoring_input``
    names them (lower case), in raw-file order."""
    positions = _raw_positions(list(customers.columns), source)
    _check_size(len(customers), max_rows, source)
    frame = customers.iloc[:, positions].astype("string")
    frame.columns = _INPUT_COLUMNS
    return frame


class WarehouseNotReady(Exception):
    """The warehouse cannot score: missing, unreadable, or not built."""


@dataclass(frozen=True)
class ModelInfo:
    """The fit a :class:`Scorer` scores with (from the public marts).

    Attributes
    ----------
    model_id : str
        ``scoring_query.model_id``: the fit in ``segment_centroids``.
    n_clusters : int
        k.
    fitted_at : datetime
        When the fit ran (UTC), from ``segmentation_models``.
    features : tuple of str
        The model's features, in model order.
    segments : tuple of dict
        One per segment, by id: ``segment_id``, ``segment_name``,
        ``persona_id``, ``n_customers``, ``share_of_customers`` (from
        ``segments``).
    """

    model_id: str
    n_clusters: int
    fitted_at: datetime
    features: tuple[str, ...]
    segments: tuple[dict[str, Any], ...]


def file_signature(path: Path) -> tuple[int, int, int, int]:
    """What changes when a build publishes over ``path`` (an ``os.replace``
    gives it a new inode) or a plain ``dbt build`` writes it in place."""
    stat = path.stat()
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


class Scorer:
    """A warehouse's ``scoring_query``, planned once, to score batch after batch.

    Running the stored query costs about 150 ms even for one customer, and
    most of it is DuckDB binding and optimizing its 127 kB of SQL; run
    from its kept plan it takes about 30 ms.  DuckDB keeps a prepared
    statement's plan only while the statement scans no table (any table
    scan makes ``EXECUTE`` bind it again), so the scorer arranges the
    query's inputs to be something other than tables, and prepares it once:

    - the fitted tables the query reads (``warehouse.main.<table>``: impute
      values, scaling, centroids, the model, segments, anomaly thresholds;
      one row per feature, segment or fit) are copied, value for value, into
      views of literal rows in an in-memory database named ``warehouse``.
      Each copy is checked equal to its table (``except all`` both ways), and
      then the warehouse file is detached: the scorer holds no file open;
    - ``scoring_input`` is a view that unnests the batch a Python function
      hands over (an Arrow list of the 18 text columns); the function is
      declared volatile, so the plan calls it on every execution.

    The SQL, and every value it reads, is the warehouse's own; only where
    they are held differs.  One batch runs at a time (a lock); a scorer is
    safe to share between threads.  :func:`score` opens one per call.

    Parameters
    ----------
    warehouse : path
        A built warehouse (``warehouse/segmentation.duckdb``).

    Raises
    ------
    WarehouseNotReady
        The file is missing, cannot be opened read-only, has no
        ``scoring_query`` (not built, or built before it existed), or its
        query cannot run on it (a fitted table missing).
    """

    def __init__(self, warehouse: str | os.PathLike) -> None:
        self.warehouse = Path(warehouse)
        try:
            # taken before the file is read: if a build replaces it meanwhile,
            # the next check sees a change and loads again
            self.signature = file_signature(self.warehouse)
        except FileNotFoundError:
            raise WarehouseNotReady(
                f"{self.warehouse} does not exist: build it first "
                "(cc-segmentation build, see README)"
            ) from None
        self._lock = threading.Lock()
        self._batch: pa.StructArray | None = None
        self._closed = False
        self._con = duckdb.connect()
        try:
            self.model = self._load()
        except duckdb.Error as error:
            # e.g. a query that reads a table this warehouse lacks
            self._con.close()
            first = str(error).splitlines()[0]
            raise WarehouseNotReady(
                f"{self.warehouse}: its scoring query cannot run: {first}"
            ) from error
        except BaseException:
            self._con.close()
            raise

    def _load(self) -> ModelInfo:
        con = self._con
        try:
            con.execute(
                f"attach {sql_literal(self.warehouse)} as {_PUBLISHED} (read_only)"
            )
        except duckdb.Error as error:
            first = str(error).splitlines()[0]
            raise WarehouseNotReady(
                f"{self.warehouse} cannot be opened read-only: {first}"
            ) from None
        try:
            rows = con.execute(
                f"select model_id, query from {_PUBLISHED}.main.scoring_query"
            ).fetchall()
        except duckdb.CatalogException:
            rows = []
        if len(rows) != 1:
            raise WarehouseNotReady(
                f"{self.warehouse} has no scoring query (found {len(rows)} rows in "
                "scoring_query): rebuild it (cc-segmentation build)"
            )
        model_id, query = rows[0]
        model = self._read_model(model_id)
        con.execute("attach ':memory:' as warehouse")
        tables = sorted(set(re.findall(r"\bwarehouse\.main\.(\w+)", query)))
        for table in tables:
            self._copy_fitted_table(table)
        self._check_copies(tables)
        con.execute(f"detach {_PUBLISHED}")
        struct = ", ".join(f"{column} varchar" for column in _INPUT_COLUMNS)
        # the session holds the function; through a weak reference, so that
        # a scorer nobody closes is freed, and its session with it
        hand_over = weakref.WeakMethod(self._hand_over_batch)

        def scoring_batch(dummy: pa.Array) -> pa.Array:
            method = hand_over()
            if method is None:  # pragma: no cover (the scorer is being freed)
                raise RuntimeError("the scorer of this session is gone")
            return method(dummy)

        con.create_function(
            "scoring_batch",
            scoring_batch,
            [duckdb.sqltype("integer")],
            duckdb.sqltype(f"struct({struct})[]"),
            type=duckdb.func.ARROW,
            side_effects=True,  # volatile: called on every execution
        )
        con.execute(
            "create temp view scoring_input as "
            "select unnest(scoring_batch(0), recursive := true) from range(1)"
        )
        con.execute(f"prepare scoring as {query}")
        return model

    def _read_model(self, model_id: str) -> ModelInfo:
        con = self._con
        fits = con.execute(
            f"select n_clusters, features, fitted_at from {_PUBLISHED}.main."
            "segmentation_models where model_id = ?",
            [model_id],
        ).fetchall()
        if len(fits) != 1:
            raise WarehouseNotReady(
                f"{self.warehouse}: model {model_id} of scoring_query is not in "
                "segmentation_models: rebuild it (cc-segmentation build)"
            )
        n_clusters, features, fitted_at = fits[0]
        result = con.execute(
            "select segment_id, segment_name, persona_id, n_customers, "
            f"share_of_customers from {_PUBLISHED}.main.segments order by segment_id"
        )
        names = [column[0] for column in result.description]
        segments = tuple(
            dict(zip(names, row, strict=True)) for row in result.fetchall()
        )
        return ModelInfo(
            model_id=model_id,
            n_clusters=int(n_clusters),
            fitted_at=fitted_at,
            features=tuple(features.split(",")),
            segments=segments,
        )

    def _copy_fitted_table(self, table: str) -> None:
        """``warehouse.main.<table>`` as a view of the published table's rows,
        written as literals, checked equal to the table."""
        con = self._con
        published = f"{_PUBLISHED}.main.{table}"
        columns = con.execute(f"describe {published}").fetchall()
        rows = con.execute(f"select * from {published}").fetchall()
        if len(rows) > _FITTED_TABLE_MAX_ROWS:
            raise WarehouseNotReady(
                f"{self.warehouse}: scoring_query reads {table}, which has "
                f"{len(rows):,} rows; the scorer copies the fitted tables it "
                f"reads and takes at most {_FITTED_TABLE_MAX_ROWS:,} rows each"
            )
        if not rows:
            raise WarehouseNotReady(
                f"{self.warehouse}: {table} is empty: rebuild it (cc-segmentation "
                "build)"
            )
        # text literals, each column cast once: binding a cast per value
        # costs more than the rest of the copy
        values = ", ".join(
            "(" + ", ".join(_text_literal(value) for value in row) + ")" for row in rows
        )
        positional = [f"c{i}" for i in range(len(columns))]
        typed = ", ".join(
            f'cast({position} as {column[1]}) as "{column[0]}"'
            for position, column in zip(positional, columns, strict=True)
        )
        con.execute(
            f"create view warehouse.main.{table} as select {typed} from "
            f"(values {values}) as copied ({', '.join(positional)})"
        )

    def _check_copies(self, tables: list[str]) -> None:
        """Each copy holds exactly its table's rows (``except all`` both
        ways; one query for all, as each query costs its planning)."""
        differences = " union all ".join(
            f"select {sql_literal(table)} as table_name, count(*) as n from "
            f"((select * from {_PUBLISHED}.main.{table} except all "
            f"select * from warehouse.main.{table}) union all "
            f"(select * from warehouse.main.{table} except all "
            f"select * from {_PUBLISHED}.main.{table}))"
            for table in tables
        )
        differ = self._con.execute(
            f"select table_name from ({differences}) where n > 0"
        ).fetchall()
        if differ:
            names = ", ".join(row[0] for row in differ)
            raise RuntimeError(f"the copies of {names} differ from the tables")

    def _hand_over_batch(self, _dummy: pa.Array) -> pa.Array:
        """The batch being scored, as one list value (``scoring_batch(0)``)."""
        batch = self._batch
        if batch is None:
            raise RuntimeError("scoring_batch() is called only while scoring")
        offsets = pa.array([0, len(batch)], pa.int32())
        return pa.ListArray.from_arrays(offsets, batch)

    def _run(self, frame: pd.DataFrame, fetch: Callable[[Any], _Fetched]) -> _Fetched:
        batch = pa.StructArray.from_arrays(
            [pa.array(frame[column], pa.string()) for column in _INPUT_COLUMNS],
            names=_INPUT_COLUMNS,
        )
        with self._lock:
            if self._closed:
                raise ScorerClosed(f"the scorer of {self.warehouse} is closed")
            self._batch = batch
            try:
                return fetch(self._con.execute("execute scoring"))
            finally:
                self._batch = None

    def score(
        self,
        customers: pd.DataFrame | str | os.PathLike,
        *,
        name: str | None = None,
        max_rows: int | None = MAX_ROWS,
    ) -> pd.DataFrame:
        """Score ``customers``: as :func:`score`, with this scorer's warehouse."""
        if not isinstance(customers, pd.DataFrame):
            customers = read_customers_csv(customers, name, max_rows)
        frame = _scoring_frame(customers, name or "customers", max_rows)
        return self._run(frame, lambda result: result.df())

    def score_rows(
        self,
        customers: pd.DataFrame,
        *,
        name: str | None = None,
        max_rows: int | None = MAX_ROWS,
    ) -> list[dict[str, Any]]:
        """:meth:`score`'s rows as dicts of Python values (None for NULL)."""
        frame = _scoring_frame(customers, name or "customers", max_rows)

        def records(result: Any) -> list[dict[str, Any]]:
            names = [column[0] for column in result.description]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

        return self._run(frame, records)

    def close(self) -> None:
        """Free the session; a batch being scored finishes first."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._con.close()

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class ScorerClosed(RuntimeError):
    """A closed :class:`Scorer` was asked to score (a newer one replaced it)."""


def _text_literal(value: Any) -> str:
    """``value`` as a text literal that a cast to its column's type reads
    back exactly (NULL for None)."""
    if value is None:
        return "null"
    if isinstance(value, float):
        text = repr(value)  # the shortest text that reads back as this double
    elif isinstance(value, bool | int | str | datetime | date | Decimal):
        text = str(value)
    else:
        raise TypeError(f"cannot copy a {type(value).__name__} value")
    return sql_literal(text)


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
    WarehouseNotReady
        The warehouse is missing, unreadable or not built.

    See Also
    --------
    Scorer : the same scoring, prepared once for many calls.
    """
    if not isinstance(customers, pd.DataFrame):
        # the file is read before the warehouse is opened, as the upload is
        customers = read_customers_csv(customers, name, max_rows)
    with Scorer(warehouse) as scorer:
        return scorer.score(customers, name=name, max_rows=max_rows)
