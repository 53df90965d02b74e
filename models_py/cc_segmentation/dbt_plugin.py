"""A dbt-duckdb plugin that imports scikit-learn before any model runs.

dbt runs Python models in threads (``threads: 2``), and two threads that
import scikit-learn for the first time at once can fail on its circular
imports ("cannot import name ... from partially initialized module").
dbt-duckdb loads the profile's ``plugins`` once, when it opens the first
connection and before any Python model starts, so importing scikit-learn
here makes every later import a dictionary lookup.
"""

import sklearn.cluster  # noqa: F401
import sklearn.decomposition  # noqa: F401
import sklearn.metrics  # noqa: F401
import sklearn.neighbors  # noqa: F401
from dbt.adapters.duckdb.plugins import BasePlugin


class Plugin(BasePlugin):
    """Nothing to configure: importing this module is the whole job."""
