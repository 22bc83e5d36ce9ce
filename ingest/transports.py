"""Transports: where a feed's bytes come from. Each yields raw lines (bytes, no newline).

Every transport feeds the same decoder (``decode(lines)``), so a line is decoded the
same way from a file, a followed file, TCP, UDP, HTTP or Kafka.
"""

from __future__ import annotations

import gzip
import logging
import threading
from pathlib import Path
from typing import IO, Iterator

from ingest.errors import TransportError

__all__ = ["file_lines"]

log = logging.getLogger(__name__)


def _open(path: Path) -> IO[bytes]:
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rb")
        return path.open("rb")
    except OSError as e:
        raise TransportError(f"cannot open {path}: {e}") from e


def file_lines(path: str | Path, stop: threading.Event | None = None) -> Iterator[bytes]:
    """Lines of a file (``.gz`` decompressed), without line endings, until EOF or ``stop``."""
    p = Path(path)
    with _open(p) as f:
        try:
            if stop is None:
                for line in f:
                    yield line.rstrip(b"\r\n")
            else:
                for line in f:
                    if stop.is_set():
                        return
                    yield line.rstrip(b"\r\n")
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise TransportError(f"reading {p} failed: {e}") from e
