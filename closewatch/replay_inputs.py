"""Where a replay's input comes from: the archive, the Kafka topics, or feed recordings.

Each source gives the engine's input in the order the live engine got it, from the
lead-in start on (``closewatch.replay`` for the rules), the zones to start with, and the
events raised at the time when it knows them:

* **archive**: track updates by run and arrival (the live engine's own order; across
  runs, a row a later run repeats is read once), each zone a feed notified at its place
  in the track stream; settings and zone catalogue as the run recorded them, unless a
  configuration is given; the archive's events are the events raised at the time;
* **kafka**: the tracks topic from the lead-in start, partitions merged by data time; the
  notified areas come from the notice feeds (exercise-geojson, notam) of the
  configuration, as they are not on any topic; the events topic gives the events raised
  at the time;
* **files**: the recordings decoded and merged as ``closewatch run`` does, from their
  start.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from closewatch.archive.errors import ArchiveFileError
from closewatch.archive.schema import TRACK_FIELDS, events_from_table, tracks_from_table, zones_from_table
from closewatch.archive.store import Archive, RunRecord
from closewatch.feedfiles import feed_for, merged_items
from closewatch.replay import InputContinues, Item, ReplayError, Window, lead_in_s, lead_in_start, tail_s
from config.records import Notice, Zone
from config.settings import Settings
from config.zones import load_catalogue
from proximity.events import Event

__all__ = ["ReplayInput", "from_archive", "from_files", "from_input_archive", "from_kafka", "recorded_settings",
           "value_t_s"]

log = logging.getLogger(__name__)

_NOTICE_FORMATS = ("exercise-geojson", "notam")


@dataclass
class ReplayInput:
    """A replay's input: what to run with, and what to run over."""

    source: str
    settings: Settings
    zones: list[Zone]
    items: Iterator[Item]
    start_s: float
    recorded: list[Event] | None = None
    notes: list[str] = field(default_factory=list)
    skipped: list[ArchiveFileError] = field(default_factory=list)
    total: int | None = None
    run: RunRecord | None = None


# -- the archive ----------------------------------------------------------------------------


def recorded_settings(archive: Archive, run_ids: list[str]) -> tuple[Settings, RunRecord | None]:
    """The settings the first of ``run_ids`` recorded (else the archive's last run's, else the defaults)."""
    runs = {r.run_id: r for r in archive.runs()}
    candidates = [runs[r] for r in run_ids if r in runs] or list(reversed(list(runs.values())))
    for run in candidates:
        if run.settings is None:
            continue
        try:
            return Settings.model_validate(run.settings), run
        except ValueError as e:
            log.warning("run %s: its recorded settings are not usable here (%s)", run.run_id, e)
    return Settings(), None


def _catalogue(archive: Archive, run: RunRecord | None, settings: Settings, skipped: list[ArchiveFileError]
               ) -> list[Zone]:
    """The run's archived catalogue (the zones it watched from its start), else the configuration's."""
    if run is not None:
        mine = archive.read("zones", errors=skipped, where=[("run_id", "=", run.run_id), ("origin", "=", "catalogue")])
        if mine.num_rows:
            return zones_from_table(mine)
    return load_catalogue(settings.zones)


def _first_of_duplicates(tracks: pa.Table) -> pa.Table:
    """Rows of several runs: a row equal in every field to one of an earlier run is read once."""
    if tracks.num_rows == 0 or len(pc.unique(tracks.column("run_id"))) < 2:
        return tracks
    frame = tracks.select(list(TRACK_FIELDS)).flatten().to_pandas()  # the quality struct as columns
    repeated = frame.duplicated(keep="first").to_numpy()
    if repeated.any():
        log.info("archive: %d track rows repeated by a later run read once", int(repeated.sum()))
        return tracks.filter(pa.array(~repeated))
    return tracks


def _stream_keys(run_ids: pa.ChunkedArray, arrival: pa.ChunkedArray, order: dict[str, int]) -> np.ndarray:
    runs = np.array([order[r] for r in run_ids.to_pylist()], dtype=np.int64)
    return runs * (1 << 40) + arrival.to_numpy()


