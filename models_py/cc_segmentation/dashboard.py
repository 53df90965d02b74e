"""Start the dashboard: ``python -m cc_segmentation.dashboard [streamlit options]``."""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit.web import cli


def main() -> None:
    app = Path(__file__).parent / "apps" / "dashboard.py"
    sys.argv = ["streamlit", "run", str(app), *sys.argv[1:]]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
