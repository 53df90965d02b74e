"""The pipeline layer: the pure functions behind the dbt Python models.

Fitting (``kmeans``, ``selection``, ``projection``), outliers (``outliers``,
``core_samples``), segment identity and personas (``identity``,
``personas``), and the few helpers that read dbt relations
(``warehouse``).  Each function takes and returns plain data (numpy, pandas,
Arrow) and is unit-tested on toy data.

The dbt Python models under ``dbt_project/models`` import only this layer
and the package root's ``import_lock``.  It may import the package root
(``cc_segmentation``), numpy, pandas, pyarrow, scipy, scikit-learn and dbt's
adapter logger; never ``apps``, ``build`` or ``data``, nor Streamlit or
matplotlib (``tests/test_layers.py`` checks this).
"""
