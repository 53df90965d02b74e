"""``python -m cc_segmentation.build [dbt build options]``: see ``runner``."""

from cc_segmentation.build.runner import main

main()
