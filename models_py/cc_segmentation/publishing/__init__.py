"""The publishing layer: run ``dbt build`` into a private warehouse and publish it.

:mod:`~cc_segmentation.publishing.runner` takes the build lock and runs dbt in
process (``dbtRunner``); :mod:`~cc_segmentation.publishing.publish` checks and
renames the warehouse file and its exports.  ``cc-segmentation build`` (or
``python -m cc_segmentation build``) runs it.  Not called ``build``: tools and
common ``.gitignore`` templates take a folder of that name for build output.

May import: the package root (``cc_segmentation``), duckdb and dbt.  The
pipeline (:mod:`cc_segmentation.segmentation`) is imported by dbt's Python
models, never by this layer; nothing here imports ``apps`` or ``data``.
"""
