"""Counts per feed: lines read, messages decoded, updates out, dead letters per reason.

Every decoder owns one :class:`FeedStats`; :func:`open_feed` registers it here under the
feed's name so the CLI and the pipeline can report them (:func:`snapshot`).

A decoder states a dead letter's reason as ``"<category>: <detail>"``; the dead letter
keeps the category as its ``reason`` and the rest as its ``detail``, and counts are kept
per category, so "checksum mismatch: expected 3F, computed 2A" and "checksum mismatch:
expected 11, computed 7C" count as one reason.

Decoder state is bounded (pending AIS fragments, ship static data, merged SBS-1
aircraft): what a decoder drops to stay within its cap is counted per kind in
``evicted`` (:meth:`FeedStats.evict`), and reaches the run's summary.

A feed that yields nothing but dead letters is reported loudly: an ERROR log line after
its 10th, 100th, 1,000th... consecutive rejection with no valid message at all, and
again when the feed closes.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from config.records import DeadLetter

__all__ = ["FeedStats", "get", "register", "registry", "reset", "snapshot"]

log = logging.getLogger(__name__)


class FeedStats:
    """Counters of one feed. Not thread-safe by itself: one decoder, one thread."""

    __slots__ = ("feed", "lines", "messages", "updates", "notices", "duplicates", "dead", "ignored", "evicted",
                 "file", "_loud_at")

    def __init__(self, feed: str) -> None:
        self.feed = feed
        self.lines = 0  # input units seen (lines, datagram lines, records)
        self.messages = 0  # protocol messages decoded (an AIS message may span lines)
        self.updates = 0  # TrackUpdates produced
        self.notices = 0  # Notices produced (exercise areas, NOTAMs)
        self.duplicates = 0  # copies of one message heard by several receivers, merged into one report
        self.dead: Counter[str] = Counter()  # dead letters per reason category
        self.ignored: Counter[str] = Counter()  # valid input that is not a track (why)
        self.evicted: Counter[str] = Counter()  # decoder state dropped to stay within its cap (what)
        self.file: str | None = None  # the file being read, in a feed that reads a folder
        self._loud_at = 10

    @property
    def dead_total(self) -> int:
        return sum(self.dead.values())

    def dead_letter(self, position: int, raw: bytes, reason: str, received_s: float | None = None) -> DeadLetter:
        """Count and build a dead letter (``reason``: ``"<category>: <detail>"`` or a bare
        category); log loudly when the feed has produced only errors."""
        letter = DeadLetter.of(self.feed, position, bytes(raw), reason, received_s=received_s, file=self.file)
        self.dead[letter.reason] += 1
        if self.messages == 0 and self.updates == 0 and self.notices == 0:
            total = self.dead_total
            if total >= self._loud_at:
                self._loud_at *= 10
                log.error(
                    "feed %s: %d inputs rejected and not one valid message so far (%s)",
                    self.feed,
                    total,
                    ", ".join(f"{k}: {v}" for k, v in self.dead.most_common(3)),
                )
        return letter

    def evict(self, what: str, n: int = 1) -> None:
        """The decoder dropped ``n`` pieces of its state of kind ``what`` to stay within its cap."""
        if not self.evicted[what]:
            log.warning("feed %s: decoder state full: dropping the oldest %s to make room", self.feed, what)
        self.evicted[what] += n

    def close(self) -> None:
        """Log the feed's summary; an ERROR when it produced nothing but errors."""
        if self.dead and self.messages == 0 and self.updates == 0 and self.notices == 0:
            log.error(
                "feed %s produced nothing but errors: %d dead letters (%s), no valid message",
                self.feed,
                self.dead_total,
                ", ".join(f"{k}: {v}" for k, v in self.dead.most_common()),
            )
        else:
            log.info(
                "feed %s: %d lines, %d messages, %d updates, %d notices, %d duplicates, %d dead letters",
                self.feed,
                self.lines,
                self.messages,
                self.updates,
                self.notices,
                self.duplicates,
                self.dead_total,
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "feed": self.feed,
            "lines": self.lines,
            "messages": self.messages,
            "updates": self.updates,
            "notices": self.notices,
            "duplicates": self.duplicates,
            "dead_letters": dict(self.dead),
            "ignored": dict(self.ignored),
            "evicted": dict(self.evicted),
        }

    def __repr__(self) -> str:
        return f"FeedStats({self.as_dict()!r})"


_lock = threading.Lock()
_registry: dict[str, FeedStats] = {}


def register(stats: FeedStats) -> FeedStats:
    """Make ``stats`` the current counters of its feed (replacing an earlier run's)."""
    with _lock:
        _registry[stats.feed] = stats
    return stats


def get(feed: str) -> FeedStats | None:
    with _lock:
        return _registry.get(feed)


def registry() -> dict[str, FeedStats]:
    with _lock:
        return dict(_registry)


def snapshot() -> list[dict[str, Any]]:
    """Counters of every registered feed, as plain dicts (for logs and the CLI)."""
    with _lock:
        return [s.as_dict() for s in _registry.values()]


def reset() -> None:
    with _lock:
        _registry.clear()
