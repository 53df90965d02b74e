"""Markdown escaping and the CSV-injection rule, on hand-written cases."""

from __future__ import annotations

import pandas as pd
from pandas.testing import assert_frame_equal

from cc_segmentation.apps.safe_text import csv_safe, markdown_text


def test_markdown_text_escapes_every_ascii_punctuation_character():
    assert markdown_text("![x](http://a.b/c.png)") == (
        r"\!\[x\]\(http\:\/\/a\.b\/c\.png\)"
    )
    assert markdown_text("<img src=x>") == r"\<img src\=x\>"
    assert markdown_text(":red[alert] $x$ **b** `c`") == (
        r"\:red\[alert\] \$x\$ \*\*b\*\* \`c\`"
    )
    assert markdown_text("C10001 café 12") == "C10001 café 12"
    assert markdown_text(3.5) == r"3\.5"


def test_csv_safe_quotes_text_that_starts_a_formula_and_keeps_numbers():
    frame = pd.DataFrame(
        {
            "cust_id": ["=1+1", "+44", "-2+3", "@SUM(A1)", "\tx", "\ry", "C1", None],
            "note": ["a=b", "", "'=x", " =x", "x-1", "ok", "-", "+"],
            "balance": [-1.5, 2.0, -3.0, 0.0, 1.0, 1.0, 1.0, float("nan")],
            "segment_id": pd.array([-1, 2, 3, 4, 5, 6, 7, None], dtype="Int64"),
            "is_flagged": [True, False, True, False, True, False, True, False],
        }
    )
    expected = frame.assign(
        cust_id=["'=1+1", "+44", "'-2+3", "'@SUM(A1)", "'\tx", "'\ry", "C1", None],
        note=["a=b", "", "'=x", " =x", "x-1", "ok", "'-", "'+"],
    )
    assert_frame_equal(csv_safe(frame), expected)
    assert frame.cust_id[0] == "=1+1"  # the input is left as it was


def test_csv_safe_leaves_plain_numbers_written_as_text():
    # a raw measure read as text keeps its value; an expression does not
    cells = ["-5", "+1.5e3", "-.5", "1e-3", "-5-5", "-1e3+1", "+", "-inf", "-0x1"]
    frame = pd.DataFrame({"raw_balance": cells})
    assert csv_safe(frame).raw_balance.tolist() == [
        "-5",
        "+1.5e3",
        "-.5",
        "1e-3",
        "'-5-5",
        "'-1e3+1",
        "'+",
        "'-inf",
        "'-0x1",
    ]
