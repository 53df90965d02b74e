"""Calibration statistics for the synthetic sample generator.

The generator in :mod:`cc_segmentation.data.sample` is a Gaussian copula: correlated
normals are mapped to uniforms and then through each measure's empirical
quantile function.  This module computes, from the real ``cc_general.csv``, the
only inputs it needs:

* per measure, the empirical quantile function on a fixed probability grid,
  the share of zeros, the smallest positive value and the share of missing
  values;
* the probability mass function of ``TENURE`` (a 7-valued integer);
* the share of missing ``MINIMUM_PAYMENTS`` among customers with positive
  ``PAYMENTS`` (in the real file every customer with zero payments has a
  missing minimum payment, and only a few others do);
* the distribution of purchase months in excess of ``max(one-off months,
  instalment months)``, by purchase mix;
* the correlation matrix of the rank-based normal scores of the 17 measures,
  the Spearman matrix, and the latent correlation matrix fitted by simulation
  so that the generator reproduces that Spearman matrix (about 30 s).

These are aggregate statistics only; no row of the third-party file is stored.
The fitted matrix depends on the generator's rules: rerun this command after
changing them.

Usage::

    cc-segmentation calibrate ../shared/data/cc_general.csv \\
        --out models_py/cc_segmentation/data/sample_calibration.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import ndtri
from scipy.stats import rankdata

from cc_segmentation import RAW_COLUMNS

MEASURES = RAW_COLUMNS[1:]

# 1 % steps, plus a few extra points in both tails: the money columns are
# heavily right-skewed, so the top percent would otherwise be one straight
# segment from the 99th percentile to the maximum.
PROBABILITIES = tuple(
    sorted({round(i / 100, 2) for i in range(101)} | {0.001, 0.005, 0.995, 0.999})
)

# Columns whose stored quantiles are observed values (``inverted_cdf``) and
# which the generator looks up as a step function rather than interpolating:
# credit limits are round figures (82 % are multiples of 500), and
# interpolating between grid points would make them ragged.
STEP_COLUMNS = ("CREDIT_LIMIT",)

SIGNIFICANT_DIGITS = 6


def _round_sig(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """Round ``value`` to ``digits`` significant digits (0 stays 0)."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return float(f"{value:.{digits}g}")


def _normal_scores(values: pd.Series) -> pd.Series:
    """Van der Waerden scores of the non-missing values, average ranks for ties."""
    present = values.dropna()
    ranks = rankdata(present.to_numpy(), method="average")
    scores = ndtri((ranks - 0.5) / len(present))
    return pd.Series(scores, index=present.index).reindex(values.index)


def _spearman(frame: pd.DataFrame) -> np.ndarray:
    """Spearman matrix with pairwise-complete observations.

    Each column's non-missing values are ranked once (average ranks for ties)
    and the ranks correlated pair by pair; ranking once per column rather than
    per pair keeps it fast on simulated samples.
    """
    return frame.rank(method="average").corr(method="pearson", min_periods=2).to_numpy()


