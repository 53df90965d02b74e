"""The warehouse facade gives the same answers on DuckDB and on Spark.

The dbt Python models read through :mod:`cc_segmentation.segmentation.warehouse`
on both engines.  The same tiny tables are built in DuckDB and in a local
Spark session (Parquet tables, as the ``spark`` target writes), and every
operation and helper is checked, on each engine, against answers worked out
by hand from those rows.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from numpy.testing import assert_array_equal

from cc_segmentation.segmentation.warehouse import (
    feature_matrix,
    model_features,
    model_output,
    no_rows,
    query,
    relation,
    reuse_if_stored,
    sample_matrix,
    sample_rows,
)

pytestmark = [
    pytest.mark.spark,
    # a Spark session takes seconds to start: out of the quick loop
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

# The fixed-seed sample's shape: key, sample rank, two standardized features
# and a flag, in neither key nor rank order.
SAMPLED_SCHEMA = (
    "cust_id string, sample_rank bigint, balance_z double, "
    "purchases_z double, is_core boolean"
)
SAMPLED = [
    ("C3", 2, 0.5, -1.0, True),
    ("C1", 4, -0.25, 2.0, False),
    ("C4", 1, 1.5, 0.0, True),
    ("C2", 3, 0.0, 0.75, False),
    ("C5", 5, -2.0, 1.25, False),
]
FEATURE_SCALING_SCHEMA = "feature_name string, feature_position bigint"
FEATURE_SCALING = [("purchases", 2), ("balance", 1)]
ASSIGNED_SCHEMA = "cust_id string, segment_id bigint"
ASSIGNED = [("C4", 1), ("C1", 1), ("C2", 2)]
# an incremental cache: two rows under k1, one under k2
CACHE_SCHEMA = "cache_key string, cache_value double"
CACHE = [("k1", 1.0), ("k1", 2.0), ("k2", 3.0)]

TABLES = {
    "customers_sampled": (SAMPLED_SCHEMA, SAMPLED),
    "feature_scaling": (FEATURE_SCALING_SCHEMA, FEATURE_SCALING),
    "customers_assigned": (ASSIGNED_SCHEMA, ASSIGNED),
    "cache": (CACHE_SCHEMA, CACHE),
}


@dataclass
class Engine:
    """One engine's session and tables, as a dbt Python model sees them."""

    name: str
    session: Any
    schema: str

    def table_name(self, table: str) -> str:
        return f"{self.schema}.{table}"

    def ref(self, table: str) -> Any:
        """What ``dbt.ref(table)`` returns on this engine."""
        return self.session.table(self.table_name(table))


@dataclass
class FakeDbt:
    """What :func:`reuse_if_stored` reads of ``dbt``."""

    is_incremental: bool
    this: str


@pytest.fixture(scope="module")
def duckdb_engine():
    con = duckdb.connect()
    for table, (schema, rows) in TABLES.items():
        con.execute(f"create table {table} ({schema})")
        con.executemany(
            f"insert into {table} values ({', '.join('?' for _ in rows[0])})", rows
        )
    yield Engine("duckdb", con, "main")
    con.close()


@pytest.fixture(scope="module")
def spark_engine(tmp_path_factory):
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    from pyspark.sql import SparkSession

    tmp = tmp_path_factory.mktemp("spark")
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("test_warehouse_facade")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(tmp / "tables"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={tmp}/metastore_db;create=true",
        )
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={tmp}")
        .enableHiveSupport()
        .getOrCreate()
    )
    spark.sql("create database facade")
    for table, (schema, rows) in TABLES.items():
        # two partitions: the streamed batches must cross partitions
        spark.createDataFrame(rows, schema).repartition(2).write.format(
            "parquet"
        ).saveAsTable(f"facade.{table}")
    yield Engine("spark", spark, "facade")
    spark.stop()


@pytest.fixture(params=["duckdb", "spark"])
def engine(request) -> Engine:
    return request.getfixturevalue(f"{request.param}_engine")


# -- the Relation operations -------------------------------------------------


def test_columns_of_a_table(engine):
    rows = relation(engine.ref("customers_sampled"))
    assert rows.columns == [
        "cust_id",
        "sample_rank",
        "balance_z",
        "purchases_z",
        "is_core",
    ]
    assert relation(rows) is rows


