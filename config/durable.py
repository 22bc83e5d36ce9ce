"""Durable files: what a writer does so that a crash leaves the old file or the new one, whole.

A file renamed into place is durable only once its folder's entry is on disk too
(POSIX ``rename``; fsync(2) on a directory descriptor): :func:`fsync_dir` is that
step, shared by the spool, the checkpoints and the archive.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush the directory ``path`` (its entries: created, renamed, deleted files) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
