"""Build the warehouse beside the published one and publish it atomically.

``python -m cc_segmentation.build [dbt build options]`` runs ``dbt build``
on a private copy of the warehouse and, only if every model and test
passes, renames that copy over the published file.  So:

- a build never fails because a dashboard or an analyst holds the published
  warehouse open (read-only connections do not lock the copy);
- a reader never sees a half-built warehouse: connections opened before the
  rename keep reading the previous file, new ones get the complete new one;
- a build that fails or is killed leaves the published warehouse as it was
  (the private copy is discarded, or overwritten by the next build).

The copy starts from the published warehouse, so incremental history
(segmentation_models, segment lineage) carries over from build to build.
Two builds at once are refused (a lock file beside the warehouse).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

DEFAULT_WAREHOUSE = "warehouse/segmentation.duckdb"


def staging_path(published: Path) -> Path:
    """Where the next build is written: a hidden file beside the published one."""
    return published.with_name(f".{published.stem}.building{published.suffix}")


def build(dbt_args: list[str], published: Path) -> int:
    """Run ``dbt build`` on a copy of ``published`` and publish it on success.

    Parameters
    ----------
    dbt_args : list of str
        Extra arguments for ``dbt build`` (``--vars``, ``--select``, ...).
    published : Path
        The warehouse readers open.

    Returns
    -------
    int
        dbt's exit code (0 when the new warehouse was published).
    """
    published = published.resolve()
    published.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(published)
    lock_path = published.with_name(f".{published.stem}.build.lock")
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another build of {published} is running", file=sys.stderr)
            return 75
        for leftover in (staging, staging.with_name(staging.name + ".wal")):
            leftover.unlink(missing_ok=True)
        if published.exists():
            # A reader only ever holds the published file read-only, so it is
            # consistent on disk and can be copied while it is open.
            shutil.copyfile(published, staging)
        env = dict(os.environ, CC_SEGMENTATION_WAREHOUSE=str(staging))
        dbt = str(Path(sys.executable).with_name("dbt"))
        result = subprocess.run([dbt, "build", *dbt_args], env=env, check=False)
        if result.returncode != 0:
            staging.unlink(missing_ok=True)
            print(
                f"dbt build failed: {published} was left as it was",
                file=sys.stderr,
            )
            return result.returncode
        # Fold any write-ahead log into the file before it is renamed: the
        # published warehouse must be one self-contained file.
        with duckdb.connect(str(staging)) as con:
            con.execute("checkpoint")
        staging.with_name(staging.name + ".wal").unlink(missing_ok=True)
        os.replace(staging, published)
        print(f"published {published}")
        return 0


def main() -> None:
    published = Path(os.environ.get("CC_SEGMENTATION_WAREHOUSE", DEFAULT_WAREHOUSE))
    sys.exit(build(sys.argv[1:], published))


if __name__ == "__main__":
    main()