def test_order_and_project(engine):
    rows = relation(engine.ref("customers_sampled"))
    assert rows.order("cust_id").project("cust_id", "balance_z").fetchall() == [
        ("C1", -0.25),
        ("C2", 0.0),
        ("C3", 0.5),
        ("C4", 1.5),
        ("C5", -2.0),
    ]
    # several keys, the first ascending then the second
    positions = relation(engine.ref("feature_scaling")).order("feature_position")
    assert positions.project("feature_name").fetchall() == [
        ("balance",),
        ("purchases",),
    ]


def test_filter(engine):
    rows = relation(engine.ref("customers_sampled"))
    ranked = rows.filter("sample_rank <= 3").order("cust_id").project("cust_id")
    assert ranked.fetchall() == [("C2",), ("C3",), ("C4",)]
    core = rows.filter("is_core").order("cust_id").project("cust_id")
    assert core.fetchall() == [("C3",), ("C4",)]


def test_inner_join_keeps_one_key_column(engine):
    joined = relation(engine.ref("customers_sampled")).join(
        engine.ref("customers_assigned"), "cust_id"
    )
    assert sorted(joined.columns) == sorted(
        ["cust_id", "sample_rank", "balance_z", "purchases_z", "is_core", "segment_id"]
    )
    assert joined.order("cust_id").project("cust_id", "segment_id").fetchall() == [
        ("C1", 1),
        ("C2", 2),
        ("C4", 1),
    ]


def test_anti_join(engine):
    assigned = relation(engine.ref("customers_assigned")).project("cust_id")
    unassigned = relation(engine.ref("customers_sampled")).join(
        assigned, "cust_id", how="anti"
    )
    assert unassigned.columns == [
        "cust_id",
        "sample_rank",
        "balance_z",
        "purchases_z",
        "is_core",
    ]
    assert unassigned.order("cust_id").project("cust_id").fetchall() == [
        ("C3",),
        ("C5",),
    ]


def test_distinct(engine):
    segments = relation(engine.ref("customers_assigned")).project("segment_id")
    assert sorted(segments.distinct().fetchall()) == [(1,), (2,)]
    ((key,),) = (
        (relation(engine.ref("cache")).filter("cache_value < 3").project("cache_key"))
        .distinct()
        .fetchall()
    )
    assert key == "k1"


def test_fetchall_gives_python_values(engine):
    rows = relation(engine.ref("customers_sampled")).filter("cust_id = 'C3'")
    ((cust_id, rank, balance, purchases, is_core),) = rows.fetchall()
    assert (cust_id, rank, balance, purchases, is_core) == ("C3", 2, 0.5, -1.0, True)
    assert [type(value) for value in rows.fetchall()[0]] == [
        str,
        int,
        float,
        float,
        bool,
    ]


def test_fetchnumpy(engine):
    arrays = (
        relation(engine.ref("customers_sampled"))
        .order("cust_id")
        .project("cust_id", "sample_rank", "purchases_z", "is_core")
        .fetchnumpy()
    )
    assert list(arrays) == ["cust_id", "sample_rank", "purchases_z", "is_core"]
    assert list(arrays["cust_id"]) == ["C1", "C2", "C3", "C4", "C5"]
    assert_array_equal(arrays["sample_rank"], [4, 3, 2, 1, 5])
    assert arrays["sample_rank"].dtype == np.int64
    assert_array_equal(arrays["purchases_z"], [2.0, 0.75, -1.0, 0.0, 1.25])
    assert arrays["purchases_z"].dtype == np.float64
    assert_array_equal(arrays["is_core"], [False, False, True, True, False])
    assert arrays["is_core"].dtype == np.bool_


def test_df(engine):
    frame = (
        relation(engine.ref("customers_assigned"))
        .order("cust_id")
        .project("cust_id", "segment_id")
        .df()
    )
    assert frame["cust_id"].tolist() == ["C1", "C2", "C4"]
    assert frame["segment_id"].tolist() == [1, 2, 1]
    assert frame["segment_id"].dtype == np.int64
    assert pd.api.types.is_string_dtype(frame["cust_id"])


