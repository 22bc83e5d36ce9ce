"""`closewatch notices check|publish`: exercise notices on the notices topic.

Either side's liaison publishes its exercise notifications (or the activity it saw with
no notice) to ``closewatch.notices.v1`` (``[kafka] notices_topic``); the other side's
closewatch reads the topic as a feed (transport ``kafka``, format ``exercise-geojson``)
and marks every event about those areas ``notified``, ``late``, ``snap_exercise`` or
``unnotified`` (``proximity.notification``).

* ``notices check FILE...``   - validate: every feature against ``alerts/schemas/
  notice.v1.json`` and through the exercise-geojson decoder ``run`` uses; each problem
  is printed as ``FILE: feature N (id): reason``. A file of ICAO NOTAMs (text) is read
  too: each NOTAM becomes a Feature of kind ``notam`` carrying its text.
* ``notices publish FILE...`` - the same checks, then every feature as one record (key:
  its id, canonical JSON, header ``ce_type`` ``org.closewatch.notice.v1``), acknowledged by
  every in-sync replica. A file with one bad feature publishes nothing: an official notice is
  corrected and sent again whole, not in part. The topic is created when missing: one
  partition (the notices keep their order), compacted (a later notice with the same id
  replaces the earlier), kept for ever.

Exit codes: 0 ok, 1 runtime failure, 2 a bad file or usage, 3 Kafka unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

__all__ = ["NOTICE_CE_TYPE", "CheckedNotice", "add_parser", "check_notice_file"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVICE = 0, 1, 2, 3

NOTICE_CE_TYPE = "org.closewatch.notice.v1"


@dataclass(frozen=True)
class CheckedNotice:
    """One feature that passed both checks: its id and its record value."""

    notice_id: str
    value: bytes


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    notices = sub.add_parser("notices", help="exercise notices: check them, publish them to the notices topic")
    nsub = notices.add_subparsers(dest="notices_command", metavar="ACTION")

    def _usage(_args: argparse.Namespace) -> int:
        notices.print_help(sys.stderr)
        return EXIT_USAGE

    notices.set_defaults(handler=_usage)
    c = nsub.add_parser("check", help="validate exercise-geojson notice files (schema notice.v1.json)")
    c.add_argument("files", nargs="+", type=Path)
    c.set_defaults(handler=_check)
    p = nsub.add_parser("publish", help="validate, then publish every notice to the notices topic")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--bootstrap", help="host:port[,host:port] (default: --config's kafka section, "
                   "else the broker of `closewatch kafka up`)")
    p.add_argument("--config", type=Path, help="closewatch.toml: bootstrap, notices_topic and TLS/SASL from [kafka]")
    p.add_argument("--topic", help="default: [kafka] notices_topic (closewatch.notices.v1)")
    p.add_argument("--state-dir", type=Path, default=Path(".closewatch") / "kafka", help=argparse.SUPPRESS)
    p.add_argument("--timeout-s", type=float, default=30.0)
    p.set_defaults(handler=_publish)


def _notam_features(raw: bytes) -> list[dict[str, Any]]:
    """ICAO NOTAMs in a text file, each as the Feature of kind ``notam`` the notices topic carries."""
    from ingest.exercise import notam_texts

    return [{"type": "Feature", "id": notam_id, "geometry": None, "properties": {"kind": "notam", "notam": text}}
            for notam_id, text in notam_texts(raw.decode("utf-8", "replace"))]


def check_notice_file(path: Path) -> tuple[list[CheckedNotice], list[str]]:
    """The notices of ``path`` and its problems (``FILE: feature N (id): reason``; none: all good)."""
    import jsonschema

    from alerts.codec import load_schema
    from config.records import DeadLetter
    from ingest.exercise import ExerciseGeoJsonDecoder, geojson_features

    try:
        raw = path.read_bytes()
    except OSError as e:
        return [], [f"{path}: cannot read: {e.strerror or e}"]
    features: list[Any] | None
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as e:
        features = _notam_features(raw)
        if not features:
            return [], [f"{path}: neither JSON ({e}) nor ICAO NOTAMs (no '(A1234/24 NOTAMN' header)"]
    else:
        features = geojson_features(doc)
        if features is None:
            return [], [f"{path}: not a GeoJSON Feature or FeatureCollection"]
    validator = jsonschema.Draft202012Validator(
        load_schema("notice.v1.json"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    problems: list[str] = []
    good: list[CheckedNotice] = []
    for n, feature in enumerate(features, start=1):
        fid = feature.get("id") if isinstance(feature, dict) else None
        where = f"{path}: feature {n}" + (f" ({fid})" if fid is not None else "")
        errors = sorted(validator.iter_errors(feature), key=lambda e: list(e.absolute_path))
        for error in errors:
            at = "/".join(map(str, error.absolute_path)) or "(feature)"
            problems.append(f"{where}: {at}: {error.message[:300]}")
        value = json.dumps(feature, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        decoded = list(ExerciseGeoJsonDecoder("notices").decode([value]))
        letters = [d for d in decoded if isinstance(d, DeadLetter)]
        problems += [f"{where}: {d.text}" for d in letters]
        if not decoded:
            problems.append(f"{where}: a cancellation or a NOTAM that names no area: closewatch would not apply it")
        if not errors and decoded and not letters:
            good.append(CheckedNotice(str(fid), value))
    return good, problems


def _check_all(files: Sequence[Path], command: str) -> tuple[list[CheckedNotice], int]:
    notices: list[CheckedNotice] = []
    bad = 0
    for path in files:
        good, problems = check_notice_file(path)
        for line in problems:
            print(f"closewatch notices {command}: {line}", file=sys.stderr)
        bad += len(problems)
        notices += good
    return notices, bad


def _check(args: argparse.Namespace) -> int:
    notices, bad = _check_all(args.files, "check")
    if bad:
        return EXIT_USAGE
    print(f"{len(notices)} notice(s) in {len(args.files)} file(s): valid")
    return EXIT_OK


def _publish(args: argparse.Namespace) -> int:
    import logging

    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    from closewatch.cmd_kafka import kafka_from_args
    from config.kafka_clients import kafka_client_settings

    notices, bad = _check_all(args.files, "publish")
    if bad:
        print(f"closewatch notices publish: {bad} problem(s): nothing published", file=sys.stderr)
        return EXIT_USAGE
    kafka = kafka_from_args(args, "notices publish")
    if isinstance(kafka, int):
        return kafka
    if not getattr(args, "verbose", 0):
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    topic = args.topic or kafka.notices_topic
    client = kafka_client_settings(kafka, "kafka-python")
    timeout_ms = int(args.timeout_s * 1000)
    try:
        admin = KafkaAdminClient(request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms, **client)
        try:
            if topic not in admin.list_topics():
                configs = {"cleanup.policy": "compact", "retention.ms": "-1"}
                try:
                    admin.create_topics([NewTopic(topic, 1, -1, topic_configs=configs)], timeout_ms=timeout_ms)
                except TopicAlreadyExistsError:
                    pass  # another publisher made it meanwhile
        finally:
            admin.close()
        producer = KafkaProducer(acks="all", request_timeout_ms=timeout_ms, max_block_ms=timeout_ms, **client)
        try:
            futures = [
                producer.send(topic, key=n.notice_id.encode(), value=n.value,
                              headers=[("ce_type", NOTICE_CE_TYPE.encode()), ("content-type", b"application/geo+json")])
                for n in notices
            ]
            producer.flush(timeout=args.timeout_s)
            for f in futures:
                f.get(timeout=args.timeout_s)
        finally:
            producer.close(timeout=5)
    except KafkaError as e:
        print(f"closewatch notices publish: Kafka at {kafka.bootstrap_servers}: {type(e).__name__}: {e}",
              file=sys.stderr)
        return EXIT_SERVICE
    print(f"published {len(notices)} notice(s) to {topic}")
    return EXIT_OK
