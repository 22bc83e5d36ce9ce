"""Sinks that are not Kafka: JSON Lines files (the embedded default), the live map, a recorder.

The JSON Lines event file holds exactly the values the Kafka events topic would
carry (one GeoJSON Feature per line, ``alerts.codec``), so a consumer can switch
between the two without a new parser. The map sinks hand the maps the same Feature
(``alerts.codec.event_to_feature``): the maps read one shape of event, wherever it
comes from.
"""

from __future__ import annotations

import os
from pathlib import Path
from collections import defaultdict
from typing import IO, Any, Sequence

from alerts.codec import encode_deadletter, encode_event, encode_track, event_to_feature
from config.records import DeadLetter, TrackUpdate, Zone
from proximity.events import Event

__all__ = ["JsonlSink", "MapStoreSink", "OutputExistsError", "RecorderSink", "holds_output"]


class OutputExistsError(FileExistsError):
    """A run's output file already holds an earlier run's lines (and appending was not asked for)."""


def holds_output(path: str | Path) -> bool:
    """Whether ``path`` holds an earlier run's lines (a file that is not empty): a run refuses it without ``--append``."""
    p = Path(path)
    return p.is_file() and p.stat().st_size > 0


class JsonlSink:
    """Events, dead letters and (optionally) tracks written to JSON Lines files, fsynced at each flush.

    Each line is the value the matching Kafka topic would carry (``alerts.codec``). A run
    never adds to an earlier run's file silently: a file that exists and is not empty is
    :class:`OutputExistsError` (naming it and ``--append``) unless ``append`` is true.
    """

    def __init__(
        self,
        events_path: str | Path,
        deadletter_path: str | Path,
        tracks_path: str | Path | None = None,
        *,
        append: bool = False,
    ) -> None:
        paths = [Path(events_path), Path(deadletter_path)] + ([Path(tracks_path)] if tracks_path else [])
        for p in paths:
            if not append and holds_output(p):
                raise OutputExistsError(
                    f"{p} holds an earlier run's output; closewatch does not add to it silently: "
                    "move it away, name another file in [sinks], or pass --append to add to it"
                )
            p.parent.mkdir(parents=True, exist_ok=True)
        self._files: list[IO[bytes]] = [p.open("ab") for p in paths]
        self._events, self._letters = self._files[0], self._files[1]
        self._tracks = self._files[2] if tracks_path else None

    def publish_events(self, events: Sequence[Event]) -> None:
        self._events.write(b"".join(encode_event(e) + b"\n" for e in events))

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        if self._tracks is not None:
            self._tracks.write(b"".join(encode_track(u) + b"\n" for u in updates))

    def publish_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        self._letters.write(b"".join(encode_deadletter(d) + b"\n" for d in letters))

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        """Nothing to write: the files carry what the Kafka topics carry, and zones have no topic."""

    def sync(self) -> None:
        self.flush()

    def flush(self) -> None:
        for f in self._files:
            f.flush()
            os.fsync(f.fileno())

    def close(self) -> None:
        self.flush()
        for f in self._files:
            f.close()


class _InMemorySink:
    """A sink that keeps nothing on disk: durability calls have nothing to do."""

    def publish_events(self, events: Sequence[Event]) -> None:
        pass

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        pass

    def publish_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        pass

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        pass

    def sync(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class RecorderSink(_InMemorySink):
    """Keeps the tracks, events and zones of a run in memory, for the situation map and the
    replay at its end. Events are kept as the maps take them: the values of the events topic."""

    def __init__(self, max_points_per_track: int = 2000) -> None:
        self.tracks: dict[str, list[TrackUpdate]] = defaultdict(list)
        self.events: list[dict[str, Any]] = []  # alerts.codec.event_to_feature of each revision
        self.zones: list[Zone] = []  # the catalogue's, then those the feeds notified (exercise areas)
        self.max_points_per_track = max_points_per_track

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        self.zones.extend(zones)

    def publish_events(self, events: Sequence[Event]) -> None:
        self.events.extend(event_to_feature(e) for e in events)

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        for u in updates:
            trail = self.tracks[u.track_id]
            trail.append(u)
            if len(trail) > self.max_points_per_track:
                del trail[: len(trail) - self.max_points_per_track]


class MapStoreSink(_InMemorySink):
    """Feeds the live map's store (``maps.live.SituationStore``) straight from the pipeline."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._zones: list[Zone] = []

    def publish_events(self, events: Sequence[Event]) -> None:
        self.store.apply_events([event_to_feature(e) for e in events])

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        self.store.apply_tracks(updates)
        # Data time drives staleness, so a replay ages its tracks as the feed did.
        self.store.expire(max(u.t_s for u in updates))

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        """The catalogue, then the exercise zones notified by the feeds, on the map."""
        self._zones.extend(zones)
        self.store.set_zones(self._zones)