def fit_latent_correlation(
    calibration: dict[str, Any],
    target: np.ndarray,
    *,
    n_rows: int = 100_000,
    iterations: int = 40,
    seed: int = 20_240_601,
    tol: float = 0.003,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit the copula's latent correlation to a target Spearman matrix.

    The normal-scores correlation of the real file underestimates the latent
    Gaussian correlation wherever a column has a large atom (zeros, full
    balance frequency, tenure 12), and the structural rules of the generator
    shift it further.  This runs a fixed-point iteration in the spirit of
    NORTA: simulate, compare Spearman matrices, move the latent matrix by the
    difference, repair it to a valid correlation matrix, repeat.  Common random
    numbers (a fixed ``seed``) make the iteration smooth and deterministic.
    ``PURCHASES`` is left out: the generator overwrites it with
    ``ONEOFF_PURCHASES + INSTALLMENTS_PURCHASES``, so its latent row has no
    effect and is kept at its starting value.

    Parameters
    ----------
    calibration : dict
        Calibration without (or with a previous) ``latent_correlation``; its
        ``correlation`` is the starting point.
    target : numpy.ndarray
        17 x 17 Spearman matrix of the real file, columns as ``MEASURES``.
    n_rows : int, default 100_000
        Rows simulated per iteration.
    iterations : int, default 40
        Maximum number of iterations.
    seed : int, default 20_240_601
        Seed of the simulations.
    tol : float, default 0.003
        Stop when the largest absolute Spearman difference (``PURCHASES``
        excluded) is below ``tol``.

    Returns
    -------
    latent : numpy.ndarray
        The fitted latent correlation matrix (positive definite, unit diagonal).
    info : dict
        The iteration kept (lowest mean error), ``n_rows``, ``seed`` and its
        ``max_abs_spearman_error`` and ``mean_abs_spearman_error`` (off-diagonal,
        ``PURCHASES`` excluded) on the simulated sample.
    """
    # Imported here: the generator itself loads calibrations, not the reverse.
    from cc_segmentation.data.sample import _nearest_correlation, generate_chunks

    start = np.asarray(calibration["correlation"], dtype=float)
    latent = start
    fitted = np.ones(len(MEASURES), dtype=bool)
    fitted[MEASURES.index("PURCHASES")] = False
    mask = np.outer(fitted, fitted) & ~np.eye(len(MEASURES), dtype=bool)
    best = (np.inf, np.inf, latent, 0)
    for it in range(1, iterations + 1):
        trial = {**calibration, "latent_correlation": latent.tolist()}
        sample = pd.concat(generate_chunks(n_rows, seed=seed, calibration=trial))
        error = np.where(mask, target - _spearman(sample[list(MEASURES)]), 0.0)
        mean_err, max_err = (
            float(np.abs(error[mask]).mean()),
            float(np.abs(error).max()),
        )
        if mean_err < best[0]:
            best = (mean_err, max_err, latent, it)
        if max_err < tol:
            break
        # Some targets are out of reach (the structural rules cap them); the
        # clip and the eigenvalue repair keep the matrix valid regardless.
        latent = np.clip(latent + error, -0.999, 0.999)
        latent = np.where(mask, latent, start)
        np.fill_diagonal(latent, 1.0)
        latent = _nearest_correlation(latent, floor=1e-4)
    mean_err, max_err, latent, it = best
    info = {
        "iterations": it,
        "n_rows": n_rows,
        "seed": seed,
        "max_abs_spearman_error": _round_sig(max_err),
        "mean_abs_spearman_error": _round_sig(mean_err),
    }
    return latent, info


def _extra_purchase_months(df: pd.DataFrame) -> dict[str, list[float]]:
    """Distribution of purchase months beyond ``max(one-off, instalment)`` months.

    Frequencies are ``k / TENURE``; a month with any purchase is a month with
    a one-off or an instalment purchase, so ``k_purchases`` is at least the
    larger of the two.  The excess (clipped at 0: 0.3 % of rows fall one month
    short) depends strongly on the purchase mix: 0 for one-off-only customers,
    0 or 1 for instalment-only ones, more spread when they have both.
    """
    tenure = df["TENURE"].to_numpy()

    def months(col: str) -> np.ndarray:
        return np.rint(df[col].to_numpy() * tenure).astype(int)

    k_p = months("PURCHASES_FREQUENCY")
    k_o = months("ONEOFF_PURCHASES_FREQUENCY")
    k_i = months("PURCHASES_INSTALLMENTS_FREQUENCY")
    extra = np.clip(k_p - np.maximum(k_o, k_i), 0, None)
    oneoff = df["ONEOFF_PURCHASES"].to_numpy() > 0
    instal = df["INSTALLMENTS_PURCHASES"].to_numpy() > 0
    groups = {
        "oneoff_only": oneoff & ~instal,
        "installments_only": ~oneoff & instal,
        "both": oneoff & instal,
    }
    return {
        name: [_round_sig(v) for v in np.bincount(extra[mask]) / mask.sum()]
        for name, mask in groups.items()
    }


def compute_calibration(csv_path: str | Path, *, fit: bool = True) -> dict[str, Any]:
    """Compute the generator's calibration statistics from the real file.

    Parameters
    ----------
    csv_path : str or pathlib.Path
        Path of the real ``cc_general.csv`` (header ``RAW_COLUMNS``).
    fit : bool, default True
        Also fit the generator's latent correlation matrix
        (:func:`fit_latent_correlation`, about 30 s).  Without it the
        generator falls back to the normal-scores correlation.

    Returns
    -------
    dict
        JSON-serialisable statistics: ``probabilities`` (the grid),
        ``marginals`` (per measure: ``quantiles``, ``method``, ``zero_share``,
        ``min_positive``, ``missing_share``), ``tenure_pmf``,
        ``purchase_extra_months_pmf`` (see ``_extra_purchase_months``),
        ``minimum_payments_missing_given_payments_positive``, ``columns`` and
        ``correlation`` (normal-scores correlation, pairwise complete), plus a
        ``source`` block identifying the input file; with ``fit`` also
        ``spearman``, ``latent_correlation`` and ``latent_fit`` (fit
        diagnostics).  Numbers are rounded to six significant digits.

    Raises
    ------
    ValueError
        If the file's header is not ``RAW_COLUMNS``.
    """
    csv_path = Path(csv_path)
    raw = csv_path.read_bytes()
    df = pd.read_csv(csv_path)
    if tuple(df.columns) != RAW_COLUMNS:
        raise ValueError(f"unexpected header in {csv_path}: {list(df.columns)}")

    probs = np.asarray(PROBABILITIES)
    marginals: dict[str, dict[str, Any]] = {}
    for col in MEASURES:
        values = df[col].dropna().to_numpy(dtype=float)
        method = "step" if col in STEP_COLUMNS else "linear"
        numpy_method: Literal["inverted_cdf", "linear"] = (
            "inverted_cdf" if method == "step" else "linear"
        )
        quantiles = np.quantile(values, probs, method=numpy_method)
        positive = values[values > 0]
        marginals[col] = {
            "method": method,
            "zero_share": _round_sig(float(np.mean(values == 0))),
            "min_positive": _round_sig(float(positive.min())),
            "missing_share": _round_sig(float(df[col].isna().mean())),
            "quantiles": [_round_sig(float(q)) for q in quantiles],
        }

    tenure = df["TENURE"].astype(int)
    tenure_pmf = tenure.value_counts(normalize=True).sort_index()

    positive_payments = df["PAYMENTS"] > 0
    mp_missing_given_pos = df.loc[positive_payments, "MINIMUM_PAYMENTS"].isna().mean()

    scores = pd.DataFrame({col: _normal_scores(df[col]) for col in MEASURES})
    # Pairwise complete: MINIMUM_PAYMENTS and CREDIT_LIMIT have missing values,
    # and dropping those rows would bias every other pair.  The result may be
    # slightly indefinite; the generator repairs that before factorising.
    corr = scores.corr(method="pearson", min_periods=2).to_numpy()

    calibration = {
        "description": (
            "Aggregate statistics of the real credit-card file used to calibrate "
            "cc_segmentation.data.sample (Gaussian copula). No row-level data."
        ),
        "source": {
            "file": csv_path.name,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "n_rows": len(df),
        },
        "probabilities": [float(p) for p in probs],
        "marginals": marginals,
        "tenure_pmf": {str(k): _round_sig(float(v)) for k, v in tenure_pmf.items()},
        "purchase_extra_months_pmf": _extra_purchase_months(df),
        "minimum_payments_missing_given_payments_positive": _round_sig(
            float(mp_missing_given_pos)
        ),
        "correlation_method": (
            "Pearson correlation of van der Waerden normal scores "
            "(average ranks for ties), pairwise complete observations"
        ),
        "columns": list(MEASURES),
        "correlation": [[_round_sig(float(v)) for v in row] for row in corr],
    }
    if fit:
        spearman = _spearman(df[list(MEASURES)])
        latent, info = fit_latent_correlation(calibration, spearman)
        calibration["spearman"] = [[_round_sig(float(v)) for v in r] for r in spearman]
        calibration["latent_correlation_method"] = (
            "fitted by simulation so that the generated sample's Spearman matrix "
            "matches 'spearman' (NORTA-style fixed point, starting from "
            "'correlation'); used by the generator"
        )
        calibration["latent_fit"] = info
        calibration["latent_correlation"] = [
            [_round_sig(float(v)) for v in row] for row in latent
        ]
    return calibration


def _to_json(obj: Any, indent: int = 0) -> str:
    """Serialise with lists of scalars on one line, so diffs stay readable."""
    pad = " " * indent
    inner = " " * (indent + 2)
    if isinstance(obj, dict):
        items = [
            f"{inner}{json.dumps(k)}: {_to_json(v, indent + 2)}" for k, v in obj.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, list | dict) for v in obj):
        items = [f"{inner}{_to_json(v, indent + 2)}" for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj)


DESCRIPTION = (
    "Compute sample-generator calibration statistics from the real cc_general.csv."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options, for :func:`main` and ``cc-segmentation calibrate``."""
    parser.add_argument("csv_path", type=Path, help="path of the real cc_general.csv")
    parser.add_argument(
        "--out", type=Path, default=None, help="output JSON path (default: stdout)"
    )
    parser.add_argument(
        "--no-fit",
        action="store_true",
        help="skip fitting the latent correlation matrix (fast, less faithful)",
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Compute the calibration the parsed ``args`` ask for and write it."""
    text = _to_json(compute_calibration(args.csv_path, fit=not args.no_fit)) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0
