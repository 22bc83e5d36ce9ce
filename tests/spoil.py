"""Spoiling a valid JSON value in one place, for tests of what a reader refuses."""

from __future__ import annotations

import json
from typing import Any

DELETE = object()  # as a new value: remove the member


def spoilt(value: Any, changes: dict[str, Any]) -> Any:
    """A deep copy of ``value`` with each dotted path (``properties.subjects.0.lat_deg``) set
    to its new value, or removed for :data:`DELETE`."""
    out = json.loads(json.dumps(value))
    for path, new in changes.items():
        *parents, last = path.split(".")
        target = out
        for key in parents:
            target = target[int(key) if isinstance(target, list) else key]
        key: Any = int(last) if isinstance(target, list) else last
        if new is DELETE:
            del target[key]
        else:
            target[key] = new
    return out
