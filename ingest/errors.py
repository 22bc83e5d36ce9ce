"""Errors of the ingest room: one root, narrow subclasses.

Bad *input* (a malformed line) is never an exception that stops a feed: it becomes a
:class:`config.records.DeadLetter`. These exceptions are for things a feed cannot go on
without: a missing file, a configuration the transport cannot use, a closed socket
that stays closed.
"""

from __future__ import annotations

__all__ = ["FeedConfigError", "IngestError", "TransportError"]


class IngestError(Exception):
    """Root of every error raised by ``ingest``."""


class FeedConfigError(IngestError):
    """A feed's settings cannot be used (unknown format/transport pair, bad file)."""


class TransportError(IngestError):
    """A transport failed in a way it cannot recover from (file missing, port taken)."""
