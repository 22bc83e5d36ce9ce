"""`closewatch map ...` commands: offline assets, the live map server, the replay.

* ``map assets`` - fetch Leaflet and its plugins from the npm registry into the cache;
* ``map serve`` - the live map for any number of operator screens, fed from the
  Kafka tracks and events topics (``closewatch run`` serves the map of its own
  pipeline directly, without Kafka, through :func:`maps.server.serve_live_map`);
* ``map replay`` - the self-contained incident replay from JSON Lines files.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from config.kafka_clients import kafka_client_settings
from config.settings import ConfigError, KafkaSettings, Settings, load_settings
from config.times import parse_utc

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVICE = 0, 1, 2, 3

__all__ = ["add_parser", "apply_topic_message", "follow_topics"]


def _cmd_assets(args: argparse.Namespace) -> int:
    from maps.assets import fetch_assets
    from maps.errors import AssetsError

    try:
        root = fetch_assets(Path(args.dest) if args.dest else None, force=args.force)
    except AssetsError as e:
        print(f"closewatch map assets: {e}", file=sys.stderr)
        return EXIT_SERVICE
    print(root)
    return EXIT_OK


# ------------------------------------------------------------------ Kafka feed


def apply_topic_message(store: Any, kind: str, value: bytes, where: str) -> bool:
    """Decode one message of the tracks or events topic into ``store``; a message
    that cannot be used is logged with ``where`` (topic/partition/offset) and
    skipped, the stream goes on. Returns whether it was used."""
    from maps.errors import MapInputError

    if kind == "events":
        from alerts.codec import decode_event
        from alerts.errors import CodecError

        try:
            feature = decode_event(value)
        except CodecError as e:
            log.warning("%s: message not used: %s", where, e)
            return False
        return store.apply_events([feature]) == 1  # an unusable event is logged by the store
    try:
        # the track topic's flat JSON object (alerts.codec.track_to_json); extra keys ignored
        return store.apply_tracks([json.loads(value)]) == 1
    except (ValueError, TypeError, AttributeError, MapInputError) as e:
        log.warning("%s: message not used: %s", where, e)
        return False


# The map's consumer notices an outage quickly and reconnects on its own within seconds.
_CONSUMER_TIMEOUTS = {"bootstrap_timeout_ms": 5_000, "request_timeout_ms": 10_000, "reconnect_backoff_max_ms": 5_000}
_PROBE_TIMEOUT_MS = 5_000


def _consumer(kafka: KafkaSettings) -> Any:
    from kafka import KafkaConsumer

    return KafkaConsumer(
        client_id=f"{kafka.client_id}-map",
        group_id=None,  # every screen reads everything; nothing is committed
        enable_auto_commit=False,
        **_CONSUMER_TIMEOUTS,
        **kafka_client_settings(kafka, "kafka-python"),
    )


class _Lost(Exception):
    """The broker stopped answering the follower's probe."""


