"""The root exception of ``proximity`` and its narrow subclasses."""

from __future__ import annotations

__all__ = ["NoticeError", "ProximityError", "ZoneIndexError"]


class ProximityError(Exception):
    """Something in the proximity engine could not be computed from its input."""


class ZoneIndexError(ProximityError):
    """A zone's geometry could not be indexed (invalid, or outside lon/lat bounds)."""


class NoticeError(ProximityError):
    """A notice's area could not be built as a zone within the stated error."""
