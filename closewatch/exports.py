"""Events and tracks written for people and other tools: JSON Lines, CSV, GeoJSON.

JSON Lines lines are the values of the Kafka topics (``alerts.codec``), so every tool that
reads the topics reads these files. The CSV has one row per event revision with the
fields an analyst sorts and filters by, the metrics as one column each.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterable, Sequence

from alerts.codec import encode_event, track_to_json
from config.records import TrackUpdate
from proximity.events import Event

__all__ = ["write_events_csv", "write_events_jsonl", "write_tracks_geojson"]

_EVENT_COLUMNS = ["time", "t_s", "event_id", "seq", "kind", "state", "severity", "subjects", "zone_id", "zone_name",
                  "integrity_suspect", "close_reason", "detected_s", "summary"]


def write_events_jsonl(events: Iterable[Event], path: Path) -> Path:
    """One event revision per line, as the events topic carries it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    return path


def write_events_csv(events: Sequence[Event], path: Path) -> Path:
    """One row per revision; the metrics (every name any revision has) as columns after the fields."""
    from config.times import format_utc

    metrics = sorted({k for e in events for k in e.metrics})
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(_EVENT_COLUMNS + metrics)
        for e in events:
            w.writerow([
                format_utc(e.t_s, "milliseconds"), repr(e.t_s), e.event_id, e.seq, e.kind, e.state, e.severity,
                " ".join(s.track_id for s in e.subjects), e.zone_id or "", e.zone_name or "",
                str(e.integrity_suspect).lower(), e.close_reason or "",
                repr(e.detected_s) if e.detected_s is not None else "", e.summary,
            ] + [repr(float(e.metrics[k])) if k in e.metrics else "" for k in metrics])
    return path


def write_tracks_geojson(updates: Iterable[TrackUpdate], path: Path) -> Path:
    """A FeatureCollection: per track a LineString of its positions (a Point if it has one) with
    ``track_id``, ``times_s`` (the time of each position) and the track's last report (``last``);
    every field of every report is in the GeoParquet beside it."""
    by_track: dict[str, list[TrackUpdate]] = {}
    for u in updates:
        by_track.setdefault(u.track_id, []).append(u)
    features = []
    for tid in sorted(by_track):
        ups = sorted(by_track[tid], key=lambda u: u.t_s)
        coords = [[u.lon_deg, u.lat_deg] for u in ups]
        geometry = {"type": "Point", "coordinates": coords[0]} if len(coords) == 1 else \
            {"type": "LineString", "coordinates": coords}
        features.append({
            "type": "Feature",
            "id": tid,
            "geometry": geometry,
            "properties": {"track_id": tid, "times_s": [u.t_s for u in ups], "last": track_to_json(ups[-1])},
        })
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, sort_keys=True,
                               ensure_ascii=False) + "\n", encoding="utf-8")
    return path
