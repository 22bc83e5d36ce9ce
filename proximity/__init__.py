"""proximity: pure computation from track reports to events (no I/O).

``Engine`` (``proximity.engine``) is the entry point; ``Event`` and ``Subject``
(``proximity.events``) are what it emits.
"""

from .errors import ProximityError

__all__ = ["ProximityError"]
