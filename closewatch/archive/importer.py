"""Filling the archive from what runs left elsewhere: feed recordings, JSON Lines sink files, Kafka.

* **Feed recordings** are decoded by the feeds' own decoders (no engine runs) and merged by
  data time as ``closewatch run`` merges file feeds, so the archive's arrival order is the
  one a run over them would have: a replay of the import is that run. Notified areas become
  zones (``proximity.notices``), undecodable lines dead letters.
* **JSON Lines files** a run wrote (``[sinks]``: events, tracks, dead letters; recognised by
  their lines) are taken as they are: events with their detection times.
* **Kafka**: the tracks, events and dead-letter topics of ``[kafka]``, each from data time
  ``start_s`` to before ``end_s`` (``alerts.history``: ``offsets_for_times``, then by data time).

Every import is one run of the archive (``runs/<id>.json``, kind ``import``) whose zone
catalogue is the configuration's.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from closewatch.archive.sink import ArchiveSink
from closewatch.feedfiles import FeedFileError, feed_for, merged_items, unit_count
from closewatch.progress import Progress
from config.records import DeadLetter, Notice, TrackUpdate
from config.settings import Settings
from config.zones import load_catalogue
from proximity.errors import NoticeError
from proximity.notices import zone_from_notice

__all__ = ["ImportCounts", "import_kafka", "import_recordings", "jsonl_kind"]

log = logging.getLogger(__name__)

_BATCH = 20_000


@dataclass
class ImportCounts:
    tracks: int = 0
    events: int = 0
    deadletters: int = 0
    zones: int = 0
    unusable: int = 0  # lines of JSON Lines files that were not a record

    def line(self) -> str:
        return (f"{self.tracks:,} track updates, {self.events:,} event revisions, {self.deadletters:,} dead letters, "
                f"{self.zones:,} notified zones" + (f"; {self.unusable:,} lines not used" if self.unusable else ""))


def jsonl_kind(path: Path) -> str | None:
    """``events``, ``tracks`` or ``deadletters`` for a JSON Lines file closewatch wrote (by its first
    line: the values of the Kafka topics), None for anything else."""
    try:
        with path.open("rb") as f:
            first = next((line for line in f if line.strip()), b"")
        obj = json.loads(first)
    except (OSError, ValueError):
        return None
    if not isinstance(obj, dict):
        return None
    if obj.get("type") == "Feature" and isinstance(obj.get("properties"), dict) and "event_id" in obj["properties"]:
        return "events"
    if "schema_version" in obj and "raw_base64" in obj or obj.get("record") == "feed_health":
        return "deadletters"
    if "schema_version" in obj and "track_id" in obj:
        return "tracks"
    return None


class _Batches:
    """Records handed to the sink in batches, counted."""

    def __init__(self, sink: ArchiveSink, counts: ImportCounts) -> None:
        self.sink = sink
        self.counts = counts
        self.tracks: list[TrackUpdate] = []
        self.letters: list[DeadLetter] = []

    def track(self, u: TrackUpdate) -> None:
        self.tracks.append(u)
        if len(self.tracks) >= _BATCH:
            self.flush()

    def letter(self, d: DeadLetter) -> None:
        self.flush()  # the letter after the tracks before it: its data time is theirs
        self.letters.append(d)
        self.flush()

    def flush(self) -> None:
        if self.tracks:
            self.sink.publish_tracks(self.tracks)
            self.counts.tracks += len(self.tracks)
            self.tracks = []
        if self.letters:
            self.sink.publish_deadletters(self.letters)
            self.counts.deadletters += len(self.letters)
            self.letters = []


def _jsonl_records(path: Path, convert: Callable[[dict[str, Any]], Any], counts: ImportCounts,
                   progress: Progress) -> Iterator[Any]:
    with path.open("rb") as f:
        for n, line in enumerate(f, start=1):
            progress.update(1)
            if not line.strip():
                continue
            try:
                yield convert(json.loads(line))
            except (ValueError, TypeError, KeyError) as e:
                counts.unusable += 1
                log.warning("%s:%d: not imported: %s", path, n, e)


def _event(obj: dict[str, Any]) -> Any:
    from alerts.codec import event_from_feature

    return event_from_feature(obj)


def _track(obj: dict[str, Any]) -> TrackUpdate:
    from maps.features import track_update

    return track_update(obj)


def _letter(obj: dict[str, Any]) -> DeadLetter | None:
    """The dead letter of a dead-letter value; None for a feed health record (they share the
    dead-letter file and topic; the archive keeps dead letters only)."""
    if obj.get("record") == "feed_health" or "state" in obj and "raw_base64" not in obj:
        return None
    return DeadLetter(str(obj["feed"]), int(obj["position"]), base64.b64decode(obj["raw_base64"]), str(obj["reason"]),
                      obj.get("received_s"), obj.get("stage", "decode"))


def _import_jsonl(path: Path, kind: str, batches: _Batches, progress: Progress) -> None:
    counts = batches.counts
    if kind == "tracks":
        for u in _jsonl_records(path, _track, counts, progress):
            batches.track(u)
    elif kind == "deadletters":
        for d in _jsonl_records(path, _letter, counts, progress):
            if d is not None:
                batches.letter(d)
    else:
        chunk = []
        for e in _jsonl_records(path, _event, counts, progress):
            chunk.append(e)
            if len(chunk) >= _BATCH:
                batches.sink.publish_events(chunk)
                counts.events += len(chunk)
                chunk = []
        if chunk:
            batches.sink.publish_events(chunk)
            counts.events += len(chunk)
    batches.flush()


def _line_count(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def import_recordings(specs: Iterable[str], settings: Settings, sink: ArchiveSink) -> ImportCounts:
    """Import feed recordings and closewatch JSON Lines files (module doc). Raises FeedFileError
    for a file that is missing or of no known format."""
    counts = ImportCounts()
    batches = _Batches(sink, counts)
    sink.publish_zones(load_catalogue(settings.zones))
    jsonl: list[tuple[Path, str]] = []
    feeds = []
    for spec in specs:
        path = Path(spec)
        kind = jsonl_kind(path) if path.is_file() else None
        if kind is not None:
            jsonl.append((path, kind))
        else:
            feeds.append(feed_for(spec, settings))
    total = sum(unit_count(f) for f in feeds) + sum(_line_count(p) for p, _ in jsonl)
    with Progress("import", total, "lines") as progress:
        if feeds:
            for _name, item in merged_items(feeds, settings, on_unit=lambda: progress.update(1)):
                if isinstance(item, TrackUpdate):
                    batches.track(item)
                elif isinstance(item, DeadLetter):
                    batches.letter(item)
                elif isinstance(item, Notice):
                    batches.flush()
                    try:
                        zone = zone_from_notice(item)
                    except NoticeError as e:
                        batches.letter(DeadLetter(item.source, 0, repr(item.area).encode(), f"impossible value: {e}"))
                        continue
                    sink.publish_zones([zone])
                    counts.zones += 1
            batches.flush()
        for path, kind in jsonl:
            _import_jsonl(path, kind, batches, progress)
    return counts


def import_kafka(settings: Settings, start_s: float | None, end_s: float | None, sink: ArchiveSink) -> ImportCounts:
    """Import the ``[kafka]`` topics from data time ``start_s`` to before ``end_s`` (``None``: all)."""
    from alerts.codec import decode_event
    from alerts.errors import AlertsError
    from alerts.history import read_by_data_time
    from closewatch.replay_inputs import value_t_s

    kafka = settings.kafka
    if kafka is None:
        raise FeedFileError("--kafka imports the topics of the [kafka] section: the configuration has none")
    counts = ImportCounts()
    batches = _Batches(sink, counts)
    sink.publish_zones(load_catalogue(settings.zones))
    for topic, kind in ((kafka.tracks_topic, "tracks"), (kafka.events_topic, "events"),
                        (kafka.deadletter_topic, "deadletters")):
        sizes: dict[int, int] = {}
        records = read_by_data_time(kafka, topic, start_s, end_s, value_t_s, sizes=sizes, slack_s=0.0)
        first = next(records, None)
        with Progress(f"import {topic}", sum(sizes.values()) or None, "records") as progress:
            chunk = []
            for r in _chain(first, records):
                progress.update(1)
                if r.t_s is not None and ((start_s is not None and r.t_s < start_s) or
                                          (end_s is not None and r.t_s >= end_s)):
                    continue
                try:
                    obj = json.loads(r.value)
                    if kind == "tracks":
                        batches.track(_track(obj))
                    elif kind == "deadletters":
                        if (letter := _letter(obj)) is not None:
                            batches.letter(letter)
                    else:
                        chunk.append(_event(decode_event(r.value)))
                except (ValueError, TypeError, KeyError, AlertsError) as e:
                    counts.unusable += 1
                    log.warning("%s[%d]@%d: not imported: %s", topic, r.partition, r.offset, e)
            batches.flush()
            if chunk:
                sink.publish_events(chunk)
                counts.events += len(chunk)
    return counts


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    if first is not None:
        yield first
    yield from rest
