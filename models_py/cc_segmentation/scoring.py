"""Score new customers with a built warehouse, without rebuilding it.

The warehouse's ``scoring_query`` table holds the pipeline's own scoring
SQL (validation checks, imputation, standardization, nearest centroid: the
same dbt macros, compiled against the fitted tables).  :func:`score` runs it
on a DataFrame in a private in-memory DuckDB session that attaches the
warehouse read-only, so it never blocks a build.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from cc_segmentation import RAW_COLUMNS


def score(warehouse: str | Path, customers: pd.DataFrame) -> pd.DataFrame:
    """Segment ``customers`` with the model stored in ``warehouse``.

    Parameters
    ----------
    warehouse : path
        A built warehouse (``warehouse/segmentation.duckdb``).
    customers : DataFrame
        The raw file's 18 columns (``CUST_ID`` and the 17 measures, any
        case, values as numbers or text); other columns are ignored.

    Returns
    -------
    DataFrame
        One row per input row, in input order: ``rejection_reason`` (NULL
        when scored), segment, distances, probabilities, the three reasons
        and the CRM action.

    Raises
    ------
    ValueError
        When a required column is missing (all missing ones are named).
    """
    by_upper = {str(c).strip().upper(): c for c in customers.columns}
    missing = [c for c in RAW_COLUMNS if c not in by_upper]
    if missing:
        raise ValueError(f"missing columns: {', '.join(missing)}")
    frame = customers[[by_upper[c] for c in RAW_COLUMNS]].astype("string")
    frame.columns = [c.lower() for c in RAW_COLUMNS]
    with duckdb.connect() as con:
        path = str(Path(warehouse)).replace("'", "''")
        con.execute(f"attach '{path}' as warehouse (read_only)")
        rows = con.execute("select query from warehouse.main.scoring_query").fetchall()
        con.register("scoring_frame", frame)
        con.execute("create temp table scoring_input as select * from scoring_frame")
        return con.execute(rows[0][0]).df()
