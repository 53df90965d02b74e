"""Label new rows as DBSCAN labels a new point: by the fit's core samples.

The pipeline fits DBSCAN on a fixed-seed sample
(:mod:`cc_segmentation.segmentation.outliers`) and labels every other customer
with :class:`CoreSampleLabeller`, streamed in Arrow batches
(:func:`label_batches`): time linear in the rows, memory bounded by a batch.
Only numpy, pyarrow and scipy's k-d tree: this runs on every build, and
importing scikit-learn would add a second to each.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
from scipy.spatial import cKDTree

#: Approximation factors of the successive core-sample searches of
#: :class:`CoreSampleLabeller` (``cKDTree.query``'s ``eps``: the core found
#: is at most ``1 + factor`` times farther than the nearest one).  Each
#: search only takes the rows the previous one found no core within ``eps``
#: for; the last is exact, so the noise flag is exact.  Measured on 200,000
#: generated customers against 19,000 core samples: exact search alone
#: 16 us a row; this cascade 1 us (the first search settles 96.5 % of the
#: rows, the second half of the rest).
_SEARCH_APPROXIMATIONS = (1e6, 3.0, 0.0)


class CoreSampleLabeller:
    """Label new rows as DBSCAN labels a new point: by the core samples.

    A row within ``eps`` of a core sample joins that core sample's cluster;
    a row with no core sample within ``eps`` is noise (-1).  New rows never
    become core points themselves, so the clusters stay those of the fit.

    Parameters
    ----------
    core_samples : ndarray of shape (n_cores, n_features)
        The core points of a DBSCAN fit (may be empty: then every row is
        noise).
    core_labels : ndarray of shape (n_cores,)
        Their cluster labels.
    eps : float
        The fit's neighbourhood radius; a distance equal to ``eps`` is
        within it, as in scikit-learn.
    workers : int, default=2
        Threads of each ``cKDTree`` search (-1: every CPU).

    Notes
    -----
    The noise flag is exact.  The core samples are searched with a k-d
    tree in up to three passes (``_SEARCH_APPROXIMATIONS``): two
    approximate nearest-neighbour searches, which stop at the first core
    samples they meet and settle most rows cheaply, then an exact search
    for the rows they found nothing within ``eps`` for.  A row is therefore
    noise exactly when no core sample lies within ``eps``.  The cluster a
    non-noise row joins is that of a core sample within ``eps``, not
    necessarily the nearest one: where core samples of two clusters are both
    within ``eps``, either may be chosen -- as DBSCAN itself gives such a
    border point to whichever cluster reaches it first.  The result is
    deterministic.
    """

    def __init__(
        self,
        core_samples: np.ndarray,
        core_labels: np.ndarray,
        eps: float,
        *,
        workers: int = 2,
    ) -> None:
        core_samples = np.asarray(core_samples, dtype=np.float64)
        core_labels = np.asarray(core_labels)
        if core_samples.ndim != 2:
            raise ValueError(f"expected 2-D core samples, got {core_samples.shape}")
        if core_labels.shape != (core_samples.shape[0],):
            raise ValueError("expected one label per core sample")
        if not np.isfinite(core_samples).all():
            raise ValueError("the core samples have missing or infinite values")
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        if (core_labels < 0).any():
            raise ValueError("a core sample cannot be noise")
        self.n_features = core_samples.shape[1]
        self.eps = float(eps)
        self.workers = workers
        self._core_labels = core_labels.astype(np.int64)
        self._tree = cKDTree(core_samples) if core_samples.shape[0] else None

    def labels(self, rows: np.ndarray) -> np.ndarray:
        """Cluster label of each row, -1 for noise.

        Parameters
        ----------
        rows : ndarray of shape (n_rows, n_features)
            Standardized rows, in the fit's feature order; may be empty.

        Returns
        -------
        ndarray of int64, shape (n_rows,)
        """
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(
                f"expected rows of {self.n_features} features, got shape {rows.shape}"
            )
        if not np.isfinite(rows).all():
            raise ValueError("the standardized matrix has missing or infinite values")
        labels = np.full(rows.shape[0], -1, dtype=np.int64)
        if self._tree is None:
            return labels
        # cKDTree only returns neighbours strictly closer than its bound
        bound = np.nextafter(self.eps, np.inf)
        pending = np.arange(rows.shape[0])
        for approximation in _SEARCH_APPROXIMATIONS:
            if pending.size == 0:
                break
            distance, core = self._tree.query(
                rows[pending],
                k=1,
                eps=approximation,
                distance_upper_bound=bound,
                workers=self.workers,
            )
            found = distance <= self.eps
            labels[pending[found]] = self._core_labels[core[found]]
            pending = pending[~found]
        return labels


def label_batches(
    labeller: CoreSampleLabeller,
    batches: pa.RecordBatchReader | Iterable[pa.RecordBatch],
    *,
    key: str,
    columns: list[str],
    schema: pa.Schema | None = None,
) -> pa.Table:
    """Label streamed rows with a :class:`CoreSampleLabeller`.

    Only one batch of features is in memory at a time; the result holds a
    key and a label per row.

    Parameters
    ----------
    labeller : CoreSampleLabeller
    batches : RecordBatchReader or iterable of RecordBatch
        Each batch has the ``key`` column and the ``columns``.
    key : str
        Column that identifies a row, returned as it is.
    columns : list of str
        Standardized feature columns, in the labeller's feature order.
    schema : Schema, optional
        The batches' schema, for the key's type when there are no batches
        (default: ``batches.schema``; required when ``batches`` is an
        iterable, which has none).

    Returns
    -------
    pyarrow.Table
        ``key`` and ``dbscan_label`` (int64, -1 for noise), in the order of
        the batches.
    """
    if schema is None:
        # A plain iterable of batches has no schema to default to
        if not isinstance(batches, pa.RecordBatchReader):
            raise TypeError("label_batches needs a schema for an iterable of batches")
        schema = batches.schema
    keys, labels = [], []
    for batch in batches:
        rows = np.column_stack(
            [batch.column(name).to_numpy(zero_copy_only=False) for name in columns]
        ).reshape(batch.num_rows, len(columns))
        keys.append(batch.column(key))
        labels.append(pa.array(labeller.labels(rows), type=pa.int64()))
    return pa.table(
        {
            key: pa.chunked_array(keys, type=schema.field(key).type),
            "dbscan_label": pa.chunked_array(labels, type=pa.int64()),
        }
    )