def _archive_items(archive: Archive, start_s: float, stop_s: float, skipped: list[ArchiveFileError],
                   tracks: pa.Table) -> Iterator[Item]:
    """The tracks of ``[start_s, stop_s)`` with the notified zones at their places, then the first
    reports after ``stop_s`` (the rest of their hour, or of the next hour that has any)."""
    tracks = _first_of_duplicates(tracks)
    run_ids = list(dict.fromkeys(tracks.column("run_id").to_pylist()))
    updates = tracks_from_table(tracks)
    feed = archive.read("zones", errors=skipped, where=[("origin", "=", "feed"), ("run_id", "in", run_ids)]) \
        if run_ids else None
    if feed is not None and feed.num_rows:
        order = {r: i for i, r in enumerate(sorted(set(run_ids)))}
        track_keys = _stream_keys(tracks.column("run_id"), tracks.column("arrival"), order)
        zone_keys = _stream_keys(feed.column("run_id"), feed.column("arrival"), order)
        places = np.searchsorted(track_keys, zone_keys, side="left")
        zones = zones_from_table(feed)
        at = 0
        for place, zone in zip(places.tolist(), zones):
            yield from updates[at:place]
            at = place
            yield zone
        yield from updates[at:]
    else:
        yield from updates
    hours = [h for h in archive.hours("tracks") if (h + 1) * 3600.0 > stop_s]
    for h in hours:
        more = archive.read("tracks", max(stop_s, h * 3600.0), (h + 1) * 3600.0, columns=TRACK_FIELDS,
                            errors=skipped)
        if more.num_rows:
            yield from tracks_from_table(more)
            return
    if skipped:
        yield InputContinues()  # what could not be read may go on: not the end of the input


def from_archive(archive: Archive, window: Window, settings: Settings | None = None, *,
                 max_lead_in_s: float | None = None) -> ReplayInput:
    """The replay input of ``window`` from ``archive`` (module doc). ``settings``: a configuration to
    run with instead of the one the live run recorded."""
    archive.require()
    skipped: list[ArchiveFileError] = []
    present = archive.read("tracks", window.from_s, window.to_s, columns=["t_s"], errors=skipped)
    run_ids = list(dict.fromkeys(present.column("run_id").to_pylist()))
    run: RunRecord | None = None
    then, then_run = recorded_settings(archive, run_ids)
    if settings is None:
        settings, run = then, then_run
        zones = _catalogue(archive, run, settings, skipped)
    else:
        zones = load_catalogue(settings.zones)
    cap = settings.archive.max_lead_in_s if max_lead_in_s is None else max_lead_in_s
    p = settings.proximity
    stop_s = window.to_s + tail_s(p)
    events = archive.read("events", window.from_s - lead_in_s(p) - cap, stop_s, errors=skipped)
    recorded = events_from_table(events)
    start_s, notes = lead_in_start(window, p, recorded, cap)
    if run is None and then_run is not None and (changes := settings_changes(then, settings)):
        notes.insert(0, f"run with the configuration given, not the one run {then_run.run_id} recorded: it judges "
                        f"differently in {'; '.join(changes)}")
    tracks = archive.read("tracks", start_s, stop_s, columns=TRACK_FIELDS, errors=skipped)
    source = f"archive {archive.root}"
    return ReplayInput(source, settings, zones, _archive_items(archive, start_s, stop_s, skipped, tracks), start_s,
                       recorded, notes, skipped, tracks.num_rows, run)


# the sections of the settings that decide the events (the others say where data come from and go)
_JUDGING = ("proximity", "zones", "sides", "classification", "rules")


def settings_changes(then: Settings, now: Settings, most: int = 6) -> list[str]:
    """What ``now`` judges differently from ``then``: each changed setting of the sections that
    decide the events, as ``key.path: then -> now`` (at most ``most``, then how many more)."""

    def leaves(obj: Any, path: str) -> Iterator[tuple[str, Any]]:
        if isinstance(obj, dict):
            for k in sorted(obj):
                yield from leaves(obj[k], f"{path}.{k}")
        else:
            yield path, obj

    a, b = then.model_dump(mode="json"), now.model_dump(mode="json")
    old = dict(kv for section in _JUDGING for kv in leaves(a[section], section))
    new = dict(kv for section in _JUDGING for kv in leaves(b[section], section))
    changed = [f"{k}: {json.dumps(old.get(k))} -> {json.dumps(new.get(k))}"
               for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)]
    return changed[:most] + ([f"and {len(changed) - most} more"] if len(changed) > most else [])


