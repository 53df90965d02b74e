"""Start the dashboard: ``cc-segmentation dashboard [streamlit options]``."""

from __future__ import annotations

import sys
from pathlib import Path

DESCRIPTION = (
    "Start the Streamlit dashboard over the published warehouse "
    "($CC_SEGMENTATION_WAREHOUSE or warehouse/segmentation.duckdb, read-only)."
)
EPILOG = (
    "Every other option goes to `streamlit run` (see `streamlit run --help`), "
    "e.g. --server.port 8501 --server.headless true."
)
SCRIPT = Path(__file__).with_name("dashboard.py")


def run(streamlit_args: list[str]) -> int:
    """``streamlit run`` the dashboard script with ``streamlit_args``.

    Returns only if Streamlit does (it normally ends the process itself).
    """
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(SCRIPT), *streamlit_args]
    return cli.main()
