"""``python -m cc_segmentation COMMAND ...``: the ``cc-segmentation`` command."""

from cc_segmentation.cli import main

raise SystemExit(main())
