"""Deterministic, streaming generator of realistic credit-card sample data.

The real ``cc_general.csv`` is third-party data that must not be copied into
the project, so development, CI and benchmarks at scale use a synthetic file
with the same header, types and statistical shape.

Method
------
A Gaussian copula calibrated on the real file (``sample_calibration.json``,
produced by :mod:`cc_segmentation.data.calibration`), followed by the real file's
logical rules:

1. draw standard normals and correlate them with the Cholesky factor of the
   stored latent correlation matrix of the 17 measures (fitted by simulation
   so that the *generated* Spearman matrix matches the real one);
2. map each latent normal to a uniform with the normal CDF and then through
   its measure's empirical quantile function (linear interpolation on the
   stored grid; nearest grid knot for ``CREDIT_LIMIT``, whose values are round
   figures; the probability mass function for ``TENURE``).  Zero inflation
   comes from the stored zero share: uniforms below it give exactly 0;
3. columns that are zero exactly when an amount is zero (frequencies and
   transaction counts, see :data:`DRIVERS`) are 0 when their driver is 0 and
   otherwise drawn from the positive part of their quantile function with
   their latent's CDF *conditional on a positive driver*, which keeps both
   their real distribution and their rank dependence;
4. the remaining structure (:func:`_apply_structure`):
   ``PURCHASES = ONEOFF_PURCHASES + INSTALLMENTS_PURCHASES`` (amounts in whole
   cents, other money rounded to 6 decimals); frequencies are ``k / TENURE``
   in [0, 1] (``BALANCE_FREQUENCY`` is ``k / 11`` at tenure 12, as in the real
   file); purchase months are ``max(one-off months, instalment months)`` plus
   a calibrated excess, so ``PURCHASES_FREQUENCY >=
   max(ONEOFF_PURCHASES_FREQUENCY, PURCHASES_INSTALLMENTS_FREQUENCY)``; a
   transaction count is at least the number of active months;
   ``PRC_FULL_PAYMENT`` is 0 without payments; ``MINIMUM_PAYMENTS`` is missing
   whenever ``PAYMENTS`` is 0 plus a small calibrated share of the others.

Determinism
-----------
Rows are generated in fixed internal blocks of :data:`BLOCK_ROWS` rows.  Block
``b`` draws all its randomness in one call from a generator seeded with
``SeedSequence(seed, spawn_key=(b,))`` (the ``b``-th child of
``SeedSequence(seed)``).  Hence row ``i`` depends only on ``seed`` and ``i``:
the output is identical for every ``chunk_size`` and a shorter sample is a
prefix of a longer one with the same seed.  ``chunk_size`` only groups rows
into DataFrames (and into Parquet row groups), so CSV output is byte-identical
for any ``chunk_size``; Parquet output has identical content and is
byte-identical for the same ``chunk_size``.

Usage::

    cc-segmentation sample --rows 8950 --seed 42 \\
        --out warehouse/raw/cc_general_sample.csv
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from scipy.special import ndtr

from cc_segmentation import RAW_COLUMNS

MEASURES = RAW_COLUMNS[1:]

#: Rows per internal random block.  Part of the output definition: changing it
#: changes the sample produced by a given seed.
BLOCK_ROWS = 65_536

#: First customer number; the real file's identifiers start at ``C10001``.
FIRST_CUSTOMER_NUMBER = 10_001

_INT_COLUMNS = ("CASH_ADVANCE_TRX", "PURCHASES_TRX", "TENURE")

SCHEMA = pa.schema(
    [pa.field("CUST_ID", pa.string(), nullable=False)]
    + [
        pa.field(
            col,
            pa.int64() if col in _INT_COLUMNS else pa.float64(),
            nullable=col == "MINIMUM_PAYMENTS",
        )
        for col in MEASURES
    ]
)

_CALIBRATION_FILE = "sample_calibration.json"

#: Columns that are zero exactly when their driver amount is zero (true of
#: all but a handful of rows of the real file), mapped to the amounts that
#: drive them (``PURCHASES`` is positive when either of its parts is).  Their
#: positive part is drawn conditionally on the driver being positive, see
#: ``_Model.dependent`` (for ``PURCHASES_FREQUENCY``, only its latent is used,
#: to draw the excess purchase months).
DRIVERS = {
    "BALANCE_FREQUENCY": ("BALANCE",),
    "ONEOFF_PURCHASES_FREQUENCY": ("ONEOFF_PURCHASES",),
    "PURCHASES_INSTALLMENTS_FREQUENCY": ("INSTALLMENTS_PURCHASES",),
    "PURCHASES_FREQUENCY": ("ONEOFF_PURCHASES", "INSTALLMENTS_PURCHASES"),
    "PURCHASES_TRX": ("ONEOFF_PURCHASES", "INSTALLMENTS_PURCHASES"),
    "CASH_ADVANCE_FREQUENCY": ("CASH_ADVANCE",),
    "CASH_ADVANCE_TRX": ("CASH_ADVANCE",),
}

# Latent values at which the conditional CDFs are tabulated, and the size and
# fixed seed of the simulation that estimates them (``_conditional_cdfs``).
_Z_GRID = np.linspace(-6.0, 6.0, 1201)
_CONDITIONAL_DRAWS = 1 << 18
_CONDITIONAL_SEED = 20_240_601


# --------------------------------------------------------------------------
# Calibration model
# --------------------------------------------------------------------------


class _Model:
    """Calibration statistics prepared for fast vectorised sampling."""

    def __init__(self, calibration: dict[str, Any]) -> None:
        if tuple(calibration["columns"]) != MEASURES:
            raise ValueError("calibration columns do not match RAW_COLUMNS")
        self.probs = np.asarray(calibration["probabilities"], dtype=float)
        # Midpoints of the grid, to look up step columns at the nearest knot
        # (unbiased to within half a grid step, unlike always rounding up).
        self.prob_mids = (self.probs[:-1] + self.probs[1:]) / 2
        marg = calibration["marginals"]
        self.quantiles = {
            c: np.asarray(marg[c]["quantiles"], dtype=float) for c in MEASURES
        }
        self.method = {c: marg[c]["method"] for c in MEASURES}
        self.zero_share = {c: float(marg[c]["zero_share"]) for c in MEASURES}
        self.min_positive = {c: float(marg[c]["min_positive"]) for c in MEASURES}
        for c, q in self.quantiles.items():
            if q.shape != self.probs.shape or np.any(np.diff(q) < 0):
                raise ValueError(f"bad quantile grid for {c}")

        pmf = calibration["tenure_pmf"]
        self.tenure_values = np.array(sorted(int(k) for k in pmf), dtype=np.int64)
        weights = np.array([float(pmf[str(v)]) for v in self.tenure_values])
        self.tenure_cdf = np.cumsum(weights / weights.sum())
        self.mp_missing_extra = float(
            calibration["minimum_payments_missing_given_payments_positive"]
        )

        # Prefer the latent matrix fitted by simulation (it undoes the
        # attenuation that ties at zero cause); fall back to the raw
        # normal-scores estimate.
        corr = calibration.get("latent_correlation", calibration["correlation"])
        corr = _nearest_correlation(np.asarray(corr, dtype=float))
        self.chol = np.linalg.cholesky(corr)
        self.conditional_cdf = _conditional_cdfs(self.chol, self.zero_share)
        self.extra_months_cdf = {
            group: np.cumsum(pmf) / np.sum(pmf)
            for group, pmf in calibration["purchase_extra_months_pmf"].items()
        }

    def marginal(self, col: str, u: np.ndarray) -> np.ndarray:
        """Map uniforms ``u`` through the empirical quantile function of ``col``."""
        q = self.quantiles[col]
        if self.method[col] == "step":
            values = q[np.searchsorted(self.prob_mids, u)]
        else:
            values = np.interp(u, self.probs, q)
        p0 = self.zero_share[col]
        if p0 > 0:
            # The grid only brackets the zero share to within a step, so set the
            # atom at 0 exactly and keep the positive part at or above the
            # smallest real positive value (no interpolated near-zero ramp).
            values = np.where(u < p0, 0.0, np.maximum(values, self.min_positive[col]))
        return values

    def dependent(self, col: str, z: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Values of a ``DRIVERS`` column given its latent normal and its driver.

        Mapping ``Phi(z)`` through the full quantile function would put some
        rows with a positive driver below the zero share (and vice versa); once
        forced positive they would pile up on the smallest positive value.
        Instead ``z`` becomes a uniform through its CDF *conditional on the
        driver being positive*, which is mapped through the positive part of
        the quantile function: the positive part keeps the real distribution
        and the rank dependence on the driver is preserved.
        """
        p0 = self.zero_share[col]
        values = self.marginal(col, p0 + (1.0 - p0) * self.conditional_uniform(col, z))
        return np.where(active, np.maximum(values, self.min_positive[col]), 0.0)

    def conditional_uniform(self, col: str, z: np.ndarray) -> np.ndarray:
        """Uniform on (0, 1) given a positive driver: ``P(Z <= z | driver > 0)``."""
        return np.interp(z, _Z_GRID, self.conditional_cdf[col])

    def extra_months(self, group: str, v: np.ndarray) -> np.ndarray:
        """Inverse CDF of the calibrated extra purchase months of ``group``."""
        cdf = self.extra_months_cdf[group]
        return np.minimum(np.searchsorted(cdf, v, side="right"), len(cdf) - 1)


