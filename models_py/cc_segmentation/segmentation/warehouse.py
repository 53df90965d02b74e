"""What the dbt Python models share: bounded reads of the warehouse, and the log.

A Python model never pulls a whole customer table into Python.  It reads a
fixed-seed sample (``int_customers_sampled``) as a float matrix, or small
fit-state tables, or streams float columns in Arrow batches.
"""

from __future__ import annotations

from typing import Protocol

import duckdb
import numpy as np
from dbt.adapters.events.logging import AdapterLogger

from cc_segmentation import sql_literal

_LOGGER = AdapterLogger("cc_segmentation")


def log(message: str) -> None:
    """Write ``message`` to dbt's log (console and ``logs/dbt.log``)."""
    _LOGGER.info(message)


def feature_matrix(
    rows: duckdb.DuckDBPyRelation, features: list[str], keys: tuple[str, ...] = ()
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Fetch ``rows``' standardized features as a float matrix, and ``keys``.

    Parameters
    ----------
    rows : DuckDBPyRelation
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
    arrays = rows.project(
        ", ".join(f'"{name}"' for name in [*keys, *columns])
    ).fetchnumpy()
    matrix = np.column_stack(
        [np.asarray(arrays[name], dtype=np.float64) for name in columns]
    )
    return matrix, {name: np.asarray(arrays[name]) for name in keys}


def sample_rows(
    sampled: duckdb.DuckDBPyRelation, max_rows: int
) -> duckdb.DuckDBPyRelation:
    """The first ``max_rows`` customers of the fixed-seed sample.

    Parameters
    ----------
    sampled : DuckDBPyRelation
        ``int_customers_sampled`` (``sample_rank``, ``cust_id``), or a join
        of it with more columns.
    max_rows : int
        Sample size; every customer when there are no more than this.

    Returns
    -------
    DuckDBPyRelation
        Rows sorted by ``cust_id``, so that neither file order nor sample
        order can change a fit.
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    return sampled.filter(f"sample_rank <= {int(max_rows)}").order("cust_id")


def sample_matrix(
    sampled: duckdb.DuckDBPyRelation, features: list[str], max_rows: int
) -> np.ndarray:
    """:func:`sample_rows` as a matrix of the ``<feature>_z`` columns.

    Returns
    -------
    ndarray of shape (n_rows, len(features))
        Rows sorted by ``cust_id``.
    """
    matrix, _ = feature_matrix(sample_rows(sampled, max_rows), features)
    return matrix


def model_features(feature_scaling: duckdb.DuckDBPyRelation) -> list[str]:
    """Model feature names in model order, from the ``feature_scaling`` table."""
    rows = feature_scaling.order("feature_position").project("feature_name").fetchall()
    return [name for (name,) in rows]


class DbtModelContext(Protocol):
    """What :func:`reuse_if_stored` reads of a dbt Python model's ``dbt``."""

    @property
    def is_incremental(self) -> bool: ...

    @property
    def this(self) -> object: ...  # the model's relation; str() is its name


def reuse_if_stored(
    dbt: DbtModelContext,
    session: duckdb.DuckDBPyConnection,
    column: str,
    key: str,
    message: str,
) -> duckdb.DuckDBPyRelation | None:
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
    session : DuckDBPyConnection
        The dbt Python model's session.
    column, key : str
        Key column and the current key.
    message : str
        Logged when the stored rows are reused, so the build says so.

    Returns
    -------
    DuckDBPyRelation or None
        An empty relation with the table's columns when ``key`` is stored;
        None on a first or full-refresh build, or when it is not stored (or
        the stored table predates the key column: dbt's ``on_schema_change``
        then reports it), and the model computes.
    """
    if not dbt.is_incremental:
        return None
    table = dbt.this
    query = f"select * from {table} where {column} = {sql_literal(key)}"
    try:
        # fetchall, not fetchone: DuckDB 2.0 keeps an unfetched result open
        ((found,),) = session.execute(f"select count(*) from ({query})").fetchall()
    except duckdb.Error:
        return None
    if not found:
        return None
    log(message)
    return session.sql(f"select * from {table} where false")
