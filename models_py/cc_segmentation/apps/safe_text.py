"""Data leaving the dashboard, made inert: as Markdown on the page, as CSV.

Customer ids, cell values, reasons and names come from files anyone can
write.  Streamlit renders Markdown in ``st.markdown``, ``st.caption``,
``st.error`` (and the other alerts), widget labels and even ``st.table``
cells, so a cell ``![x](http://…)`` would make every viewer's browser fetch
that address.  A spreadsheet runs a CSV cell ``=HYPERLINK(…)`` as a formula.
"""

from __future__ import annotations

import re

import pandas as pd

#: Every ASCII punctuation character: CommonMark lets each be escaped with
#: a backslash, and an escaped one is always shown as itself.
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")

#: First characters a spreadsheet reads as the start of a formula (OWASP's
#: CSV-injection advice).  The same rule applies to the dbt exports.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: A plain decimal number: a spreadsheet reads "-5" or "+1.5e3" as a number,
#: not a formula, so such a cell is written as it is (a raw measure keeps
#: its value when a download is uploaded again).  Same pattern in SQL.
PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def markdown_text(value: object) -> str:
    """``value`` as Markdown that shows exactly its text, nothing more.

    Parameters
    ----------
    value : object
        Anything; ``str(value)`` is what is shown.

    Returns
    -------
    str
        The text with every ASCII punctuation character backslash-escaped,
        so no link, image, emphasis, HTML, maths or Streamlit directive can
        start inside it.
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))


def csv_safe_cell(value: object) -> object:
    """One text cell for a CSV file: a leading formula character is quoted.

    A string whose first character is one of ``= + - @``, tab or carriage
    return gets a single quote prepended, so a spreadsheet shows it as text,
    unless the whole string is a plain decimal number such as ``-5``.
    Anything else (numbers, None, other strings) is returned unchanged.
    """
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` ready to write as CSV: :func:`csv_safe_cell` on text columns.

    Numeric and boolean columns are left as they are (a negative number is
    a number, not a formula); every other column is text, cell by cell.
    """
    safe = frame.copy()
    for column in safe.columns:
        dtype = safe[column].dtype
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            continue
        safe[column] = safe[column].map(csv_safe_cell, na_action="ignore")
    return safe