def _conditional_cdfs(
    chol: np.ndarray, zero_share: dict[str, float]
) -> dict[str, np.ndarray]:
    """Tabulate each ``DRIVERS`` column's latent CDF given a positive driver.

    ``P(Z_d <= x | driver > 0)`` on ``_Z_GRID``, estimated from a fixed-seed
    simulation of the latent Gaussian vector (the condition for ``PURCHASES``,
    either part positive, has no convenient closed form).  With
    ``_CONDITIONAL_DRAWS`` draws the error is a few thousandths, far below the
    1/12 resolution of the frequencies and counts it shapes.
    """
    rng = np.random.default_rng(_CONDITIONAL_SEED)
    latent = rng.standard_normal((_CONDITIONAL_DRAWS, len(MEASURES))) @ chol.T
    index = {c: i for i, c in enumerate(MEASURES)}
    cdfs = {}
    for dep, drivers in DRIVERS.items():
        active = np.zeros(len(latent), dtype=bool)
        for drv in drivers:
            active |= ndtr(latent[:, index[drv]]) >= zero_share[drv]
        values = np.sort(latent[active, index[dep]])
        cdfs[dep] = np.searchsorted(values, _Z_GRID, side="right") / len(values)
    return cdfs


def _nearest_correlation(corr: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    """Clip eigenvalues so a pairwise-complete estimate is positive definite."""
    corr = (corr + corr.T) / 2
    w, v = np.linalg.eigh(corr)
    if w.min() >= floor:
        return corr
    fixed = (v * np.maximum(w, floor)) @ v.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


def load_calibration(path: str | Path | None = None) -> dict[str, Any]:
    """Load generator calibration statistics.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        JSON file written by :mod:`cc_segmentation.data.calibration`.  Defaults to
        the ``sample_calibration.json`` shipped with the package.

    Returns
    -------
    dict
        The parsed calibration.
    """
    if path is None:
        text = (
            resources.files("cc_segmentation.data")
            .joinpath(_CALIBRATION_FILE)
            .read_text(encoding="utf-8")
        )
    else:
        text = Path(path).read_text(encoding="utf-8")
    return json.loads(text)


@functools.lru_cache(maxsize=1)
def _default_model() -> _Model:
    return _Model(load_calibration())


def _model_for(calibration: dict[str, Any] | str | Path | None) -> _Model:
    if calibration is None:
        return _default_model()
    if isinstance(calibration, dict):
        return _Model(calibration)
    return _Model(load_calibration(calibration))


# --------------------------------------------------------------------------
# Block generation
# --------------------------------------------------------------------------


def _lattice(values: np.ndarray, denom: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Numerators ``k`` snapping frequencies to ``k / denom``.

    ``k`` is in ``1..denom`` where ``active`` (at least one active month, at
    most all of them) and 0 elsewhere.
    """
    k = np.clip(np.rint(values * denom), 1, denom).astype(np.int64)
    return np.where(active, k, 0)


def _apply_structure(
    model: _Model, z: dict[str, np.ndarray], u_missing: np.ndarray
) -> dict[str, np.ndarray]:
    """Turn the copula's latent normals into columns with the real file's logic.

    Parameters
    ----------
    model : _Model
        Prepared calibration.
    z : dict of numpy.ndarray
        Correlated standard normals, one array per measure.
    u_missing : numpy.ndarray
        Independent uniforms driving the extra missing ``MINIMUM_PAYMENTS``.

    Returns
    -------
    dict of numpy.ndarray
        One array per measure, in ``MEASURES`` order; missing
        ``MINIMUM_PAYMENTS`` are NaN.
    """

    def m(col: str) -> np.ndarray:
        return model.marginal(col, ndtr(z[col]))

    def dep(col: str, active: np.ndarray) -> np.ndarray:
        return model.dependent(col, z[col], active)

    idx = np.searchsorted(model.tenure_cdf, ndtr(z["TENURE"]), side="right")
    tenure = model.tenure_values[np.minimum(idx, len(model.tenure_values) - 1)]

    balance = np.round(m("BALANCE"), 6)
    # Real file: BALANCE_FREQUENCY is k/11 at tenure 12 and k/TENURE otherwise;
    # the purchase and cash-advance frequencies are k/TENURE.
    bal_denom = np.where(tenure == 12, 11, tenure)
    bal_k = _lattice(dep("BALANCE_FREQUENCY", balance > 0), bal_denom, balance > 0)

    # Purchase amounts are whole cents in the real file.
    oneoff = np.round(m("ONEOFF_PURCHASES"), 2)
    instal = np.round(m("INSTALLMENTS_PURCHASES"), 2)
    purchases = np.round(oneoff + instal, 2)
    oneoff_k = _lattice(
        dep("ONEOFF_PURCHASES_FREQUENCY", oneoff > 0), tenure, oneoff > 0
    )
    instal_k = _lattice(
        dep("PURCHASES_INSTALLMENTS_FREQUENCY", instal > 0), tenure, instal > 0
    )
    # A month with a one-off or instalment purchase is a month with a purchase:
    # purchase months are the larger of the two plus a calibrated excess that
    # depends on the purchase mix, drawn from PURCHASES_FREQUENCY's latent so
    # it keeps that column's dependence on the rest.
    v = model.conditional_uniform("PURCHASES_FREQUENCY", z["PURCHASES_FREQUENCY"])
    extra = np.where(
        oneoff > 0,
        np.where(
            instal > 0,
            model.extra_months("both", v),
            model.extra_months("oneoff_only", v),
        ),
        model.extra_months("installments_only", v),
    )
    purch_k = np.where(
        purchases > 0, np.minimum(np.maximum(oneoff_k, instal_k) + extra, tenure), 0
    )
    # Every active month has at least one transaction.
    purch_trx = np.rint(dep("PURCHASES_TRX", purchases > 0)).astype(np.int64)
    purch_trx = np.maximum(purch_trx, purch_k)

    cash = np.round(m("CASH_ADVANCE"), 6)
    cash_k = _lattice(dep("CASH_ADVANCE_FREQUENCY", cash > 0), tenure, cash > 0)
    cash_trx = np.rint(dep("CASH_ADVANCE_TRX", cash > 0)).astype(np.int64)
    cash_trx = np.maximum(cash_trx, cash_k)

    credit_limit = np.maximum(m("CREDIT_LIMIT"), model.min_positive["CREDIT_LIMIT"])
    payments = np.round(m("PAYMENTS"), 6)
    min_pay = np.maximum(
        np.round(m("MINIMUM_PAYMENTS"), 6), model.min_positive["MINIMUM_PAYMENTS"]
    )
    # Real file: MINIMUM_PAYMENTS is missing for every customer with zero
    # payments, and for a small calibrated share of the others.
    missing = (payments == 0) | (u_missing < model.mp_missing_extra)
    min_pay = np.where(missing, np.nan, min_pay)

    # Nothing can have been paid in full without payments.
    prc_raw = m("PRC_FULL_PAYMENT")
    prc_k = _lattice(prc_raw, tenure, (prc_raw > 0) & (payments > 0))

    return {
        "BALANCE": balance,
        "BALANCE_FREQUENCY": np.round(bal_k / bal_denom, 6),
        "PURCHASES": purchases,
        "ONEOFF_PURCHASES": oneoff,
        "INSTALLMENTS_PURCHASES": instal,
        "CASH_ADVANCE": cash,
        "PURCHASES_FREQUENCY": np.round(purch_k / tenure, 6),
        "ONEOFF_PURCHASES_FREQUENCY": np.round(oneoff_k / tenure, 6),
        "PURCHASES_INSTALLMENTS_FREQUENCY": np.round(instal_k / tenure, 6),
        "CASH_ADVANCE_FREQUENCY": np.round(cash_k / tenure, 6),
        "CASH_ADVANCE_TRX": cash_trx,
        "PURCHASES_TRX": purch_trx,
        "CREDIT_LIMIT": np.round(credit_limit, 6),
        "PAYMENTS": payments,
        "MINIMUM_PAYMENTS": min_pay,
        "PRC_FULL_PAYMENT": np.round(prc_k / tenure, 6),
        "TENURE": tenure.astype(np.int64),
    }


def _generate_block(
    model: _Model, seed: int, block: int, n: int
) -> dict[str, np.ndarray]:
    """Generate the first ``n`` rows of internal block ``block``.

    All randomness comes from one C-ordered ``standard_normal((n, 18))`` draw,
    so the first ``k`` rows do not depend on ``n`` (prefix stability).
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))
    normals = rng.standard_normal((n, len(MEASURES) + 1))
    latent = normals[:, : len(MEASURES)] @ model.chol.T
    z = {col: latent[:, j] for j, col in enumerate(MEASURES)}
    # The last normal is independent of the copula: it drives the extra
    # missing MINIMUM_PAYMENTS among customers with positive payments.
    return _apply_structure(model, z, ndtr(normals[:, -1]))


