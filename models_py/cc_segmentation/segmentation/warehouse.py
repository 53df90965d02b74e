"""What the dbt Python models share: bounded reads of the warehouse, and the log.

A Python model never pulls a whole customer table into Python.  It reads a
fixed-seed sample (``int_customers_sampled``) as a float matrix, or small
fit-state tables, or streams float columns in Arrow batches.

The models run on DuckDB and on Spark (the ``spark`` target,
:mod:`cc_segmentation.publishing.spark`) with one code path.  There
``dbt.ref`` returns a ``DuckDBPyRelation`` or a Spark ``DataFrame``, and
``session`` is a ``DuckDBPyConnection`` (dbt-duckdb's wrapper of one) or a
``SparkSession``; the models
read through :func:`relation`, :func:`query` and :func:`no_rows`, and return
through :func:`model_output`, which offer the few operations they use on
either.  On DuckDB these only delegate to the relational API.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, cast

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from dbt.adapters.events.logging import AdapterLogger

from cc_segmentation import sql_literal

if TYPE_CHECKING:
    # pyspark is the optional ``spark`` extra: a DuckDB build never imports it
    from pyspark.sql import DataFrame as SparkDataFrame
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DataType, StructType

_LOGGER = AdapterLogger("cc_segmentation")

#: What ``dbt.ref`` returns on either engine, or a :class:`Relation`.
Rows: TypeAlias = "Relation | duckdb.DuckDBPyRelation | SparkDataFrame"
#: The dbt Python model's ``session`` on either engine.
Session: TypeAlias = "duckdb.DuckDBPyConnection | SparkSession"


def log(message: str) -> None:
    """Write ``message`` to dbt's log (console and ``logs/dbt.log``)."""
    _LOGGER.info(message)


