"""`closewatch kafka fetch|up|down|status` and `closewatch tail`.

* ``kafka fetch``  - fetch the Apache Kafka jars from Maven Central into the cache (``make kafka-jars``).
* ``kafka up``     - start the local single-node broker, detached; its state (pid, ports, data,
  log) lives in ``.closewatch/kafka/`` under the current directory; prints the bootstrap address.
* ``kafka down``   - stop it (``--purge`` also deletes its data).
* ``kafka status`` - print the bootstrap address and exit 0 if it runs, else exit 1.
* ``tail``         - print the events of the events topic for people (``--json`` for scripts);
  ``--context``: the context topic (incidents not raised, for the tracks of ``run --explain``).

Exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 Kafka/Java/Maven unreachable.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from alerts import AlertsError, BrokerError, KafkaUnreachableError
from alerts.broker import (
    KAFKA_VERSION,
    LocalBroker,
    ensure_kafka_jars,
    read_state,
    running_broker_bootstrap,
    state_is_running,
    stop_recorded,
    write_state,
)

if TYPE_CHECKING:
    from config.settings import KafkaSettings

__all__ = ["STATE_DIR", "add_parser", "kafka_from_args", "running_broker_bootstrap"]

log = logging.getLogger(__name__)

STATE_DIR = Path(".closewatch") / "kafka"

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVICE = 0, 1, 2, 3


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register ``kafka ...`` and ``tail``."""
    kafka = sub.add_parser("kafka", help="the local Apache Kafka broker (demo and tests)")
    ksub = kafka.add_subparsers(dest="kafka_command", metavar="ACTION")

    def _usage(_args: argparse.Namespace) -> int:
        kafka.print_help(sys.stderr)
        return EXIT_USAGE

    kafka.set_defaults(handler=_usage)

    p = ksub.add_parser("fetch", help=f"fetch the Apache Kafka {KAFKA_VERSION} jars into the cache")
    p.add_argument("--cache-dir", type=Path, default=None, help="default: $CLOSEWATCH_CACHE or ~/.cache/closewatch")
    p.set_defaults(handler=_fetch)

    p = ksub.add_parser("up", help="start the local broker (detached), print its bootstrap address")
    p.add_argument("--state-dir", type=Path, default=STATE_DIR)
    p.add_argument("--port", type=int, default=None, help="client port (default: a free one)")
    p.add_argument("--timeout-s", type=float, default=120.0)
    p.add_argument("--no-topics", action="store_true", help="do not create the default closewatch topics")
    p.set_defaults(handler=_up)

    p = ksub.add_parser("down", help="stop the local broker")
    p.add_argument("--state-dir", type=Path, default=STATE_DIR)
    p.add_argument("--purge", action="store_true", help="also delete its data and log")
    p.set_defaults(handler=_down)

    p = ksub.add_parser("status", help="exit 0 and print the bootstrap address if the local broker runs")
    p.add_argument("--state-dir", type=Path, default=STATE_DIR)
    p.set_defaults(handler=_status)

    t = sub.add_parser("tail", help="print closewatch events from Kafka (one line each, or --json)")
    t.add_argument("--bootstrap", help="host:port[,host:port] (default: --config's kafka section, "
                   "else the broker of `closewatch kafka up`)")
    t.add_argument("--config", type=Path, help="closewatch.toml: bootstrap, topic and TLS/SASL from [kafka]")
    t.add_argument("--state-dir", type=Path, default=STATE_DIR, help=argparse.SUPPRESS)
    t.add_argument("--topic", help="default: the configured events topic (closewatch.events.v1)")
    t.add_argument("--context", action="store_true",
                   help="read the context topic instead: incidents the rule profile did not raise, for the tracks "
                   "of run --explain, with why (default name <events topic>.context, [kafka] context_topic)")
    t.add_argument("--from-beginning", action="store_true", help="start at the oldest retained event")
    t.add_argument("--max", type=int, default=None, metavar="N", help="stop after N matching events")
    t.add_argument("--timeout-s", type=float, default=None, help="stop after this long without a message")
    t.add_argument("--json", action="store_true", help="print each event value (GeoJSON Feature) as one JSON line")
    t.add_argument("--kind", action="append", default=[], help="only these kinds (repeat or comma-separate)")
    t.add_argument("--severity", action="append", default=[], help="only these severities (info, warning, critical)")
    t.add_argument("--side", action="append", default=[], help="only events with a subject of this side")
    t.add_argument("--bbox", help="minlon,minlat,maxlon,maxlat: only events with a position inside")
    t.add_argument("--since", help="only events whose data time is at or after this ISO 8601 time (no zone: UTC)")
    t.set_defaults(handler=_tail)


