"""Flag outlying customers as DBSCAN noise on the standardized matrix.

DBSCAN calls a row a *core point* when at least ``min_samples`` rows,
counting the row itself, lie within ``eps`` of it (``sklearn`` counts
distances equal to ``eps`` as inside).  Core points within ``eps`` of one
another form clusters; a non-core row within ``eps`` of a core point joins
a cluster (a *border point*); every other row is *noise* (label -1), and
noise is the outlier flag.

DBSCAN holds every row's neighbourhood in memory and compares every pair of
rows, so the pipeline runs it on a fixed-seed sample of customers
(:func:`dbscan_outliers`: all of them on small files) and labels every
other customer as DBSCAN labels a new point, by the core samples within
``eps`` (:mod:`cc_segmentation.segmentation.core_samples`): in time linear in the rows,
streamed in batches.

Conventions
-----------
``k`` and ``min_samples``
    The k-distance of a row is the distance to its ``k``-th nearest
    neighbour **other than itself**.  Since ``min_samples`` counts the row
    itself, a row is a core point exactly when its k-distance with
    ``k = min_samples - 1`` is at most ``eps``; the k-distance of a row is
    the smallest ``eps`` that makes it a core point.  :func:`choose_eps`
    uses this ``k``.
eps
    The value of the sorted k-distance curve at its knee
    (:func:`knee_of_curve`): to the left of the knee the curve is flat
    (rows in dense regions), to the right it rises steeply (rows far from
    everyone), so the knee separates dense rows from sparse ones.

All functions are pure: the same inputs (and ``random_state``) give the
same output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import DBSCAN
from sklearn.neighbors import NearestNeighbors

#: Largest distance below the chord, in the unit square, that still counts
#: as "on the chord"; absorbs rounding on straight lines.
_NO_KNEE_TOLERANCE = 1e-12
# choose_eps's answer when the knee is at distance 0 (DBSCAN needs eps > 0):
# in z units, far below any real difference between customers, and above
# the rounding of distances between duplicates (scikit-learn's brute-force
# euclidean distance is not exactly 0 for equal rows).
_SMALLEST_EPS = 1e-6


@dataclass(frozen=True)
class DbscanResult:
    """DBSCAN labels of the rows it was fitted on, and its settings.

    Attributes
    ----------
    labels : ndarray of shape (n_rows,)
        Cluster label of every row, 0, 1, ...; -1 for noise.
    is_noise : ndarray of shape (n_rows,)
        ``labels == -1``: the outlier flag.
    is_core : ndarray of shape (n_rows,)
        The row is a core point.
    eps : float
        Neighbourhood radius used, in the matrix's (standardized) units.
    min_samples : int
        Rows, including the row itself, needed within ``eps`` for a core
        point.
    """

    labels: np.ndarray
    is_noise: np.ndarray
    is_core: np.ndarray
    eps: float
    min_samples: int


def _check_matrix(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        raise ValueError(f"expected a non-empty 2-D matrix, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("the standardized matrix has missing or infinite values")
    return matrix


def _sample_rows(n_rows: int, max_rows: int, random_state: int) -> np.ndarray:
    """Indices of ``max_rows`` of ``n_rows`` rows drawn without replacement,
    ascending (so that the sample keeps the rows' order), or all rows when
    there are no more than ``max_rows``."""
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    if n_rows <= max_rows:
        return np.arange(n_rows)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False))


def k_distances(
    matrix: np.ndarray, k: int, *, rows: np.ndarray | None = None
) -> np.ndarray:
    """Distance of each row to its k-th nearest other row, sorted ascending.

    Plotted against its rank this is the k-distance curve used to choose
    DBSCAN's ``eps``.

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
    k : int
        Which neighbour, 1 <= k < n_rows.  The row itself is never counted:
        ``k=1`` is the distance to the nearest *other* row.  A duplicate of
        the row is another row, at distance 0.
    rows : ndarray of int, optional
        Indices of the rows whose k-distance is wanted (default: all).
        Their neighbours are still searched among *all* rows, so each value
        is the row's k-distance in the full matrix.

    Returns
    -------
    ndarray of shape (len(rows),)
        Euclidean k-distances, ascending.

    Notes
    -----
    Querying the rows a :class:`~sklearn.neighbors.NearestNeighbors` was
    fitted on returns each row among its own neighbours, at distance 0 and
    normally first.  We therefore ask for ``k + 1`` neighbours and drop the
    row itself by *index*, not by position (with duplicate rows it need not
    come first).  If it is missing from the ``k + 1`` returned, at least
    ``k + 1`` other rows sit at distance 0 and the answer is 0.  This is
    what ``kneighbors()`` without ``X`` does for the full matrix; doing it
    here also covers ``rows``.
    """
    matrix = _check_matrix(matrix)
    n_rows = matrix.shape[0]
    if not 1 <= k < n_rows:
        raise ValueError(
            f"k must be between 1 and the number of rows - 1 ({n_rows - 1}), got {k}"
        )
    rows = np.arange(n_rows) if rows is None else np.asarray(rows, dtype=np.intp)
    neighbours = NearestNeighbors(n_neighbors=k + 1).fit(matrix)
    distances, indices = neighbours.kneighbors(matrix[rows])
    has_self = (indices == rows[:, None]).any(axis=1)
    # With itself among the k + 1, the k-th other row is the last column;
    # without it, the last two columns are both 0.
    kth = np.where(has_self, distances[:, k], distances[:, k - 1])
    return np.sort(kth)


def knee_of_curve(values: np.ndarray) -> int:
    """Index of the knee of an ascending, convex curve (the Kneedle idea).

    Both axes are scaled to [0, 1] -- the index ``i`` to ``i / (n - 1)``,
    the values to ``(v - v[0]) / (v[-1] - v[0])`` -- so that the chord from
    the first to the last point is the diagonal ``y = x``.  The knee is the
    point furthest *below* that chord, i.e. with the largest perpendicular
    distance ``(x - y) / sqrt(2)``, the point where the curve turns from
    flat to steep (Satopää et al., 2011, "Finding a 'Kneedle' in a
    haystack", without their smoothing).  Ties go to the smallest index.

    Parameters
    ----------
    values : ndarray of shape (n,)
        Ascending values, for example :func:`k_distances`.

    Returns
    -------
    int
        Index of the knee.  A curve with no point strictly below its chord
        -- a straight line, a constant, a concave curve, fewer than three
        points -- has no knee; the last index is returned then, which makes
        :func:`choose_eps` pick the largest k-distance, so that every row
        is a core point and nothing is flagged: without a bend, no row
        stands out as sparse.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"expected a non-empty 1-D curve, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("the curve has missing or infinite values")
    if (np.diff(values) < 0).any():
        raise ValueError("the curve must be sorted ascending")
    last = values.size - 1
    rise = values[-1] - values[0]
    if last < 2 or rise == 0:
        return last
    x = np.arange(values.size) / last
    y = (values - values[0]) / rise
    below_chord = x - y
    knee = int(np.argmax(below_chord))
    if below_chord[knee] <= _NO_KNEE_TOLERANCE:
        return last
    return knee


def choose_eps(
    matrix: np.ndarray,
    min_samples: int,
    *,
    max_rows: int = 20_000,
    random_state: int = 0,
) -> float:
    """DBSCAN ``eps`` at the knee of the k-distance curve.

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
        Standardized features.
    min_samples : int
        DBSCAN's ``min_samples``, counting the row itself, >= 2.  The curve
        uses ``k = min_samples - 1`` other rows, so that a row is a core
        point exactly when its k-distance is at most ``eps``.
    max_rows : int, default=20_000
        Above this many rows the curve is drawn for a sample of
        ``max_rows`` rows chosen without replacement with ``random_state``.
        Their neighbours are still searched among all rows: a sample's
        *own* k-distances would be longer than the full data's (a sample is
        sparser), while this way the curve is a thinned-out copy of the
        full one.
    random_state : int, default=0
        Seed of the sample.

    Returns
    -------
    float
        The k-distance at :func:`knee_of_curve` of the curve, or 1e-6
        when that is 0 (see the code).
    """
    matrix = _check_matrix(matrix)
    n_rows = matrix.shape[0]
    if not 2 <= min_samples <= n_rows:
        raise ValueError(
            f"min_samples must be between 2 and the number of rows ({n_rows}), "
            f"got {min_samples}"
        )
    rows = _sample_rows(n_rows, max_rows, random_state)
    curve = k_distances(matrix, min_samples - 1, rows=rows)
    # A knee at 0: most rows have min_samples - 1 exact duplicates.  They
    # are core points at any positive eps, so a tiny one is taken: DBSCAN
    # needs eps > 0, and a row that is not such a duplicate is noise unless
    # it is a duplicate of a core point.
    return max(float(curve[knee_of_curve(curve)]), _SMALLEST_EPS)


def dbscan_outliers(
    matrix: np.ndarray,
    *,
    min_samples: int | None = None,
    eps: float | None = None,
) -> DbscanResult:
    """Label every row with DBSCAN; noise (-1) flags outlying customers.

    The labels are exactly those of
    ``sklearn.cluster.DBSCAN(eps=eps, min_samples=min_samples)`` fitted on
    the matrix.

    Parameters
    ----------
    matrix : ndarray of shape (n_rows, n_features)
        Standardized features, rows in a fixed order (DBSCAN's labels of
        border points depend on row order): all customers, or a fixed-seed
        sample of them.
    min_samples : int, optional
        Rows within ``eps``, counting the row itself, that make a core
        point.  Default ``2 * n_features``, the usual rule of thumb (Sander
        et al., 1998; Schubert et al., 2017).
    eps : float, optional
        Neighbourhood radius.  Default :func:`choose_eps` on the matrix, so
        that it matches the density of the rows DBSCAN runs on: on a
        sample, "dense" means dense at the sample's density.

    Returns
    -------
    DbscanResult

    Notes
    -----
    With 17 features scikit-learn searches neighbours by brute force, in
    time quadratic in the rows, and DBSCAN holds every row's neighbourhood
    in memory: on generated customers, 20,000 rows take about 3 s, 100,000
    rows more than 8 GB.  Label the other customers with
    :class:`~cc_segmentation.segmentation.core_samples.CoreSampleLabeller`.
    """
    matrix = _check_matrix(matrix)
    n_features = matrix.shape[1]
    if min_samples is None:
        min_samples = 2 * n_features
    if min_samples < 1:
        raise ValueError(f"min_samples must be at least 1, got {min_samples}")
    if eps is None:
        eps = choose_eps(matrix, min_samples)
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")

    dbscan = DBSCAN(eps=eps, min_samples=min_samples).fit(matrix)
    is_core = np.zeros(matrix.shape[0], dtype=bool)
    is_core[dbscan.core_sample_indices_] = True
    return DbscanResult(
        labels=dbscan.labels_,
        is_noise=dbscan.labels_ == -1,
        is_core=is_core,
        eps=float(eps),
        min_samples=int(min_samples),
    )
