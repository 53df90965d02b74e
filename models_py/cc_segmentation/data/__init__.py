"""The data layer: a synthetic sample with the real file's shape.

``sample`` writes a deterministic credit-card sample of any size
(``cc-segmentation sample``); ``calibration`` computes, from the real
third-party file, the aggregate statistics it needs
(``sample_calibration.json``, shipped beside them;
``cc-segmentation calibrate``).  ``shift`` makes a copy of a raw file
with some customers' measure multiplied: a portfolio that moved, for the
drift demonstration and tests.

May import the package root, numpy, pandas, pyarrow and scipy; not
``segmentation``, ``build`` or ``apps``.
"""
