"""Sinks that are not Kafka: JSON Lines files (the embedded default) and the live map.

The JSON Lines event file holds exactly the values the Kafka events topic would
carry (one GeoJSON Feature per line, ``alerts.codec``), so a consumer can switch
between the two without a new parser.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Sequence

from alerts.codec import encode_deadletter, encode_event
from config.records import DeadLetter, TrackUpdate
from proximity.events import Event

__all__ = ["JsonlSink"]


class JsonlSink:
    """Events and dead letters appended to JSON Lines files, fsynced at each flush."""

    def __init__(self, events_path: str | Path, deadletter_path: str | Path) -> None:
        self.events_path = Path(events_path)
        self.deadletter_path = Path(deadletter_path)
        for p in (self.events_path, self.deadletter_path):
            p.parent.mkdir(parents=True, exist_ok=True)
        self._events: IO[bytes] = self.events_path.open("ab")
        self._letters: IO[bytes] = self.deadletter_path.open("ab")

    def publish_events(self, events: Sequence[Event]) -> None:
        self._events.write(b"".join(encode_event(e) + b"\n" for e in events))

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        """Tracks are not kept in files: the feeds themselves are the record."""

    def publish_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        self._letters.write(b"".join(encode_deadletter(d) + b"\n" for d in letters))

    def sync(self) -> None:
        self.flush()

    def flush(self) -> None:
        for f in (self._events, self._letters):
            f.flush()
            os.fsync(f.fileno())

    def close(self) -> None:
        self.flush()
        self._events.close()
        self._letters.close()
