"""Sinks that are not Kafka: JSON Lines files (the embedded default), the live map, a recorder.

The JSON Lines event file holds exactly the values the Kafka events topic would
carry (one GeoJSON Feature per line, ``alerts.codec``), so a consumer can switch
between the two without a new parser; the dead-letter file holds the dead-letter
topic's values, feed_health records among them (with ``"record": "feed_health"``,
where the topic says so in a header). The map sinks hand the maps the same Feature
(``alerts.codec.event_to_feature``): the maps read one shape of event, wherever it
comes from.

Memory: the recorder keeps a bounded history (``max_tracks``, ``max_events``): a run
of any length holds at most that much for its end-of-run pages.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any, Sequence

from alerts.codec import encode_deadletter, encode_event, encode_track, event_to_feature, feed_health_to_json
from config.records import DeadLetter, FeedHealth, TrackUpdate, Zone
from proximity.events import Event

__all__ = ["ContextFileSink", "FanOut", "JsonlSink", "MapStoreSink", "OutputExistsError", "RecorderSink", "holds_output"]


class OutputExistsError(FileExistsError):
    """A run's output file already holds an earlier run's lines (and appending was not asked for)."""


def holds_output(path: str | Path) -> bool:
    """Whether ``path`` holds an earlier run's lines (a file that is not empty): a run refuses it without ``--append``."""
    p = Path(path)
    return p.is_file() and p.stat().st_size > 0


log = logging.getLogger(__name__)


