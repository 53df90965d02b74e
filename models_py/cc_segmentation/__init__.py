"""Credit-card customer segmentation with dbt, DuckDB and scikit-learn.

The package is in layers, one folder a concern:

- :mod:`cc_segmentation.segmentation`: the pure functions behind the
  pipeline; the dbt Python models under ``dbt_project/models`` are thin
  shells over them and import nothing else;
- :mod:`cc_segmentation.publishing`: ``dbt build`` into a private warehouse,
  published atomically;
- :mod:`cc_segmentation.apps`: the dashboard, the PNG reports and scoring
  of uploaded customers, over the published warehouse;
- :mod:`cc_segmentation.data`: the synthetic sample and its calibration.

This root holds only what every layer shares (the raw columns, a SQL
literal, the import lock) and the ``cc-segmentation`` command
(:mod:`cc_segmentation.cli`).  Its import is cheap: it imports no layer.
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