class _TopicFollower:
    """One consumer assigned to every partition of the tracks, events and dead-letter topics;
    it remembers its own positions, so a new assignment (a topic created late) or a new
    consumer (after an outage) goes on where it stopped."""

    def __init__(self, settings: Settings, store: Any, history_s: float) -> None:
        assert settings.kafka is not None
        self.kafka = settings.kafka
        self.store = store
        self.history_s = history_s
        k = self.kafka
        self.kinds = {k.tracks_topic: "tracks", k.events_topic: "events", k.deadletter_topic: "deadletters"}
        self.positions: dict[Any, int] = {}  # TopicPartition -> next offset
        self.consumer: Any = None

    def connect(self) -> None:
        self.close()
        self.consumer = _consumer(self.kafka)
        self.assign()

    def missing_topics(self) -> list[str]:
        assigned = {tp.topic for tp in self.consumer.assignment()} if self.consumer is not None else set()
        return [t for t in self.kinds if t not in assigned]

    def assign(self) -> None:
        """Assign every partition of the topics that exist and seek each new one: events from
        the start (open incidents must be known), tracks and dead letters from ``history_s`` ago."""
        from kafka import TopicPartition

        c = self.consumer
        parts = [TopicPartition(t, p) for t in self.kinds for p in sorted(c.partitions_for_topic(t) or ())]
        if not parts or set(parts) == set(c.assignment()):
            return
        c.assign(parts)
        fresh = [tp for tp in parts if tp not in self.positions]
        since_ms = int((time.time() - self.history_s) * 1000)
        recent = [tp for tp in fresh if self.kinds[tp.topic] != "events"]
        found = c.offsets_for_times({tp: since_ms for tp in recent}) if recent else {}
        for tp in parts:
            if tp in self.positions:
                c.seek(tp, self.positions[tp])
            elif self.kinds[tp.topic] == "events":
                c.seek_to_beginning(tp)
            elif found.get(tp) is not None:
                c.seek(tp, found[tp].offset)
            else:
                c.seek_to_end(tp)
        if missing := self.missing_topics():
            log.info("map: topic %s not there yet; looking again every few seconds", ", ".join(missing))

    def poll(self, stop: threading.Event) -> None:
        if not self.consumer.assignment():
            stop.wait(0.5)  # no topic yet: nothing to poll
            return
        batch = self.consumer.poll(timeout_ms=500)
        for tp, msgs in batch.items():
            for msg in msgs:
                where = f"{tp.topic}/{tp.partition}@{msg.offset}"
                kind = self.kinds[tp.topic]
                if kind == "deadletters":
                    _apply_feed_health(self.store, msg.headers or (), msg.value, where)
                else:
                    apply_topic_message(self.store, kind, msg.value, where)
                self.positions[tp] = msg.offset + 1
        now_s = self.store.status()["data_time_s"]
        if now_s is not None:
            self.store.expire(now_s)

    def probe(self) -> None:
        """A request the broker must answer (end offsets, or the topics while one is missing)."""
        from kafka.errors import KafkaError

        c = self.consumer
        try:
            if c.assignment():
                c.end_offsets(list(c.assignment()), timeout_ms=_PROBE_TIMEOUT_MS)
            if self.missing_topics():
                self.assign()
        except KafkaError as e:
            raise _Lost(str(e) or type(e).__name__) from e

    def close(self) -> None:
        if self.consumer is not None:
            try:
                self.consumer.close()
            except Exception as e:  # noqa: BLE001 - a consumer of a dead broker may fail to close; go on
                log.debug("map: closing the consumer: %s", e)
            self.consumer = None


def _apply_feed_health(store: Any, headers: Any, value: bytes | None, where: str) -> bool:
    """A ``feed_health`` record of the dead-letter topic (its ``ce_type`` header) into ``store``;
    the dead letters themselves are not the map's business."""
    from maps.health import FEED_HEALTH_CE_TYPE

    if not any(k == "ce_type" and v == FEED_HEALTH_CE_TYPE.encode() for k, v in headers):
        return False
    try:
        record = json.loads(value or b"")
    except ValueError as e:
        log.warning("%s: feed_health not used: %s", where, e)
        return False
    return store.apply_feed_health([record]) == 1


