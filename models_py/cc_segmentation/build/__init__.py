"""The build layer: run ``dbt build`` into a private warehouse and publish it.

:mod:`~cc_segmentation.build.runner` takes the build lock and runs dbt in
process (``dbtRunner``); :mod:`~cc_segmentation.build.publish` checks and
renames the warehouse file and its exports.  ``python -m cc_segmentation.build``
is the same as ``cc-segmentation build``.

May import: the package root (``cc_segmentation``), duckdb and dbt.  The
pipeline (:mod:`cc_segmentation.segmentation`) is imported by dbt's Python
models, never by this layer; nothing here imports ``apps`` or ``data``.
"""
