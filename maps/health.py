"""The health of a feed and of the map's own Kafka connection, as the live map shows them.

``feed_health`` is what the pipeline says about each feed (see docs/operations.md): a JSON
object, published to the live map of a run and, with the CloudEvents type
:data:`FEED_HEALTH_CE_TYPE` in the ``ce_type`` header, to the dead-letter topic, where
``closewatch map serve`` reads it:

=============== ============================================================================
``feed``        the feed's name (``[[feeds]] name``)
``state``       ``running`` | ``restarting`` (failed, a restart is due after a backoff) |
                ``failed`` (given up, or cannot start)
``since_s``     UTC epoch seconds of the change to this state
``last_data_s`` UTC epoch seconds of the last record the feed delivered, or null
``error``       why it is not running (one line), or null
=============== ============================================================================

Unknown keys are ignored (a newer producer may add some); a record that does not fit is a
:class:`~maps.errors.MapInputError` naming what is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping, cast, get_args

from maps.errors import MapInputError

__all__ = ["FEED_HEALTH_CE_TYPE", "FeedHealth", "FeedState", "read_feed_health"]

FEED_HEALTH_CE_TYPE = "org.closewatch.feed_health.v1"
FeedState = Literal["running", "restarting", "failed"]
_MAX_TEXT = 500  # a feed name or an error longer than this is cut (the page shows one line)


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One feed's state, as the map shows it."""

    feed: str
    state: FeedState
    since_s: float
    last_data_s: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"feed": self.feed, "state": self.state, "since_s": self.since_s, "last_data_s": self.last_data_s,
                "error": self.error}


def _time(value: Any, key: str, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise MapInputError(f"feed_health: {key}={value!r} is not a time (UTC epoch seconds)")
    return float(value)


def _text(value: Any, key: str, optional: bool) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise MapInputError(f"feed_health: {key}={value!r} is not a text")
    one_line = " ".join(value.split())
    return one_line if len(one_line) <= _MAX_TEXT else one_line[: _MAX_TEXT - 1] + "…"


def read_feed_health(value: Any) -> FeedHealth:
    """A ``feed_health`` record (a decoded JSON object) as :class:`FeedHealth`."""
    if not isinstance(value, Mapping):
        raise MapInputError(f"feed_health: not a JSON object: {type(value).__name__}")
    state = value.get("state")
    if state not in get_args(FeedState):
        raise MapInputError(f"feed_health: state={state!r} is not one of {', '.join(get_args(FeedState))}")
    feed = _text(value.get("feed"), "feed", optional=False)
    since_s = _time(value.get("since_s"), "since_s", optional=False)
    assert feed is not None and since_s is not None
    return FeedHealth(feed, cast(FeedState, state), since_s, _time(value.get("last_data_s"), "last_data_s", optional=True),
                      _text(value.get("error"), "error", optional=True))