def follow_topics(
    settings: Settings,
    store: Any,
    stop: threading.Event,
    *,
    history_s: float | None = None,
    retry_initial_s: float = 1.0,
    retry_max_s: float = 10.0,
    probe_every_s: float = 3.0,
) -> None:
    """Feed ``store`` from the tracks and events topics (and the ``feed_health`` records of the
    dead-letter topic) until ``stop`` is set, whatever the broker does.

    Events are read from the start of the topic (open incidents must be known); tracks and
    feed health from ``history_s`` ago (default: the longest stale time). Tracks expire on
    the data time of the newest message. While the broker cannot be reached (at the start,
    or later: a probe every ``probe_every_s``), :meth:`~maps.live.SituationStore.set_connection`
    tells the page, and the follower tries again with a backoff from ``retry_initial_s`` to
    ``retry_max_s``; it recovers by itself when the broker answers again.
    """
    from ingest.transports import Backoff
    from kafka.errors import KafkaError

    kafka = settings.kafka
    if kafka is None:
        raise ConfigError("map serve reads the Kafka topics: configure [kafka]")
    history = history_s if history_s is not None else max(settings.proximity.stale_after_s.values())
    name = f"Kafka {kafka.bootstrap_servers}"
    follower = _TopicFollower(settings, store, history)
    backoff = Backoff(retry_initial_s, retry_max_s)
    last_contact_s = time.time()  # the page says "no connection since" the last answer (or the start)
    down_since: float | None = None

    def lost(reason: str) -> None:
        nonlocal down_since
        store.set_connection(name, False, reason, since_s=last_contact_s)
        if down_since is None:
            down_since = last_contact_s
            log.warning("map: no connection to %s: %s; retrying", name, reason)

    try:
        while not stop.is_set():
            try:
                if follower.consumer is None:
                    follower.connect()
                else:
                    follower.probe()  # after an outage: is the broker back?
                store.set_connection(name, True)
                if down_since is not None:
                    log.info("map: connected to %s again after %.0f s", name, time.time() - down_since)
                    down_since = None
                backoff.reset()
                last_contact_s = time.time()
                next_probe = time.monotonic() + probe_every_s
                while not stop.is_set():
                    follower.poll(stop)
                    if time.monotonic() >= next_probe:
                        follower.probe()
                        last_contact_s = time.time()
                        next_probe = time.monotonic() + probe_every_s
            except _Lost as e:
                lost(str(e))  # the consumer reconnects by itself and keeps its positions
                stop.wait(backoff.step())
            except (KafkaError, OSError) as e:
                lost(str(e) or type(e).__name__)
                follower.close()
                stop.wait(backoff.step())
            except Exception as e:  # noqa: BLE001 - the map server goes on; say what broke
                log.exception("map: following %s failed; starting again", name)
                lost(f"{type(e).__name__}: {e}")
                follower.close()
                stop.wait(backoff.step())
    finally:
        follower.close()


def _wait_for_signal() -> None:
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_a: done.set())
    done.wait()


def _cmd_serve(args: argparse.Namespace) -> int:
    from closewatch.cmd_run import country_outlines
    from closewatch.preflight import load_checked
    from config.zones import load_catalogue
    from maps.errors import MapsError
    from maps.live import SituationStore
    from maps.server import serve_live_map

    try:
        settings = load_checked(args.config, run=False)
        if settings.kafka is None:
            raise ConfigError(
                f"{args.config or '(defaults)'}: map serve reads the Kafka topics: configure [kafka] "
                "(`closewatch run` serves the map of its own pipeline without Kafka)"
            )
        kafka_client_settings(settings.kafka, "kafka-python")  # what the consumer will need is there
    except ConfigError as e:
        print(f"closewatch map serve: {e}", file=sys.stderr)
        return EXIT_USAGE
    zones = load_catalogue(settings.zones)  # checked above
    store = SituationStore.from_settings(settings, zones)
    try:
        server = serve_live_map(store, settings.map, zones=zones, outlines=country_outlines(), host=args.host,
                                port=args.port)
    except MapsError as e:
        print(f"closewatch map serve: {e}", file=sys.stderr)
        return EXIT_FAILURE
    if args.verbose < 2:
        # kafka-python logs every refused connection; the follower says it once per outage
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    stop = threading.Event()
    feeder = threading.Thread(target=follow_topics, args=(settings, store, stop), name="closewatch-map-kafka",
                              daemon=True)
    feeder.start()
    print(f"live map at {server.url}", file=sys.stderr, flush=True)
    try:
        _wait_for_signal()
    finally:
        stop.set()
        feeder.join(15)
        server.stop()
    return EXIT_OK


# ------------------------------------------------------------------ replay


def _iso_or_epoch(text: str, option: str) -> float:
    """Epoch seconds, or an ISO 8601 time with its zone (a ValueError naming ``option``)."""
    try:
        return float(text)
    except ValueError:
        return parse_utc(text, option)


def _event_line(feature: dict[str, Any]) -> dict[str, Any]:
    """A line of an events file: a value of the events topic, checked to be drawable."""
    from maps.events import read_event

    read_event(feature)
    return feature


