"""A shifted copy of a raw file: some customers' measure multiplied.

What a portfolio that moved looks like, made deterministically from a real
file, for the drift demonstration (``tests/benchmarks/demo_drift.py``, the
README's "Month after month") and the tests of scoring without refitting
and of the drift alarms.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The demonstration's seed.
SEED = 20261201


@dataclass
class ShiftedCopy:
    """What :func:`shifted_copy` wrote."""

    path: Path
    n_rows: int
    shifted_ids: list[str]


def shifted_copy(
    source: Path,
    destination: Path,
    column: str = "BALANCE",
    factor: float = 1.5,
    share: float = 1 / 3,
    seed: int = SEED,
) -> ShiftedCopy:
    """Copy a raw CSV file with ``column`` multiplied for some customers.

    Parameters
    ----------
    source : Path
        A raw file: a header line, then one customer per line, cells as text
        (read and written with Python's csv module, comma and double quotes,
        as the pipeline reads it).
    destination : Path
        The copy; every cell is written as text, unchanged except ``column``
        of the chosen rows.
    column : str
        The column to multiply (a measure of the raw file).
    factor : float
        What it is multiplied by.
    share : float
        The share of data rows chosen, in [0, 1]: ``round(share * rows)``
        rows, drawn without replacement by ``numpy.random.default_rng(seed)``.
    seed : int
        The draw's seed: the same seed and file give the same copy.

    Returns
    -------
    ShiftedCopy
        The copy's path, its number of data rows and the ``CUST_ID`` of the
        chosen rows, in file order.  A chosen row whose cell is blank stays
        blank (a missing value stays missing) and is not listed.

    Raises
    ------
    ValueError
        ``column`` is not in the header, ``share`` is outside [0, 1], or a
        chosen cell is not a number (naming the file, line and cell).
    """
    if not 0 <= share <= 1:
        raise ValueError(f"share must be in [0, 1], not {share}")
    with open(source, newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader)
        n_rows = sum(1 for _ in reader)
    if column not in header:
        raise ValueError(f"{source} has no column {column}: {', '.join(header)}")
    position = header.index(column)
    chosen = set(
        np.random.default_rng(seed)
        .choice(n_rows, size=round(share * n_rows), replace=False)
        .tolist()
    )
    shifted_ids = []
    with (
        open(source, newline="", encoding="utf-8") as file,
        open(destination, "w", newline="", encoding="utf-8") as out,
    ):
        reader = csv.reader(file)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(next(reader))
        for row_number, row in enumerate(reader):
            cell = row[position].strip()
            if row_number in chosen and cell:
                try:
                    value = float(cell)
                except ValueError:
                    raise ValueError(
                        f"{source}, line {row_number + 2}: {column} is not a "
                        f"number: {cell!r}"
                    ) from None
                # repr: the shortest text that reads back as this double
                row[position] = repr(value * factor)
                shifted_ids.append(row[0])
            writer.writerow(row)
    return ShiftedCopy(Path(destination), n_rows, shifted_ids)
