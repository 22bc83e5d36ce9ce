"""The exceptions of ``maps``: one root, narrow subclasses."""

from __future__ import annotations

__all__ = ["AssetsError", "MapInputError", "MapServerError", "MapsError"]


class MapsError(Exception):
    """Root of every error raised by :mod:`maps`."""


class AssetsError(MapsError):
    """The offline JavaScript/CSS assets are missing, could not be fetched, or a page
    refers to an asset closewatch does not ship (which would make the browser reach out)."""


class MapInputError(MapsError):
    """A track, zone or event handed to a map cannot be drawn (the message says which)."""


class MapServerError(MapsError):
    """The live map server could not start or was configured unsafely."""