class Relation(ABC):
    """Rows of the warehouse, on DuckDB or Spark: what the Python models use.

    Build one with :func:`relation`.  Every operation returns a new
    relation and reads nothing until a fetch (``fetchall``, ``fetchnumpy``,
    ``df``, ``record_batches``).  Column names are plain names, quoted
    here; a ``filter`` condition is SQL that both engines read alike
    (``sample_rank <= 100``, a boolean column).
    """

    @property
    @abstractmethod
    def native(self) -> duckdb.DuckDBPyRelation | SparkDataFrame:
        """The engine's own relation: what a model may return."""

    @property
    @abstractmethod
    def columns(self) -> list[str]:
        """Column names, in order."""

    @abstractmethod
    def project(self, *columns: str) -> Relation:
        """Only ``columns``, in that order."""

    @abstractmethod
    def filter(self, condition: str) -> Relation:
        """The rows where the SQL ``condition`` holds."""

    @abstractmethod
    def order(self, *columns: str) -> Relation:
        """Rows sorted by ``columns``, ascending.

        Sort by a key (``cust_id``) for an order that no engine, file or
        partitioning can change.
        """

    @abstractmethod
    def join(
        self, other: Rows, on: str, how: Literal["inner", "anti"] = "inner"
    ) -> Relation:
        """Join ``other`` on the column ``on`` (one ``on`` column in the result).

        ``how="anti"``: the rows of this relation whose ``on`` is not in
        ``other``'s.  The result has no order: :meth:`order` it if needed.
        """

    @abstractmethod
    def distinct(self) -> Relation:
        """Distinct rows."""

    @abstractmethod
    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple of Python values."""

    @abstractmethod
    def fetchnumpy(self) -> dict[str, Any]:
        """Every row, as one numpy array per column."""

    @abstractmethod
    def df(self) -> pd.DataFrame:
        """Every row, as a pandas DataFrame."""

    @abstractmethod
    def record_batches(self, batch_rows: int) -> pa.RecordBatchReader:
        """Every row, streamed in Arrow record batches of ``batch_rows`` at most.

        Only one batch is in this process's memory at a time.
        """


class _DuckDBRelation(Relation):
    """A :class:`Relation` over a ``DuckDBPyRelation``: delegates only."""

    def __init__(self, rows: duckdb.DuckDBPyRelation) -> None:
        self._rows = rows

    @property
    def native(self) -> duckdb.DuckDBPyRelation:
        return self._rows

    @property
    def columns(self) -> list[str]:
        return self._rows.columns

    def project(self, *columns: str) -> Relation:
        return _DuckDBRelation(self._rows.project(_duckdb_names(columns)))

    def filter(self, condition: str) -> Relation:
        return _DuckDBRelation(self._rows.filter(condition))

    def order(self, *columns: str) -> Relation:
        return _DuckDBRelation(self._rows.order(_duckdb_names(columns)))

    def join(
        self, other: Rows, on: str, how: Literal["inner", "anti"] = "inner"
    ) -> Relation:
        right = relation(other)
        if not isinstance(right, _DuckDBRelation):
            raise TypeError("cannot join a DuckDB relation with a Spark DataFrame")
        return _DuckDBRelation(self._rows.join(right.native, on, how=how))

    def distinct(self) -> Relation:
        return _DuckDBRelation(self._rows.distinct())

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows.fetchall()

    def fetchnumpy(self) -> dict[str, Any]:
        return self._rows.fetchnumpy()

    def df(self) -> pd.DataFrame:
        return self._rows.df()

    def record_batches(self, batch_rows: int) -> pa.RecordBatchReader:
        reader = self._rows.to_arrow_reader(batch_rows)
        if reader is None:  # the stubs allow it; a relation always has a reader
            raise RuntimeError("DuckDB returned no Arrow reader")
        return reader


def _duckdb_names(columns: tuple[str, ...]) -> str:
    return ", ".join('"' + name.replace('"', '""') + '"' for name in columns)


class _SparkRelation(Relation):
    """A :class:`Relation` over a Spark ``DataFrame``."""

    def __init__(self, frame: SparkDataFrame) -> None:
        self._frame = frame

    @property
    def native(self) -> SparkDataFrame:
        return self._frame

    @property
    def columns(self) -> list[str]:
        return list(self._frame.columns)

    def project(self, *columns: str) -> Relation:
        return _SparkRelation(self._frame.select(*_spark_columns(columns)))

    def filter(self, condition: str) -> Relation:
        return _SparkRelation(self._frame.filter(condition))

    def order(self, *columns: str) -> Relation:
        return _SparkRelation(self._frame.orderBy(*_spark_columns(columns)))

    def join(
        self, other: Rows, on: str, how: Literal["inner", "anti"] = "inner"
    ) -> Relation:
        right = relation(other)
        if not isinstance(right, _SparkRelation):
            raise TypeError("cannot join a Spark DataFrame with a DuckDB relation")
        spark_how = {"inner": "inner", "anti": "left_anti"}[how]
        return _SparkRelation(self._frame.join(right.native, on=[on], how=spark_how))

    def distinct(self) -> Relation:
        return _SparkRelation(self._frame.distinct())

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._frame.collect()]

    def fetchnumpy(self) -> dict[str, Any]:
        frame = self.df()
        return {name: frame[name].to_numpy() for name in frame.columns}

    def df(self) -> pd.DataFrame:
        # Arrow turns Spark's columns into pandas ones column by column and
        # keeps their types (the default in Spark 4; set in case a session
        # turned it off): without it every value goes through a Python Row.
        self._frame.sparkSession.conf.set(
            "spark.sql.execution.arrow.pyspark.enabled", "true"
        )
        return self._frame.toPandas()

    def record_batches(self, batch_rows: int) -> pa.RecordBatchReader:
        if batch_rows < 1:
            raise ValueError(f"batch_rows must be at least 1, got {batch_rows}")
        # toArrow of no rows: the Arrow schema Spark's own conversion gives
        schema = self._frame.limit(0).toArrow().schema
        return pa.RecordBatchReader.from_batches(
            schema, _spark_batches(self._frame, schema, batch_rows)
        )


def _spark_columns(columns: tuple[str, ...]) -> list[str]:
    # backquoted: a plain name with a dot would be read as a struct field
    return ["`" + name.replace("`", "``") + "`" for name in columns]


def _spark_batches(
    frame: SparkDataFrame, schema: pa.Schema, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """``frame``'s rows in record batches, one Spark partition fetched at a time.

    ``toLocalIterator`` runs a job per partition and holds one partition in
    the driver, unlike ``toArrow`` or ``toPandas``, which collect every row.
    """
    chunk: list[Any] = []
    for row in frame.toLocalIterator():
        chunk.append(row)
        if len(chunk) == batch_rows:
            yield _record_batch(chunk, schema)
            chunk = []
    if chunk:
        yield _record_batch(chunk, schema)


def _record_batch(rows: list[Any], schema: pa.Schema) -> pa.RecordBatch:
    values = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [
            pa.array(column, type=field.type)
            for column, field in zip(values, schema, strict=True)
        ],
        schema=schema,
    )


def relation(rows: Rows) -> Relation:
    """Wrap what ``dbt.ref`` returns, on DuckDB or on Spark, as a :class:`Relation`.

    Parameters
    ----------
    rows : Relation, DuckDBPyRelation or Spark DataFrame

    Returns
    -------
    Relation
        ``rows`` itself when it is one already.
    """
    if isinstance(rows, Relation):
        return rows
    if isinstance(rows, duckdb.DuckDBPyRelation):
        return _DuckDBRelation(rows)
    if _is_spark(rows):
        return _SparkRelation(rows)
    raise TypeError(f"expected a DuckDB relation or a Spark DataFrame, got {rows!r}")


def _is_spark(thing: object) -> bool:
    # by module first: a DuckDB build must not import pyspark
    if not type(thing).__module__.startswith("pyspark."):
        return False
    from pyspark.sql import DataFrame, SparkSession

    return isinstance(thing, DataFrame | SparkSession)


def query(session: Session, sql: str) -> Relation:
    """The rows of the SQL ``select`` ``sql``, on the model's ``session``.

    ``sql`` must be SQL that DuckDB and Spark read alike (``select * from
    <table>``, with ``str(dbt.this)`` for the table).
    """
    spark = _spark_session(session)
    if spark is None:
        return _DuckDBRelation(_duckdb_session(session).sql(sql))
    return _SparkRelation(spark.sql(sql))


def no_rows(
    session: Session, table: object
) -> duckdb.DuckDBPyRelation | SparkDataFrame:
    """No rows, with the columns of ``table``: what a model returns to change nothing.

    Parameters
    ----------
    session : DuckDBPyConnection or SparkSession
        The dbt Python model's session.
    table : object
        The table (``dbt.this``); ``str(table)`` is its name.
    """
    return query(session, f"select * from {table} where false").native


def _spark_session(session: Session) -> SparkSession | None:
    """``session`` on Spark; None on DuckDB."""
    return cast("SparkSession", session) if _is_spark(session) else None


def _duckdb_session(session: Session) -> duckdb.DuckDBPyConnection:
    # dbt-duckdb passes a cursor wrapper that forwards to the connection
    return cast(duckdb.DuckDBPyConnection, session)


def model_output(
    session: Session, result: pd.DataFrame | pa.Table
) -> pd.DataFrame | pa.Table | SparkDataFrame:
    """What a model returns, as its engine's dbt adapter writes it.

    dbt-duckdb writes a pandas DataFrame or an Arrow table as it is.
    dbt-spark cannot write an Arrow table, and infers a pandas frame's
    types itself: a column of None becomes Spark's ``void``, which Parquet
    cannot store.  So on Spark the result becomes a Spark DataFrame with
    the types DuckDB gives the same columns (:func:`spark_schema`).

    Parameters
    ----------
    session : DuckDBPyConnection or SparkSession
        The dbt Python model's session.
    result : pandas DataFrame or pyarrow Table
        The model's rows.

    Returns
    -------
    pandas DataFrame, pyarrow Table or Spark DataFrame
        ``result`` itself on DuckDB.
    """
    spark = _spark_session(session)
    if spark is None:
        return result
    if isinstance(result, pa.Table):
        # Arrow types are explicit already (int64 is bigint, as in DuckDB)
        return spark.createDataFrame(result)
    return spark.createDataFrame(result, schema=spark_schema(result))


def spark_schema(frame: pd.DataFrame) -> StructType:
    """The Spark types of ``frame``'s columns: those DuckDB gives them.

    64-bit integers (numpy's, or pandas' nullable ``Int64``) are ``bigint``
    and 32-bit ones ``int``, floats ``double``, booleans ``boolean``,
    datetimes ``timestamp`` (a naive one is in the session time zone, UTC
    on the ``spark`` target, as DuckDB's naive ``timestamp``) and text
    ``string``.  A text column without a single value is ``string`` too:
    DuckDB gives it a ``NULL`` type, which Spark cannot write to Parquet.

    Raises
    ------
    TypeError
        For a column of another type: say here which type it takes.
    """
    from pyspark.sql.types import StructField, StructType

    return StructType(
        [
            StructField(str(name), _spark_type(frame[name]), nullable=True)
            for name in frame.columns
        ]
    )


def _spark_type(column: pd.Series) -> DataType:
    from pyspark.sql import types

    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return types.BooleanType()
    if pd.api.types.is_integer_dtype(dtype):
        return types.LongType() if _bytes(dtype) > 4 else types.IntegerType()
    if pd.api.types.is_float_dtype(dtype):
        return types.DoubleType() if _bytes(dtype) > 4 else types.FloatType()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return types.TimestampType()
    if isinstance(dtype, pd.StringDtype) or (
        pd.api.types.is_object_dtype(dtype)
        and all(isinstance(value, str) for value in column.dropna())
    ):
        return types.StringType()
    raise TypeError(
        f"column {column.name!r} of type {dtype} has no Spark type here: "
        "see cc_segmentation.segmentation.warehouse.spark_schema"
    )


def _bytes(dtype: Any) -> int:
    # pandas' nullable types (Int64, Float64) hold a numpy dtype of that size
    return np.dtype(getattr(dtype, "numpy_dtype", dtype)).itemsize


def feature_matrix(
    rows: Rows, features: list[str], keys: tuple[str, ...] = ()
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Fetch ``rows``' standardized features as a float matrix, and ``keys``.

    Parameters
    ----------
    rows : Relation, DuckDBPyRelation or Spark DataFrame
        Bounded rows (a sample, the core samples) with ``<feature>_z``
        columns, in the order wanted.
    features : list of str
        Model features, in model order: the matrix's columns.
    keys : tuple of str
        Other columns to fetch beside the matrix, in the same row order.

    Returns
    -------
    matrix : ndarray of shape (n_rows, len(features))
    keys : dict of str to ndarray
    """
    columns = [f"{feature}_z" for feature in features]
    arrays = relation(rows).project(*keys, *columns).fetchnumpy()
    matrix = np.column_stack(
        [np.asarray(arrays[name], dtype=np.float64) for name in columns]
    )
    return matrix, {name: np.asarray(arrays[name]) for name in keys}


def sample_rows(sampled: Rows, max_rows: int) -> Relation:
    """The first ``max_rows`` customers of the fixed-seed sample.

    Parameters
    ----------
    sampled : Relation, DuckDBPyRelation or Spark DataFrame
        ``int_customers_sampled`` (``sample_rank``, ``cust_id``), or a join
        of it with more columns.
    max_rows : int
        Sample size; every customer when there are no more than this.

    Returns
    -------
    Relation
        Rows sorted by ``cust_id``, so that neither file order nor sample
        order nor the engine can change a fit.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    return relation(sampled).filter(f"sample_rank <= {int(max_rows)}").order("cust_id")


def sample_matrix(sampled: Rows, features: list[str], max_rows: int) -> np.ndarray:
    """:func:`sample_rows` as a matrix of the ``<feature>_z`` columns.

    Returns
    -------
    ndarray of shape (n_rows, len(features))
        Rows sorted by ``cust_id``.
    """
    matrix, _ = feature_matrix(sample_rows(sampled, max_rows), features)
    return matrix


def model_features(feature_scaling: Rows) -> list[str]:
    """Model feature names in model order, from the ``feature_scaling`` table."""
    rows = (
        relation(feature_scaling)
        .order("feature_position")
        .project("feature_name")
        .fetchall()
    )
    return [name for (name,) in rows]


class DbtModelContext(Protocol):
    """What :func:`reuse_if_stored` reads of a dbt Python model's ``dbt``."""

    @property
    def is_incremental(self) -> bool: ...

    @property
    def this(self) -> object: ...  # the model's relation; str() is its name


def reuse_if_stored(
    dbt: DbtModelContext,
    session: Session,
    column: str,
    key: str,
    message: str,
) -> duckdb.DuckDBPyRelation | SparkDataFrame | None:
    """What an incremental cache returns when ``key`` is already stored.

    The caches are incremental with ``delete+insert`` on their key.  When
    the key's rows are stored, the model returns no rows (with the table's
    columns): dbt then deletes nothing and inserts nothing, so the stored
    rows stay as they are.  Returning the stored rows would make dbt delete
    and insert them again, leaving their old copy as dead space in the file.

    Parameters
    ----------
    dbt : DbtModelContext
        The dbt Python model's ``dbt`` (``is_incremental``, ``this``).
    session : DuckDBPyConnection or SparkSession
        The dbt Python model's session.
    column, key : str
        Key column and the current key.
    message : str
        Logged when the stored rows are reused, so the build says so.

    Returns
    -------
    DuckDBPyRelation, Spark DataFrame or None
        No rows with the table's columns (:func:`no_rows`) when ``key`` is
        stored;
        None on a first or full-refresh build, or when it is not stored (or
        the stored table predates the key column: dbt's ``on_schema_change``
        then reports it), and the model computes.
    """
    if not dbt.is_incremental:
        return None
    table = dbt.this
    spark = _spark_session(session)
    if spark is None:
        stored = f"select * from {table} where {column} = {sql_literal(key)}"
        try:
            # fetchall, not fetchone: DuckDB 2.0 keeps an unfetched result open
            ((found,),) = (
                _duckdb_session(session)
                .execute(f"select count(*) from ({stored})")
                .fetchall()
            )
        except duckdb.Error:
            return None
    else:
        found = _stored_on_spark(spark, str(table), column, key)
    if not found:
        return None
    log(message)
    return no_rows(session, table)


def _stored_on_spark(spark: SparkSession, table: str, column: str, key: str) -> bool:
    """Whether Spark's ``table`` has rows whose ``column`` is ``key``."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions

    try:
        # a column, not a SQL literal: Spark SQL escapes quotes differently
        stored = spark.table(table).filter(functions.col(column) == key)
        return bool(stored.limit(1).count())
    except AnalysisException:  # no such table yet, or no such column
        return False
