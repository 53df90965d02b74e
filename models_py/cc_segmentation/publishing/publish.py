"""Checks and renames that publish a build: the warehouse file and its exports.

A build writes a new warehouse file and a new export directory beside the
published ones; :mod:`cc_segmentation.publishing.runner` calls these functions to check
that the published warehouse may be read and replaced, and to put both new
versions in place.

The published warehouse must not be held read-write by another process when
it is replaced: that process's write-ahead log (``<warehouse>.wal``, named
after the path, not the file) would be replayed into the new file by the next
connection and make it unreadable, and its writes would be lost.  DuckDB
locks the file with POSIX record locks (a write lock for a read-write
connection, a read lock for a read-only one), so a read lock of our own
succeeds exactly when no writer holds the file, and while we hold it no new
writer can open it; readers can.

The export directory is swapped with the new one in one step
(``renameat2(RENAME_EXCHANGE)``), so whoever opens ``exports/`` or a file in
it sees every file of one build.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import duckdb

from cc_segmentation import sql_literal

# Exit codes: a condition that passes (another build, a writer holding the
# warehouse) and one that needs the user (a damaged warehouse, a stray WAL).
BUSY = 75
NEEDS_ATTENTION = 2
FULL_REFRESH_HINT = (
    "rebuild it from scratch with `cc-segmentation build "
    "--full-refresh` (this starts the segment history afresh) or restore it "
    "from a backup"
)


class PublishRefused(Exception):
    """A build cannot read or replace the published warehouse.

    The message says what is wrong and what to do; ``code`` is the exit code.
    """

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def wal_path(warehouse: Path) -> Path:
    """DuckDB's write-ahead log of ``warehouse``."""
    return warehouse.with_name(warehouse.name + ".wal")


def _write_lock_holder(fd: int) -> int | None:
    """PID of a process holding a write lock on ``fd``'s file, if any."""
    # struct flock on Linux: short type, short whence, off_t start, off_t len,
    # pid_t pid (padded to 32 bytes).
    query = struct.pack("hhqqi4x", fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0)
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    except OSError:
        return None
    lock_type, _, _, _, pid = struct.unpack("hhqqi4x", answer)
    return pid if lock_type != fcntl.F_UNLCK else None


@contextlib.contextmanager
def no_writer(published: Path) -> Iterator[None]:
    """Hold ``published`` against DuckDB writers, after checking there is none.

    Inside the ``with`` block no process holds the file read-write and none
    can open it so; read-only connections can.

    Raises
    ------
    PublishRefused
        A process holds the file read-write, or a write-ahead log is left
        beside it by a writer that ended without a checkpoint.
    """
    if not published.exists():
        yield
        return
    fd = os.open(published, os.O_RDONLY)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            pid = _write_lock_holder(fd)
            holder = f"process {pid}" if pid else "another process"
            raise PublishRefused(
                f"{published} is open read-write in {holder}: publishing over "
                "it would lose that process's writes and leave a write-ahead "
                "log that makes the new warehouse unreadable. Close that "
                "connection (or open the warehouse read-only) and build "
                "again; nothing was changed.",
                BUSY,
            ) from None
        wal = wal_path(published)
        if wal.exists():
            raise PublishRefused(
                f"{wal} is left by a process that wrote to {published} and "
                "ended without a checkpoint; the next connection would replay "
                "it into whatever file has that name. Keep its writes with "
                f"`python -c \"import duckdb; duckdb.connect('{published}')"
                ".execute('checkpoint')\"` or discard them by deleting the "
                ".wal file, then build again; nothing was changed.",
                NEEDS_ATTENTION,
            )
        yield
    finally:
        os.close(fd)  # releases the lock


def check_readable(published: Path) -> None:
    """Check that ``published`` is a whole DuckDB file.

    Opens it read-only (a shared lock, as readers take) and compares its size
    with the blocks its header lists, which a truncated file lacks.

    Raises
    ------
    PublishRefused
        The file is not a DuckDB database or is shorter than it says.
    """
    try:
        with duckdb.connect(":memory:") as con:
            con.execute(f"attach {sql_literal(published)} as published (read_only)")
            ((blocks, block_size),) = con.execute(
                "select total_blocks, block_size from pragma_database_size()"
                " where database_name = 'published'"
            ).fetchall()
            con.execute(
                "select count(*) from duckdb_columns()"
                " where database_name = 'published'"
            ).fetchall()
    except duckdb.Error as error:
        problem = str(error).splitlines()[0]
    else:
        size = published.stat().st_size
        if size >= blocks * block_size:
            return
        problem = f"it has {size} bytes, its header lists {blocks * block_size}"
    raise PublishRefused(
        f"the published warehouse {published} is damaged or not a DuckDB "
        f"file ({problem}), so the build cannot carry its history over: "
        f"{FULL_REFRESH_HINT}.",
        NEEDS_ATTENTION,
    )


def exports_staging_path(exports: Path) -> Path:
    """Where the next build writes its exports: a hidden directory beside."""
    return exports.with_name(f".{exports.name}.building")


def exports_previous_path(exports: Path) -> Path:
    """Where the exports of the build before the published one are kept."""
    return exports.with_name(f".{exports.name}.previous")


def prepare_exports_staging(exports: Path, start_from_published: bool) -> Path:
    """Create an empty (or copied) export directory for the next build.

    Parameters
    ----------
    exports : Path
        The published export directory (need not exist).
    start_from_published : bool
        Copy the published exports first: a build of part of the project
        rewrites only the exports it selects.

    Returns
    -------
    Path
        The new directory.
    """
    staging = exports_staging_path(exports)
    shutil.rmtree(staging, ignore_errors=True)
    if start_from_published and exports.is_dir():
        # Copies, not links: the build must never write a published file.
        shutil.copytree(exports, staging, symlinks=False)
    else:
        staging.mkdir(parents=True)
        if (exports / ".gitkeep").exists():  # the repository's placeholder
            (staging / ".gitkeep").touch()
    return staging


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step; False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    done = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
        _RENAME_EXCHANGE,
    )  # fmt: skip
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(first))


def publish_exports(staging: Path, exports: Path) -> None:
    """Put the export directory ``staging`` in place of ``exports``.

    The two directories are exchanged in one step, so a reader opening
    ``exports`` or a file in it gets every file from one build.  The
    replaced directory is kept as ``.<name>.previous`` until the next
    publish, for readers still reading it.  Where the file system cannot
    exchange, ``exports`` is moved aside and ``staging`` renamed in its
    place: for an instant there is no directory, but never a mix.
    """
    previous = exports_previous_path(exports)
    shutil.rmtree(previous, ignore_errors=True)
    if not os.path.lexists(exports):
        staging.rename(exports)
    elif exchange(staging, exports):
        staging.rename(previous)
    else:
        exports.rename(previous)
        staging.rename(exports)


def unpublish_exports(exports: Path) -> None:
    """Undo :func:`publish_exports` when the warehouse could not follow."""
    previous = exports_previous_path(exports)
    discarded = exports_staging_path(exports)
    exports.rename(discarded)
    if previous.exists():
        previous.rename(exports)
    shutil.rmtree(discarded, ignore_errors=True)
