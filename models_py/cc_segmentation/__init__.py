"""Pure functions behind the credit-card segmentation pipeline.

The dbt Python models under ``dbt_project/models`` are thin shells over the
functions in this package; everything here is importable and unit-tested on
toy data.
"""

import threading
from os import PathLike

#: Held by the dbt Python models while they import the modules that need
#: scikit-learn or scipy.  dbt runs models in threads (``threads: 2``), and
#: two threads that import scikit-learn for the first time at once can fail
#: on its circular imports ("cannot import name ... from partially
#: initialized module").  The models import those modules only when they
#: compute, so a build that reuses its stored fits imports no scikit-learn.
import_lock = threading.Lock()


def sql_literal(text: str | PathLike[str]) -> str:
    """``text`` as a SQL string literal: quoted, its quotes doubled.

    For the places DuckDB takes no parameter (ATTACH, a table function's
    path); the dbt macro of the same name does this in SQL.
    """
    return "'" + str(text).replace("'", "''") + "'"


RAW_COLUMNS = (
    "CUST_ID",
    "BALANCE",
    "BALANCE_FREQUENCY",
    "PURCHASES",
    "ONEOFF_PURCHASES",
    "INSTALLMENTS_PURCHASES",
    "CASH_ADVANCE",
    "PURCHASES_FREQUENCY",
    "ONEOFF_PURCHASES_FREQUENCY",
    "PURCHASES_INSTALLMENTS_FREQUENCY",
    "CASH_ADVANCE_FREQUENCY",
    "CASH_ADVANCE_TRX",
    "PURCHASES_TRX",
    "CREDIT_LIMIT",
    "PAYMENTS",
    "MINIMUM_PAYMENTS",
    "PRC_FULL_PAYMENT",
    "TENURE",
)