class JsonlSink:
    """Events, dead letters and (optionally) tracks written to JSON Lines files.

    Each line is the value the matching Kafka topic would carry (``alerts.codec``). A run
    never adds to an earlier run's file silently: a file that exists and is not empty is
    :class:`OutputExistsError` (naming it and ``--append``) unless ``append`` is true.
    ``push`` (every ``[sinks] flush_interval_s`` of a run) hands the lines to the
    operating system, so a process killed with ``kill -9`` loses nothing pushed;
    with ``fsync`` (``[sinks] fsync``, the default) ``push``, ``sync`` and
    ``close`` also fsync the files, so a machine that loses power loses nothing synced.
    """

    def __init__(
        self,
        events_path: str | Path,
        deadletter_path: str | Path,
        tracks_path: str | Path | None = None,
        *,
        append: bool = False,
        fsync: bool = True,
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
        self.fsync = fsync
        self._dirty = False
        self._closed = False

    def publish_events(self, events: Sequence[Event]) -> None:
        self._events.write(b"".join(encode_event(e) + b"\n" for e in events))
        self._dirty = True

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        if self._tracks is not None:
            self._tracks.write(b"".join(encode_track(u) + b"\n" for u in updates))
            self._dirty = True

    def publish_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        self._letters.write(b"".join(encode_deadletter(d) + b"\n" for d in letters))
        self._dirty = True

    def publish_feed_health(self, records: Sequence[FeedHealth]) -> None:
        lines = (json.dumps({**feed_health_to_json(h), "record": "feed_health"}, sort_keys=True) for h in records)
        self._letters.write("".join(line + "\n" for line in lines).encode("utf-8"))
        self._dirty = True

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        """Nothing to write: the files carry what the Kafka topics carry, and zones have no topic."""

    def push(self) -> None:
        if self._dirty and not self._closed:
            self.flush()

    def sync(self) -> None:
        self.flush()

    def flush(self) -> None:
        self._dirty = False
        for f in self._files:
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        for f in self._files:
            f.close()


class FanOut:
    """Several sinks as one, each given every record in turn (a worker's Kafka sink and its archive)."""

    def __init__(self, *sinks: Any) -> None:
        self.sinks = sinks

    def publish_events(self, events: Sequence[Event]) -> None:
        for s in self.sinks:
            s.publish_events(events)

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        for s in self.sinks:
            s.publish_tracks(updates)

    def publish_deadletters(self, letters: Sequence[DeadLetter]) -> None:
        for s in self.sinks:
            s.publish_deadletters(letters)

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        for s in self.sinks:
            s.publish_zones(zones)

    def publish_context(self, events: Sequence[Event]) -> None:
        """To the sinks that take context events (the context topic, a context file)."""
        for s in self.sinks:
            publish = getattr(s, "publish_context", None)
            if publish is not None:
                publish(events)

    def publish_feed_health(self, records: Sequence[FeedHealth]) -> None:
        for s in self.sinks:
            s.publish_feed_health(records)

    def push(self) -> None:
        for s in self.sinks:
            s.push()

    def sync(self) -> None:
        for s in self.sinks:
            s.sync()


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

    def publish_feed_health(self, records: Sequence[FeedHealth]) -> None:
        pass

    def push(self) -> None:
        pass

    def sync(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class ContextFileSink(_InMemorySink):
    """Context events (revisions of incidents the rule profile did not raise, for the tracks an
    analyst asked about: ``closewatch run --explain``) appended to a JSON Lines file, apart from
    the alerts. Each line is the event's GeoJSON Feature with ``suppressed`` saying why."""

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self._file = p.open("ab")

    def publish_context(self, events: Sequence[Event]) -> None:
        self._file.write(b"".join(encode_event(e) + b"\n" for e in events))

    def sync(self) -> None:
        self.flush()

    def flush(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self.flush()
        self._file.close()


class RecorderSink(_InMemorySink):
    """Keeps the tracks, events and zones of a run in memory, for the situation map and the
    replay at its end. Events are kept as the maps take them: the values of the events topic.

    Bounded: at most ``max_points_per_track`` positions of each of at most ``max_tracks``
    tracks (the one silent longest is forgotten first) and the last ``max_events``
    revisions; what was forgotten is counted (``forgotten_tracks``, ``forgotten_events``)
    and logged once.
    """

    def __init__(self, max_points_per_track: int = 2000, *, max_tracks: int = 50_000,
                 max_events: int = 500_000) -> None:
        self.tracks: OrderedDict[str, list[TrackUpdate]] = OrderedDict()
        self.events: list[dict[str, Any]] = []  # alerts.codec.event_to_feature of each revision
        self.zones: list[Zone] = []  # the catalogue's, then those the feeds notified (exercise areas)
        self.feed_health: dict[str, FeedHealth] = {}
        self.max_points_per_track = max_points_per_track
        self.max_tracks = max_tracks
        self.max_events = max_events
        self.forgotten_tracks = 0
        self.forgotten_events = 0

    def publish_zones(self, zones: Sequence[Zone]) -> None:
        self.zones.extend(zones)

    def publish_feed_health(self, records: Sequence[FeedHealth]) -> None:
        for h in records:
            self.feed_health[h.feed] = h

    def publish_events(self, events: Sequence[Event]) -> None:
        self.events.extend(event_to_feature(e) for e in events)
        over = len(self.events) - self.max_events
        if over > 0:
            if self.forgotten_events == 0:
                log.warning("the run's map keeps the last %d event revisions only", self.max_events)
            del self.events[:over]
            self.forgotten_events += over

    def publish_tracks(self, updates: Sequence[TrackUpdate]) -> None:
        tracks = self.tracks
        for u in updates:
            trail = tracks.get(u.track_id)
            if trail is None:
                trail = tracks[u.track_id] = []
            else:
                tracks.move_to_end(u.track_id)
            trail.append(u)
            if len(trail) > self.max_points_per_track:
                del trail[: len(trail) - self.max_points_per_track]
        while len(tracks) > self.max_tracks:
            if self.forgotten_tracks == 0:
                log.warning("the run's map keeps the %d tracks heard from last only", self.max_tracks)
            tracks.popitem(last=False)
            self.forgotten_tracks += 1


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

    def publish_feed_health(self, records: Sequence[FeedHealth]) -> None:
        """Each feed's state in the page's banner (the store of ``maps.live``, when it shows them)."""
        apply = getattr(self.store, "apply_feed_health", None)
        if apply is not None:
            apply([feed_health_to_json(h) for h in records])