def _check_args(n_rows: int, seed: int, chunk_size: int) -> None:
    for name, value, low in (
        ("n_rows", n_rows, 0),
        ("seed", seed, 0),
        ("chunk_size", chunk_size, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")


def _customer_ids(start: int, stop: int) -> pa.Array:
    """``C`` + customer number, unique for any row count (no fixed width)."""
    numbers = pa.array(np.arange(start, stop, dtype=np.int64) + FIRST_CUSTOMER_NUMBER)
    return pc.binary_join_element_wise("C", pc.cast(numbers, pa.string()), "")


def _iter_batches(
    n_rows: int, seed: int, chunk_size: int, model: _Model
) -> Iterator[pa.RecordBatch]:
    """Yield record batches of ``chunk_size`` rows (the last may be shorter)."""
    # No block is -1, so the first pass fills the cache before reading it
    cached_block = -1
    cached: dict[str, np.ndarray] = {}
    for start in range(0, n_rows, chunk_size):
        stop = min(start + chunk_size, n_rows)
        pieces: list[dict[str, np.ndarray]] = []
        for block in range(start // BLOCK_ROWS, (stop - 1) // BLOCK_ROWS + 1):
            if block != cached_block:
                # Only the current block is kept: memory is bounded by one block
                # plus one chunk whatever the row count.
                block_start = block * BLOCK_ROWS
                n = min(BLOCK_ROWS, n_rows - block_start)
                cached_block, cached = block, _generate_block(model, seed, block, n)
            lo = max(start, block * BLOCK_ROWS) - block * BLOCK_ROWS
            hi = min(stop, (block + 1) * BLOCK_ROWS) - block * BLOCK_ROWS
            pieces.append({c: a[lo:hi] for c, a in cached.items()})
        arrays = [_customer_ids(start, stop)]
        for col in MEASURES:
            values = (
                pieces[0][col]
                if len(pieces) == 1
                else np.concatenate([p[col] for p in pieces])
            )
            if col == "MINIMUM_PAYMENTS":
                arrays.append(pa.array(values, pa.float64(), mask=np.isnan(values)))
            else:
                arrays.append(pa.array(values, SCHEMA.field(col).type))
        yield pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def generate_chunks(
    n_rows: int,
    seed: int = 42,
    chunk_size: int = 100_000,
    *,
    calibration: dict[str, Any] | str | Path | None = None,
) -> Iterator[pd.DataFrame]:
    """Generate a synthetic credit-card sample lazily, chunk by chunk.

    Parameters
    ----------
    n_rows : int
        Total number of rows (customers), ``>= 0``.
    seed : int, default 42
        Non-negative seed.  Row ``i`` depends only on ``seed`` and ``i``.
    chunk_size : int, default 100_000
        Rows per yielded DataFrame (the last one may be shorter).  It does not
        affect the values generated.
    calibration : dict, str or pathlib.Path, optional
        Calibration statistics or the path of a calibration JSON; defaults to
        the packaged ``sample_calibration.json``.

    Returns
    -------
    iterator of pandas.DataFrame
        Chunks with columns exactly ``RAW_COLUMNS`` in order: ``CUST_ID``
        (string), ``CASH_ADVANCE_TRX``, ``PURCHASES_TRX`` and ``TENURE``
        (int64), the other measures float64; missing ``MINIMUM_PAYMENTS`` are
        NaN.  The index runs over global row numbers.  Rows are generated only
        as chunks are consumed.

    Raises
    ------
    TypeError, ValueError
        On a non-integer or out-of-range argument (at call time, not at the
        first chunk).

    Examples
    --------
    >>> df = pd.concat(generate_chunks(1000, seed=1, chunk_size=300))
    >>> list(df.columns) == list(RAW_COLUMNS)
    True
    """
    _check_args(n_rows, seed, chunk_size)
    return _frames(_iter_batches(n_rows, seed, chunk_size, _model_for(calibration)))


def _frames(batches: Iterator[pa.RecordBatch]) -> Iterator[pd.DataFrame]:
    start = 0
    for batch in batches:
        df = batch.to_pandas()
        df.index = pd.RangeIndex(start, start + len(df))
        start += len(df)
        yield df


def write_sample(
    path: str | Path,
    n_rows: int = 8950,
    seed: int = 42,
    chunk_size: int = 100_000,
    fmt: str | None = None,
    *,
    calibration: dict[str, Any] | str | Path | None = None,
) -> Path:
    """Write a synthetic sample to CSV or Parquet, streaming chunk by chunk.

    Parameters
    ----------
    path : str or pathlib.Path
        Output file; parent directories are created.  The file is written to
        a temporary name and renamed at the end, so an interrupted run never
        leaves a truncated sample behind.
    n_rows : int, default 8950
        Number of rows (the real file has 8,950).
    seed : int, default 42
        Non-negative seed.
    chunk_size : int, default 100_000
        Rows generated and written per step (one Parquet row group each).
        CSV bytes do not depend on it.
    fmt : {"csv", "parquet"}, optional
        Output format; by default Parquet if the suffix is ``.parquet`` or
        ``.pq``, CSV otherwise.
    calibration : dict, str or pathlib.Path, optional
        As for :func:`generate_chunks`.

    Returns
    -------
    pathlib.Path
        The path written.

    Notes
    -----
    CSV: header row, comma-separated, no quoting, LF line endings, missing
    values as empty cells, floats in shortest round-trip form (``0``,
    ``1000``, ``40.900749``) like the real file.  Parquet: the schema
    :data:`SCHEMA`, missing values as nulls.
    """
    _check_args(n_rows, seed, chunk_size)
    path = Path(path)
    if fmt is None:
        fmt = "parquet" if path.suffix.lower() in {".parquet", ".pq"} else "csv"
    fmt = fmt.lower()
    if fmt not in {"csv", "parquet"}:
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    model = _model_for(calibration)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    batches = _iter_batches(n_rows, seed, chunk_size, model)
    try:
        if fmt == "csv":
            options = pa_csv.WriteOptions(
                include_header=True, quoting_style="none", quoting_header="none"
            )
            with pa_csv.CSVWriter(tmp, SCHEMA, write_options=options) as writer:
                for batch in batches:
                    writer.write_batch(batch)
        else:
            with pq.ParquetWriter(tmp, SCHEMA) as writer:
                for batch in batches:
                    writer.write_batch(batch, row_group_size=chunk_size)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


DESCRIPTION = (
    "Write a synthetic credit-card sample calibrated on the real "
    "cc_general.csv (CSV, or Parquet for a .parquet suffix)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options, for :func:`main` and ``cc-segmentation sample``."""
    parser.add_argument("--rows", type=int, default=8950, help="number of rows")
    parser.add_argument("--seed", type=int, default=42, help="random seed (>= 0)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("warehouse/raw/cc_general_sample.csv"),
        help="output path (default: %(default)s)",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=100_000, help="rows per chunk"
    )
    parser.add_argument(
        "--format",
        choices=("csv", "parquet"),
        default=None,
        dest="fmt",
        help="output format (default: from the suffix)",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Write the sample the parsed ``args`` ask for."""
    try:
        out = write_sample(args.out, args.rows, args.seed, args.chunk_size, args.fmt)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    print(f"wrote {args.rows} rows to {out}", file=sys.stderr)
    return 0