def from_input_archive(archive: Archive, window: Window, settings: Settings, start_s: float) -> ReplayInput:
    """A report's own input (``input/``): one run's tracks and zones, run with ``settings`` from the
    lead-in start the report recorded (no search for open incidents: the report did it)."""
    skipped: list[ArchiveFileError] = []
    catalogue = zones_from_table(archive.read("zones", errors=skipped, where=[("origin", "=", "catalogue")]))
    stop_s = window.to_s + tail_s(settings.proximity)
    tracks = archive.read("tracks", start_s, stop_s, columns=TRACK_FIELDS, errors=skipped)
    return ReplayInput(f"report input {archive.root}", settings, catalogue,
                       _archive_items(archive, start_s, stop_s, skipped, tracks), start_s, None, [], skipped,
                       tracks.num_rows)


# -- Kafka -------------------------------------------------------------------------------------


def value_t_s(value: bytes) -> float | None:
    """The data time of a value of the tracks or events topic (``t_s``), or a dead letter's ``received_s``."""
    try:
        obj = json.loads(value)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    props = obj.get("properties")
    for t in (obj.get("t_s"), props.get("t_s") if isinstance(props, dict) else None, obj.get("received_s")):
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            return float(t)
    return None


def _notices(settings: Settings) -> list[Notice]:
    feeds = [f for f in settings.feeds if f.format in _NOTICE_FORMATS and f.transport == "file"]
    return [item for _name, item in merged_items(feeds, settings) if isinstance(item, Notice)] if feeds else []


def from_kafka(settings: Settings, window: Window, *, max_lead_in_s: float | None = None) -> ReplayInput:
    """The replay input of ``window`` from the ``[kafka]`` topics of ``settings`` (module doc)."""
    from alerts.codec import decode_event, event_from_feature
    from alerts.errors import AlertsError
    from alerts.history import read_by_data_time
    from maps.errors import MapInputError
    from maps.features import track_update

    kafka = settings.kafka
    if kafka is None:
        raise ReplayError("--source kafka reads the topics of the [kafka] section: the configuration has none")
    p = settings.proximity
    cap = settings.archive.max_lead_in_s if max_lead_in_s is None else max_lead_in_s
    stop_s = window.to_s + tail_s(p)
    recorded: list[Event] = []
    for r in read_by_data_time(kafka, kafka.events_topic, window.from_s - lead_in_s(p) - cap, stop_s, value_t_s):
        try:
            recorded.append(event_from_feature(decode_event(r.value)))
        except AlertsError as e:
            log.warning("%s[%d]@%d: not an event: %s", kafka.events_topic, r.partition, r.offset, e)
    start_s, notes = lead_in_start(window, p, recorded, cap)
    notices = _notices(settings)
    sizes: dict[int, int] = {}

    def items() -> Iterator[Item]:
        yield from notices
        for r in read_by_data_time(kafka, kafka.tracks_topic, start_s, stop_s, value_t_s, sizes=sizes):
            try:
                yield track_update(json.loads(r.value))
            except (ValueError, MapInputError) as e:
                log.warning("%s[%d]@%d: not a track update: %s", kafka.tracks_topic, r.partition, r.offset, e)

    if not notices and any(f.format in _NOTICE_FORMATS for f in settings.feeds):
        log.warning("the configuration's notice feeds are not files: the replay watches the catalogue only")
    return ReplayInput(f"Kafka topic {kafka.tracks_topic} on {kafka.bootstrap_servers}", settings,
                       load_catalogue(settings.zones), items(), start_s, recorded, notes)


# -- feed recordings ---------------------------------------------------------------------------


def from_files(settings: Settings, specs: list[str]) -> ReplayInput:
    """The replay input from feed recordings (``FORMAT:PATH`` or ``PATH``), read from their start."""
    feeds = [feed_for(s, settings) for s in specs]

    def items() -> Iterator[Any]:
        for _name, item in merged_items(feeds, settings):
            yield item

    names = ", ".join(f"{f.path} ({f.format})" for f in feeds)
    return ReplayInput(f"feed files {names}", settings, load_catalogue(settings.zones), items(), -math.inf)