def test_record_batches_stream_every_row_in_bounded_batches(engine):
    reader = (
        relation(engine.ref("customers_sampled"))
        .project("sample_rank", "balance_z")
        .record_batches(2)
    )
    assert isinstance(reader, pa.RecordBatchReader)
    assert reader.schema.names == ["sample_rank", "balance_z"]
    assert reader.schema.field("sample_rank").type == pa.int64()
    assert reader.schema.field("balance_z").type == pa.float64()
    batches = list(reader)
    assert all(batch.num_rows <= 2 for batch in batches)
    streamed = pa.Table.from_batches(batches, schema=reader.schema)
    assert sorted(zip(*streamed.to_pydict().values(), strict=True)) == [
        (1, 1.5),
        (2, 0.5),
        (3, 0.0),
        (4, -0.25),
        (5, -2.0),
    ]


def test_record_batches_of_no_rows_keep_the_schema(engine):
    reader = (
        relation(engine.ref("customers_sampled"))
        .filter("sample_rank > 99")
        .project("sample_rank")
        .record_batches(2)
    )
    assert reader.schema.names == ["sample_rank"]
    assert sum(batch.num_rows for batch in reader) == 0


def test_join_refuses_the_other_engine(duckdb_engine, spark_engine):
    with pytest.raises(TypeError, match="Spark"):
        relation(duckdb_engine.ref("cache")).join(spark_engine.ref("cache"), "x")


# -- the session ------------------------------------------------------------


def test_query(engine):
    table = engine.table_name("cache")
    rows = query(engine.session, f"select cache_key, cache_value from {table}")
    assert sorted(rows.fetchall()) == [("k1", 1.0), ("k1", 2.0), ("k2", 3.0)]


def test_no_rows_has_the_table_columns(engine):
    empty = relation(no_rows(engine.session, engine.table_name("cache")))
    assert empty.columns == ["cache_key", "cache_value"]
    assert empty.fetchall() == []


# -- the helpers the models share -------------------------------------------


def test_model_features_in_model_order(engine):
    assert model_features(engine.ref("feature_scaling")) == ["balance", "purchases"]


def test_sample_rows_sorted_by_customer(engine):
    rows = sample_rows(engine.ref("customers_sampled"), 3)
    assert rows.project("cust_id").fetchall() == [("C2",), ("C3",), ("C4",)]
    with pytest.raises(ValueError, match="at least 1"):
        sample_rows(engine.ref("customers_sampled"), 0)


def test_sample_matrix(engine):
    # ranks 1 to 3 are C4, C3, C2; rows in cust_id order
    matrix = sample_matrix(engine.ref("customers_sampled"), ["balance", "purchases"], 3)
    assert_array_equal(matrix, [[0.0, 0.75], [0.5, -1.0], [1.5, 0.0]])
    assert matrix.dtype == np.float64
    swapped = sample_matrix(
        engine.ref("customers_sampled"), ["purchases", "balance"], 99
    )
    assert_array_equal(
        swapped,
        [[2.0, -0.25], [0.75, 0.0], [-1.0, 0.5], [0.0, 1.5], [1.25, -2.0]],
    )


def test_feature_matrix_with_keys(engine):
    assigned = relation(engine.ref("customers_assigned")).project(
        "cust_id", "segment_id"
    )
    sample = relation(engine.ref("customers_sampled")).join(assigned, "cust_id")
    matrix, keys = feature_matrix(
        sample_rows(sample, 10), ["balance", "purchases"], ("cust_id", "segment_id")
    )
    assert_array_equal(matrix, [[-0.25, 2.0], [0.0, 0.75], [1.5, 0.0]])
    assert list(keys) == ["cust_id", "segment_id"]
    assert list(keys["cust_id"]) == ["C1", "C2", "C4"]
    assert_array_equal(keys["segment_id"], [1, 2, 1])


def test_feature_matrix_of_no_rows(engine):
    matrix, keys = feature_matrix(
        relation(engine.ref("customers_sampled")).filter("sample_rank > 99"),
        ["balance"],
        ("cust_id",),
    )
    assert matrix.shape == (0, 1)
    assert len(keys["cust_id"]) == 0


# -- reuse_if_stored --------------------------------------------------------


def test_reuse_if_stored_returns_no_rows_when_the_key_is_stored(engine):
    dbt = FakeDbt(is_incremental=True, this=engine.table_name("cache"))
    stored = reuse_if_stored(dbt, engine.session, "cache_key", "k1", "k1 reused")
    assert stored is not None
    assert relation(stored).columns == ["cache_key", "cache_value"]
    assert relation(stored).fetchall() == []


