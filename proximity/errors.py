"""The root exception of ``proximity`` and its narrow subclasses."""

from __future__ import annotations

__all__ = ["ProximityError", "ZoneIndexError"]


class ProximityError(Exception):
    """Something in the proximity engine could not be computed from its input."""


class ZoneIndexError(ProximityError):
    """A zone's geometry could not be indexed (invalid, or outside lon/lat bounds)."""
