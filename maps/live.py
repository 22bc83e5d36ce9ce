"""The live situation behind the operations map: a thread-safe store.

The pipeline feeds it directly (``closewatch run``: :meth:`SituationStore.apply_tracks`,
:meth:`~SituationStore.apply_events`, :meth:`~SituationStore.expire`), or the
Kafka wiring of ``closewatch map serve`` feeds it from the tracks and events
topics; the map server reads :meth:`~SituationStore.snapshot` (GeoJSON per
layer, cached per version so any number of operator screens cost one encoding)
and :meth:`~SituationStore.status`.

Time: tracks expire on *data* time (``expire(now_s)``, the pipeline's clock, so a
replay behaves like a live feed); the feed is *stale* when nothing arrived for
``feed_stale_after_s`` of *wall-clock* time (``clock``), which the page shows as
a warning.

Health, shown in the page's banner: the state of the connection the store is fed
through (:meth:`SituationStore.set_connection`: ``map serve``'s Kafka consumer) and
each feed's ``feed_health`` record (:meth:`SituationStore.apply_feed_health`,
:mod:`maps.health`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from config.records import TrackUpdate, Zone
from config.settings import ProximitySettings, Settings
from config.times import format_utc
from maps.errors import MapInputError
from maps.events import EventFeature, drawable_events, event_features
from maps.health import FeedHealth, read_feed_health
from maps.features import feature_collection, track_feature, track_update, trail_feature, zone_feature
from proximity.events import Event

__all__ = ["LAYERS", "SituationStore", "Snapshot"]

log = logging.getLogger(__name__)

LAYERS = ("tracks", "trails", "events", "zones")
_STALE_AFTER_S = {str(k): v for k, v in ProximitySettings().stale_after_s.items()}
_CLOSED_MEMORY = 10_000
_FEEDS_MEMORY = 1_000  # feed_health of at most this many feeds (the oldest change forgotten first)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent picture: a GeoJSON FeatureCollection per layer."""

    version: int
    data_time_s: float | None
    layers: Mapping[str, dict[str, Any]]