@pytest.mark.parametrize(
    ("is_incremental", "table", "column", "key"),
    [
        (False, "cache", "cache_key", "k1"),  # a first or full-refresh build
        (True, "cache", "cache_key", "k3"),  # another key
        (True, "cache", "cache_key", "k1' or 'a' = 'a"),  # quotes in the key
        (True, "no_such_table", "cache_key", "k1"),
        (True, "cache", "no_such_column", "k1"),  # a table from before the key
    ],
)
def test_reuse_if_stored_computes_otherwise(engine, is_incremental, table, column, key):
    dbt = FakeDbt(is_incremental=is_incremental, this=engine.table_name(table))
    assert reuse_if_stored(dbt, engine.session, column, key, "reused") is None


# -- what a model returns -----------------------------------------------------

FITTED_AT = dt.datetime(2026, 1, 2, 3, 4, 5, 123456)


def model_frame() -> pd.DataFrame:
    """A model's result with every column type the Python models return."""
    return pd.DataFrame(
        {
            "model_id": ["m1", "m1"],
            "k": np.array([2, 3], dtype=np.int64),
            "n_iter": np.array([7, 8], dtype=np.int32),
            "score": [0.5, np.nan],
            "is_chosen": [True, False],
            "fitted_at": [FITTED_AT, FITTED_AT],
            "segment_id": pd.array([1, None], dtype="Int64"),
            "status": pd.array(["kept", None], dtype="string"),
            # the other kinds of text column pandas has
            "persona_id": pd.array(["p1", None], dtype=pd.StringDtype("pyarrow")),
            "features": pd.Series(["a,b", None], dtype=object),
            "previous_model_id": [None, None],
        }
    )


# DuckDB's types of those columns, and the Spark types written for them
DUCKDB_TYPES = [
    "VARCHAR",
    "BIGINT",
    "INTEGER",
    "DOUBLE",
    "BOOLEAN",
    "TIMESTAMP",
    "BIGINT",
    "VARCHAR",
    "VARCHAR",
    "VARCHAR",
    '"NULL"',  # DuckDB's type of a column with no value
]
SPARK_TYPES = [
    "string",
    "bigint",
    "int",
    "double",
    "boolean",
    "timestamp",
    "bigint",
    "string",
    "string",
    "string",
    "string",
]
STORED_ROWS = [
    ("m1", 2, 7, 0.5, True, FITTED_AT, 1, "kept", "p1", "a,b", None),
    ("m1", 3, 8, None, False, FITTED_AT, None, None, None, None, None),
]


def test_model_output_on_duckdb_is_the_frame(duckdb_engine):
    frame = model_frame()
    assert model_output(duckdb_engine.session, frame) is frame
    labels = pa.table({"source_row_number": pa.array([3, 1], pa.int64())})
    assert model_output(duckdb_engine.session, labels) is labels
    con = duckdb_engine.session
    con.execute("create table model_result as select * from frame")
    types = [row[1] for row in con.execute("describe model_result").fetchall()]
    assert types == DUCKDB_TYPES
    assert con.execute("select * from model_result").fetchall() == STORED_ROWS


def test_model_output_on_spark_writes_duckdb_types(spark_engine):
    spark = spark_engine.session
    output = model_output(spark, model_frame())
    output.write.format("parquet").saveAsTable("facade.model_result")
    stored = spark.table("facade.model_result")
    assert [t for _, t in stored.dtypes] == SPARK_TYPES
    assert stored.columns == list(model_frame().columns)
    rows = sorted(tuple(row) for row in stored.collect())
    assert rows == STORED_ROWS


@pytest.mark.parametrize(
    "values",
    [[[1], [2]], [True, "a"], pd.Categorical(["a", "b"])],
    ids=["lists", "mixed", "categorical"],
)
def test_model_output_on_spark_refuses_other_types(spark_engine, values):
    with pytest.raises(TypeError, match="no Spark type"):
        model_output(spark_engine.session, pd.DataFrame({"x": values}))


def test_model_output_on_spark_takes_an_arrow_table(spark_engine):
    labels = pa.table(
        {
            "source_row_number": pa.array([3, 1], pa.int64()),
            "dbscan_label": pa.array([-1, 0], pa.int64()),
        }
    )
    output = model_output(spark_engine.session, labels)
    assert output.dtypes == [
        ("source_row_number", "bigint"),
        ("dbscan_label", "bigint"),
    ]
    assert sorted(tuple(row) for row in output.collect()) == [(1, 0), (3, -1)]
