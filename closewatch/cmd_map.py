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
from typing import Any, Callable, Iterator

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


def _consumer(kafka: KafkaSettings) -> Any:
    from kafka import KafkaConsumer

    return KafkaConsumer(
        client_id=f"{kafka.client_id}-map",
        group_id=None,  # every screen reads everything; nothing is committed
        enable_auto_commit=False,
        **kafka_client_settings(kafka, "kafka-python"),
    )


def follow_topics(settings: Settings, store: Any, stop: threading.Event, *, history_s: float | None = None) -> None:
    """Feed ``store`` from the tracks and events topics until ``stop`` is set.

    Events are read from the start of the topic (open incidents must be known);
    tracks from ``history_s`` ago (default: the longest stale time) on. Tracks
    expire on the data time of the newest message.
    """
    from kafka import TopicPartition

    kafka = settings.kafka
    if kafka is None:
        raise ConfigError("map serve reads the Kafka topics: configure [kafka]")
    history = history_s if history_s is not None else max(settings.proximity.stale_after_s.values())
    consumer = _consumer(kafka)
    try:
        kinds: dict[str, str] = {kafka.tracks_topic: "tracks", kafka.events_topic: "events"}
        parts: dict[str, list[Any]] = {}
        for topic in kinds:
            ids = consumer.partitions_for_topic(topic) or set()
            parts[topic] = [TopicPartition(topic, p) for p in sorted(ids)]
            if not ids:
                log.warning("topic %s has no partitions (not created yet?)", topic)
        consumer.assign(parts[kafka.tracks_topic] + parts[kafka.events_topic])
        if parts[kafka.events_topic]:
            consumer.seek_to_beginning(*parts[kafka.events_topic])
        since_ms = int((time.time() - history) * 1000)
        if parts[kafka.tracks_topic]:
            offsets = consumer.offsets_for_times({tp: since_ms for tp in parts[kafka.tracks_topic]})
            for tp in parts[kafka.tracks_topic]:
                found = offsets.get(tp)
                if found is None:
                    consumer.seek_to_end(tp)
                else:
                    consumer.seek(tp, found.offset)
        while not stop.is_set():
            batch = consumer.poll(timeout_ms=500)
            for tp, msgs in batch.items():
                for msg in msgs:
                    apply_topic_message(store, kinds[tp.topic], msg.value, f"{tp.topic}/{tp.partition}@{msg.offset}")
            now_s = store.status()["data_time_s"]
            if now_s is not None:
                store.expire(now_s)
    finally:
        consumer.close()


def _wait_for_signal() -> None:
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_a: done.set())
    done.wait()


def _cmd_serve(args: argparse.Namespace) -> int:
    from maps.errors import MapsError
    from maps.live import SituationStore
    from maps.server import LiveMapServer

    try:
        settings = load_settings(args.config)
        if settings.kafka is None:
            raise ConfigError(
                f"{args.config or '(defaults)'}: map serve reads the Kafka topics: configure [kafka] "
                "(`closewatch run` serves the map of its own pipeline without Kafka)"
            )
        kafka_client_settings(settings.kafka, "kafka-python")  # what the consumer will need is there
    except ConfigError as e:
        print(f"closewatch map serve: {e}", file=sys.stderr)
        return EXIT_USAGE
    m = settings.map
    from closewatch.cmd_run import country_outlines
    from config.zones import ZoneCatalogueError, load_catalogue

    try:
        zones = load_catalogue(settings.zones)
    except ZoneCatalogueError as e:
        print(f"closewatch map serve: zones: {e}", file=sys.stderr)
        return EXIT_USAGE
    store = SituationStore.from_settings(settings, zones)
    stop = threading.Event()
    try:
        server = LiveMapServer(
            store,
            host=args.host or m.host,
            port=m.port if args.port is None else args.port,
            token=m.token,
            refresh_s=m.refresh_s,
            zones=zones,
            outlines=country_outlines(),
            tile_url=m.tile_url,
        ).start()
    except MapsError as e:
        print(f"closewatch map serve: {e}", file=sys.stderr)
        return EXIT_FAILURE
    feeder_error: list[BaseException] = []

    def feed() -> None:
        try:
            follow_topics(settings, store, stop)
        except Exception as e:  # reported on stderr by the main thread
            feeder_error.append(e)

    feeder = threading.Thread(target=feed, name="closewatch-map-kafka", daemon=True)
    feeder.start()
    print(f"live map at {server.url}", file=sys.stderr)
    try:
        _wait_for_signal()
    finally:
        stop.set()
        feeder.join(5)
        server.stop()
    if feeder_error:
        print(f"closewatch map serve: Kafka: {feeder_error[0]}", file=sys.stderr)
        return EXIT_SERVICE
    return EXIT_OK


# ------------------------------------------------------------------ replay


def _iso_or_epoch(text: str, option: str) -> float:
    """Epoch seconds, or an ISO 8601 time with its zone (a ValueError naming ``option``)."""
    try:
        return float(text)
    except ValueError:
        return parse_utc(text, option)


def _jsonl(path: Path, convert: Callable[[dict[str, Any]], Any]) -> Iterator[Any]:
    from maps.errors import MapInputError

    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield convert(json.loads(line))
            except (ValueError, MapInputError, TypeError, AttributeError) as e:
                log.warning("%s:%d: line not used: %s", path, n, e)


def _event_line(feature: dict[str, Any]) -> dict[str, Any]:
    """A line of an events file: a value of the events topic, checked to be drawable."""
    from maps.events import read_event

    read_event(feature)
    return feature


def _cmd_replay(args: argparse.Namespace) -> int:
    from maps.errors import MapsError
    from maps.features import track_update
    from maps.replay import render_replay

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
        tracks = list(_jsonl(Path(args.tracks), track_update))
        events = list(_jsonl(Path(args.events), _event_line)) if args.events else []
        out = render_replay(
            args.out, tracks, events, window, bbox, args.max_points,
            title=args.title, tile_url=settings.map.tile_url,
            stale_after_s={str(k): v for k, v in settings.proximity.stale_after_s.items()},
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