def _quiet_client(args: argparse.Namespace) -> None:
    """kafka-python logs every connection attempt (INFO, ERROR on refusal): keep that for -v;
    closewatch reports failures itself."""
    if not getattr(args, "verbose", 0):
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def _fetch(args: argparse.Namespace) -> int:
    try:
        lib = ensure_kafka_jars(args.cache_dir)
    except BrokerError as e:
        print(f"closewatch kafka fetch: {e}", file=sys.stderr)
        return EXIT_SERVICE
    print(lib)
    return EXIT_OK


def _up(args: argparse.Namespace) -> int:
    _quiet_client(args)
    state_dir: Path = args.state_dir
    state = read_state(state_dir)
    if state is not None and state_is_running(state):
        print(state.bootstrap_servers)
        log.info("local Kafka already running (pid %d)", state.pid)
        return EXIT_OK
    broker = LocalBroker(state_dir.resolve(), port=args.port, detach=True)
    try:
        broker.start(timeout_s=args.timeout_s)
        write_state(state_dir, broker)
        if not args.no_topics:
            from config.settings import KafkaSettings

            from alerts.producer import KafkaSink

            sink = KafkaSink(KafkaSettings(bootstrap_servers=broker.bootstrap_servers), use_spool=False)
            sink.ensure_topics()
    except (BrokerError, AlertsError) as e:
        if broker.is_running():
            broker.stop()
        print(f"closewatch kafka up: {e}", file=sys.stderr)
        return EXIT_SERVICE
    log.info("local Kafka pid %s, log %s; stop it with `closewatch kafka down`", broker.pid, broker.log_path)
    print(broker.bootstrap_servers)
    return EXIT_OK


def _down(args: argparse.Namespace) -> int:
    ran = stop_recorded(args.state_dir)
    print("stopped" if ran else "not running")
    if args.purge:
        for name in ("data", "broker.log", "server.properties", "log4j2.properties"):
            target = args.state_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    state = read_state(args.state_dir)
    if state is None or not state_is_running(state):
        print("not running")
        return EXIT_FAILURE
    print(f"{state.bootstrap_servers} pid={state.pid} log={state.log}")
    return EXIT_OK


def _split(values: list[str]) -> frozenset[str]:
    return frozenset(v.strip() for item in values for v in item.split(",") if v.strip())


def kafka_from_args(args: argparse.Namespace, command: str) -> "KafkaSettings | int":
    """The ``[kafka]`` settings a client command talks with: ``--config``'s (``--bootstrap``
    replacing its servers), else ``--bootstrap``, else the broker of `closewatch kafka up` in
    ``--state-dir``; or the exit code after saying why there is none."""
    from config.settings import ConfigError, KafkaSettings, load_settings

    if args.config is not None:
        try:
            settings = load_settings(args.config)
        except ConfigError as e:
            print(f"closewatch {command}: {e}", file=sys.stderr)
            return EXIT_USAGE
        if settings.kafka is None:
            print(f"closewatch {command}: {args.config} has no [kafka] section", file=sys.stderr)
            return EXIT_USAGE
        kafka = settings.kafka
        return kafka.model_copy(update={"bootstrap_servers": args.bootstrap}) if args.bootstrap else kafka
    bootstrap = args.bootstrap or running_broker_bootstrap(args.state_dir)
    if bootstrap is None:
        print(f"closewatch {command}: no broker: give --bootstrap or --config, or run `closewatch kafka up`",
              file=sys.stderr)
        return EXIT_SERVICE
    return KafkaSettings(bootstrap_servers=bootstrap)


def _tail(args: argparse.Namespace) -> int:
    from alerts.consumer import EventFilter, format_event_line, parse_bbox, parse_since, subscribe

    _quiet_client(args)
    source = kafka_from_args(args, "tail")
    if isinstance(source, int):
        return source
    topic = args.topic if args.topic is not None or not args.context else source.context_topic_name
    try:
        event_filter = EventFilter(
            kinds=_split(args.kind),
            severities=_split(args.severity),
            sides=_split(args.side),
            bbox=parse_bbox(args.bbox) if args.bbox else None,
            since_s=parse_since(args.since) if args.since else None,
        )
    except AlertsError as e:
        print(f"closewatch tail: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.max is not None and args.max <= 0:
        print("closewatch tail: --max must be positive", file=sys.stderr)
        return EXIT_USAGE

    from kafka.errors import KafkaError

    count = 0
    try:
        for ev in subscribe(source, topic, from_beginning=args.from_beginning, timeout_s=args.timeout_s,
                            event_filter=event_filter):
            if args.json:
                line = json.dumps(ev.feature, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            else:
                line = format_event_line(ev.feature)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
            count += 1
            if args.max is not None and count >= args.max:
                break
    except KafkaUnreachableError as e:
        print(f"closewatch tail: {e}", file=sys.stderr)
        return EXIT_SERVICE
    except (KafkaError, AlertsError) as e:
        print(f"closewatch tail: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK
