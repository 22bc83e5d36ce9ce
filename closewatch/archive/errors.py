"""The archive's errors: one root, narrow subclasses."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ArchiveError", "ArchiveFileError", "ArchiveNotFoundError", "ArchiveWriteError"]


class ArchiveError(Exception):
    """Something about the archive failed; the message says what and where."""


class ArchiveNotFoundError(ArchiveError):
    """No archive where one was looked for (the message lists the places)."""


class ArchiveFileError(ArchiveError):
    """One file of the archive cannot be read (corrupt, truncated, not GeoParquet)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ArchiveWriteError(ArchiveError):
    """The archive's writer failed (disk full, permissions); the run's sinks report it."""