def _cmd_replay(args: argparse.Namespace) -> int:
    from maps.errors import MapsError
    from maps.features import track_update
    from maps.replay import read_jsonl, render_replay

    try:
        window = None
        if args.start or args.end:
            if not (args.start and args.end):
                raise ValueError("give both --from and --to")
            window = (_iso_or_epoch(args.start, "--from"), _iso_or_epoch(args.end, "--to"))
        bbox = None
        if args.bbox:
            parts = [float(v) for v in args.bbox.split(",")]
            if len(parts) != 4:
                raise ValueError("--bbox is west,south,east,north")
            bbox = (parts[0], parts[1], parts[2], parts[3])
        settings = load_settings(args.config)
    except (ValueError, ConfigError) as e:
        print(f"closewatch map replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        inputs = [read_jsonl(args.tracks, track_update)]
        if args.events:
            inputs.append(read_jsonl(args.events, _event_line))
        notes = [n for n in (i.sentence() for i in inputs) if n]
        for note in notes:  # each bad line was logged; this is the count
            print(f"closewatch map replay: {note}", file=sys.stderr)
        out = render_replay(
            args.out, inputs[0].items, inputs[1].items if args.events else [], window, bbox, args.max_points,
            title=args.title, tile_url=settings.map.tile_url,
            stale_after_s={str(k): v for k, v in settings.proximity.stale_after_s.items()},
            notes=notes,
        )
    except OSError as e:
        print(f"closewatch map replay: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except MapsError as e:
        print(f"closewatch map replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(out)
    return EXIT_OK


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register `closewatch map assets|serve|replay`."""
    p = sub.add_parser("map", help="map pages: offline assets, live map server, replay")
    msub = p.add_subparsers(dest="map_command", metavar="MAP_COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], summary: str, description: str
                ) -> argparse.ArgumentParser:
        c = msub.add_parser(name, help=summary, description=description)
        c.set_defaults(handler=handler)
        return c

    a = command("assets", _cmd_assets, "fetch Leaflet and its plugins from the npm registry into the cache (idempotent)",
                "Install the pinned npm packages of maps/package-lock.json into "
                "$CLOSEWATCH_CACHE/map-assets (default ~/.cache/closewatch/map-assets) with `npm ci`. "
                "Prints the folder. Runs nothing when the pinned versions are already there.")
    a.add_argument("--dest", help="install here instead of the cache")
    a.add_argument("--force", action="store_true", help="reinstall even when present")

    s = command("serve", _cmd_serve, "serve the live map, fed from the Kafka tracks and events topics",
                "Serve the live operations map (map.host:map.port, 127.0.0.1:8765 by default; "
                "any other address needs map.token) fed from the [kafka] tracks and events topics. "
                "Stops on Ctrl-C / SIGTERM.")
    s.add_argument("-c", "--config", help="closewatch.toml (needs a [kafka] section)")
    s.add_argument("--host", help="override map.host")
    s.add_argument("--port", type=int, help="override map.port (0: any free port)")

    r = command("replay", _cmd_replay, "write a self-contained incident replay (HTML) for a time window and area",
                "Read track updates and events (JSON Lines: a track update per line, the events "
                "as the events topic carries them, one GeoJSON Feature per line, e.g. closewatch-events.jsonl; "
                "unusable lines are reported and skipped) and write one HTML file with a time slider and "
                "the table of events.")
    r.add_argument("--tracks", required=True, help="track updates, JSON Lines")
    r.add_argument("--events", help="events, JSON Lines (e.g. closewatch-events.jsonl)")
    r.add_argument("--from", dest="start", help="window start, ISO 8601 with a zone (…Z) or epoch seconds")
    r.add_argument("--to", dest="end", help="window end")
    r.add_argument("--bbox", help="area: west,south,east,north in degrees")
    r.add_argument("--max-points", type=int, default=10_000, help="at most this many track positions drawn")
    r.add_argument("--title", default="closewatch incident replay")
    r.add_argument("-o", "--out", default="closewatch-replay.html", help="output HTML file")
    r.add_argument("-c", "--config", help="closewatch.toml (stale times, tile URL)")

    def _usage(_args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=_usage)