class SituationStore:
    """Last position, short trail and open events, safe to feed from one thread
    and read from others.

    ``stale_after_s`` per domain (as ``proximity.stale_after_s``) decides when
    :meth:`expire` drops a track; ``trail_points``/``trail_window_s`` bound the
    trails; ``feed_stale_after_s`` is the wall-clock silence after which
    :meth:`status` reports the feed stale.
    """

    def __init__(
        self,
        zones: Sequence[Zone] = (),
        *,
        stale_after_s: Mapping[str, float] | None = None,
        trail_points: int = 20,
        trail_window_s: float = 600.0,
        feed_stale_after_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if trail_points < 2:
            raise ValueError("trail_points must be at least 2")
        self._lock = threading.Lock()
        self._zones = list(zones)
        self._stale_after_s = {**_STALE_AFTER_S, **(stale_after_s or {})}
        self._trail_points = trail_points
        self._trail_window_s = trail_window_s
        self._feed_stale_after_s = feed_stale_after_s
        self._clock = clock
        self._last: dict[str, TrackUpdate] = {}
        self._trails: dict[str, deque[TrackUpdate]] = {}
        self._open: dict[str, Event] = {}
        self._closed: OrderedDict[str, int] = OrderedDict()
        self._data_time_s: float | None = None
        self._last_input_wall_s: float | None = None
        self._version = 0
        self._cache: dict[str, tuple[int, bytes]] = {}
        self._connection: dict[str, Any] | None = None
        self._feeds: OrderedDict[str, FeedHealth] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings, zones: Sequence[Zone] = ()) -> "SituationStore":
        """A store with ``proximity.stale_after_s`` and the ``[map]`` trail and
        feed-staleness settings."""
        return cls(
            zones,
            stale_after_s={str(k): v for k, v in settings.proximity.stale_after_s.items()},
            trail_points=settings.map.trail_points,
            trail_window_s=settings.map.trail_window_s,
            feed_stale_after_s=settings.map.feed_stale_after_s,
        )

    # ----------------------------------------------------------- feeding

    def set_zones(self, zones: Sequence[Zone]) -> None:
        with self._lock:
            self._zones = list(zones)
            self._version += 1

    def apply_tracks(self, updates: Iterable[TrackUpdate | Mapping[str, Any]]) -> int:
        """Take track updates (records, or dicts from the tracks topic); older
        reports of a track than the one held are ignored. Returns how many were taken."""
        taken = 0
        converted = [u if isinstance(u, TrackUpdate) else track_update(u) for u in updates]
        with self._lock:
            for u in converted:
                have = self._last.get(u.track_id)
                if have is not None and u.t_s < have.t_s:
                    continue
                self._last[u.track_id] = u
                trail = self._trails.setdefault(u.track_id, deque(maxlen=self._trail_points))
                trail.append(u)
                while len(trail) > 1 and u.t_s - trail[0].t_s > self._trail_window_s:
                    trail.popleft()
                if self._data_time_s is None or u.t_s > self._data_time_s:
                    self._data_time_s = u.t_s
                taken += 1
            self._touch(bool(converted))
        return taken

    def apply_events(self, events: Iterable[EventFeature]) -> int:
        """Take event revisions, values of the events topic (``EventFeature``): the
        highest ``seq`` of an incident wins; ``closed`` removes it. A value that cannot
        be drawn is logged and skipped."""
        taken = 0
        revisions, _skipped = drawable_events(events)
        with self._lock:
            for rev in revisions:
                eid = rev.event_id
                closed_seq = self._closed.get(eid)
                if closed_seq is not None and rev.seq <= closed_seq:
                    continue
                have = self._open.get(eid)
                if have is not None and rev.seq < have.seq:
                    continue
                if rev.state == "closed":
                    self._open.pop(eid, None)
                    self._closed[eid] = rev.seq
                    self._closed.move_to_end(eid)
                    while len(self._closed) > _CLOSED_MEMORY:
                        self._closed.popitem(last=False)
                else:
                    self._open[eid] = rev
                if self._data_time_s is None or rev.t_s > self._data_time_s:
                    self._data_time_s = rev.t_s
                taken += 1
            self._touch(bool(revisions))
        return taken

    def expire(self, now_s: float) -> list[str]:
        """Drop tracks not heard of for longer than their domain's stale time at
        data time ``now_s``; returns their ids."""
        with self._lock:
            gone = [
                tid
                for tid, u in self._last.items()
                if now_s - u.t_s > self._stale_after_s[u.domain]
            ]
            for tid in gone:
                del self._last[tid]
                self._trails.pop(tid, None)
            if gone:
                self._version += 1
            if self._data_time_s is None or now_s > self._data_time_s:
                self._data_time_s = now_s
        return gone

    def set_connection(self, name: str, connected: bool, error: str | None = None, *,
                       since_s: float | None = None) -> None:
        """The state of the connection that feeds the store (``name``: what the page calls it,
        e.g. "Kafka 127.0.0.1:9092"): connected, or not since ``since_s`` (UTC epoch seconds,
        default now), with the ``error``. The time is kept while the state stays."""
        with self._lock:
            have = self._connection
            if have is not None and have["connected"] == connected:
                since_s = have["since_s"]
            elif since_s is None:
                since_s = self._clock()
            self._connection = {"name": name, "connected": connected, "since_s": since_s,
                                "error": None if connected else error}

    def apply_feed_health(self, records: Iterable[FeedHealth | Mapping[str, Any]]) -> int:
        """Take ``feed_health`` records (:mod:`maps.health`); the latest ``since_s`` of a feed wins.
        A record that does not fit is logged and skipped. Returns how many were taken."""
        taken = 0
        for record in records:
            try:
                h = record if isinstance(record, FeedHealth) else read_feed_health(record)
            except MapInputError as e:
                log.warning("feed health not shown: %s", e)
                continue
            with self._lock:
                have = self._feeds.get(h.feed)
                if have is not None and h.since_s < have.since_s:
                    continue
                self._feeds[h.feed] = h
                self._feeds.move_to_end(h.feed)
                while len(self._feeds) > _FEEDS_MEMORY:
                    self._feeds.popitem(last=False)
            taken += 1
        return taken

    def _touch(self, changed: bool) -> None:
        self._last_input_wall_s = self._clock()
        if changed:
            self._version += 1

    # ----------------------------------------------------------- reading

    def snapshot(self) -> Snapshot:
        with self._lock:
            last = list(self._last.values())
            trails = {tid: list(t) for tid, t in self._trails.items()}
            events = list(self._open.values())
            zones = list(self._zones)
            now_s = self._data_time_s
            version = self._version
        shown_zones = [z for z in zones if z.kind != "exercise" or (now_s is not None and z.is_active(now_s))]
        trail_feats = [f for f in (trail_feature(tid, t) for tid, t in trails.items()) if f]
        layers = {
            "tracks": feature_collection(track_feature(u) for u in last),
            "trails": feature_collection(trail_feats),
            "events": feature_collection(f for e in events for f in event_features(e)),
            "zones": feature_collection(zone_feature(z) for z in shown_zones),
        }
        return Snapshot(version, now_s, layers)

    def layer_json(self, layer: str) -> bytes:
        """One layer as GeoJSON bytes, encoded once per version."""
        if layer not in LAYERS:
            raise KeyError(layer)
        with self._lock:
            version = self._version
            cached = self._cache.get(layer)
            if cached is not None and cached[0] == version:
                return cached[1]
        snap = self.snapshot()
        body = json.dumps(snap.layers[layer], separators=(",", ":"), allow_nan=False).encode()
        with self._lock:
            self._cache[layer] = (snap.version, body)
        return body

    def status(self) -> dict[str, Any]:
        """Counts, data time, feed staleness, the connection and the feeds' health (by name)
        for the page's panel and banner."""
        with self._lock:
            wall = self._clock()
            age = None if self._last_input_wall_s is None else max(0.0, wall - self._last_input_wall_s)
            return {
                "version": self._version,
                "tracks": len(self._last),
                "open_events": len(self._open),
                "data_time_s": self._data_time_s,
                "data_time": format_utc(self._data_time_s) if self._data_time_s is not None else None,
                "feed_age_s": age,
                "feed_stale": age is None or age > self._feed_stale_after_s,
                "feed_stale_after_s": self._feed_stale_after_s,
                "connection": dict(self._connection) if self._connection is not None else None,
                "feeds": [self._feeds[name].to_json() for name in sorted(self._feeds)],
            }
