"""proximity: pure computation from track reports to events (no I/O).

``Engine`` (``proximity.engine``) is the entry point; ``Event`` and ``Subject``
(``proximity.events``) are what it emits. Each kind of event is one family of
``proximity.families`` around the one incident lifecycle of
``proximity.lifecycle``; the module map and the recipe for a new kind are in
docs/engine.md.
"""

from .errors import ProximityError

__all__ = ["ProximityError"]
