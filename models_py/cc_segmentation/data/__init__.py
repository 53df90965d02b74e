"""The data layer: a synthetic sample with the real file's shape.

``sample`` writes a deterministic credit-card sample of any size
(``python -m cc_segmentation.data.sample``); ``calibration`` computes, from the real
third-party file, the aggregate statistics it needs
(``sample_calibration.json``, shipped beside them;
``python -m cc_segmentation.data.calibration``).

May import the package root, numpy, pandas, pyarrow and scipy; not
``segmentation``, ``build`` or ``apps``.
"""
