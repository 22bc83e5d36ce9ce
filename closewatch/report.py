"""The incident report: one folder that says what happened, can be handed over, checked and re-run.

``build_report`` writes, for one incident (``event_id`` and a pad of time around it) or a
window, from the archive:

* ``index.html`` (summary, figures, every revision with the time it was raised at the time,
  the files) and ``replay.html`` (the map replay with coastlines, zones and exercise areas);
* ``timeline.png/.svg``; for close approaches ``separation-A-B.png/.svg`` (measured and
  predicted separation with the thresholds); for zone entries ``zone-T-Z.png/.svg``
  (distance to the zone edge);
* ``events.jsonl`` and ``events.csv`` (the replay's revisions of the window: the values of
  the events topic), ``carried-in.jsonl``, ``events-at-the-time.jsonl`` (the revisions the
  archive holds for the window, with their detection times);
* ``tracks.parquet`` (GeoParquet) and ``tracks.geojson``: the tracks involved, in the window;
* ``config.json`` (the configuration, no secrets), ``zones.geojson`` (every zone watched),
  ``versions.json`` (closewatch and its dependencies), ``report.json`` (what, which window,
  the lead-in start), ``README.md``;
* ``input/``: the engine's whole input (the track updates from the lead-in start, the
  zones, in order) as an archive of its own, so that the report can be re-run from itself;
* ``manifest.json``: the SHA-256 and size of every file; with a signing key,
  ``manifest.sig`` (Ed25519 over the manifest's bytes, base64) and ``signer.pub``.

``verify_report`` checks every checksum (a changed, missing or added file fails, named),
the signature, then re-runs the engine over ``input/`` with ``config.json`` and confirms the
revisions of ``events.jsonl`` byte for byte but for the detection time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import platform
import re
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pyproj import Geod

from alerts.codec import decode_event, event_from_feature, event_to_feature
from closewatch import __version__
from closewatch.archive.schema import events_from_table, tracks_table, zones_table
from closewatch.archive.sink import settings_record
from closewatch.archive.store import Archive, hour_of, write_table_file
from closewatch.exports import write_events_csv, write_events_jsonl, write_tracks_geojson
from closewatch.progress import Progress
from closewatch.replay import ReplayResult, Window, canonical_lines, incident_spans, run_replay
from closewatch.replay_inputs import from_archive, from_input_archive
from config.records import TrackUpdate, Zone
from config.settings import Settings
from config.times import format_utc
from proximity.cpa import dead_reckon
from proximity.events import Event
from proximity.geometry import distance_to_geometry_m

__all__ = [
    "REPORT_FORMAT",
    "ReportError",
    "VerificationError",
    "build_report",
    "keygen",
    "verify_report",
]

log = logging.getLogger(__name__)

REPORT_FORMAT = "closewatch-report/1"
_GEOD = Geod(ellps="WGS84")
_AREA_MARGIN_M = 50_000.0  # an incident report's map: the incident's positions and this much around
_MAX_FIGURES = 12  # separation and zone-edge figures of a window report: the most severe incidents first
_MAX_TIMELINE = 40  # incidents on the timeline (the rest are in events.csv)
_ZONE_POINTS = 240  # reports per zone-edge figure, evenly spread (each distance is an exact geodesic)
_UNSIGNED = ("manifest.json", "manifest.sig")
_INPUT_RUN = "report"


class ReportError(Exception):
    """A report cannot be written as asked (no such incident, the folder is not empty)."""


class VerificationError(ReportError):
    """A report failed a check; ``path`` names the file at fault when there is one."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


# -- scope -------------------------------------------------------------------------------------


def _incident_revisions(archive: Archive, event_id: str) -> list[Event]:
    table = archive.read("events", where=[("event_id", "=", event_id)], errors=[])
    revisions = sorted({(e.event_id, e.seq): e for e in events_from_table(table)}.values(), key=lambda e: e.seq)
    if not revisions:
        raise ReportError(f"no event {event_id} in the archive {archive.root}")
    return revisions


def _area(positions: Sequence[tuple[float, float]], margin_m: float) -> tuple[float, float, float, float]:
    lons = [p[0] for p in positions]
    lats = [p[1] for p in positions]
    lat_c = (min(lats) + max(lats)) / 2.0
    dlat = margin_m / 111_000.0
    dlon = dlat / max(math.cos(math.radians(abs(lat_c) + dlat)), 0.05)
    return (max(-180.0, min(lons) - dlon), max(-90.0, min(lats) - dlat), min(180.0, max(lons) + dlon),
            min(90.0, max(lats) + dlat))


def _positions(e: Event) -> list[tuple[float, float]]:
    """Every position of a revision: its geometry's (the topic's GeoJSON) and its subjects'."""
    geometry = event_to_feature(e)["geometry"]
    coords = geometry["coordinates"]
    if geometry["type"] == "Point":
        points = [coords]
    elif geometry["type"] == "MultiLineString":
        points = [c for line in coords for c in line]
    else:
        points = list(coords)
    return [(float(c[0]), float(c[1])) for c in points] + [(s.lon_deg, s.lat_deg) for s in e.subjects]


# -- series for the figures -------------------------------------------------------------------------


def _track_arrays(updates: Sequence[TrackUpdate]) -> dict[str, np.ndarray]:
    ups = sorted(updates, key=lambda u: u.t_s)
    return {
        "t": np.array([u.t_s for u in ups]),
        "lon": np.array([u.lon_deg for u in ups]),
        "lat": np.array([u.lat_deg for u in ups]),
        "course": np.array([u.velocity_heading_deg if u.velocity_heading_deg is not None else np.nan for u in ups]),
        "speed": np.array([u.speed_mps if u.speed_mps is not None else np.nan for u in ups]),
        "alt": np.array([u.alt_m if u.alt_m is not None else np.nan for u in ups]),
        "vrate": np.array([u.vrate_mps if u.vrate_mps is not None else np.nan for u in ups]),
    }


def _at_ticks(track: dict[str, np.ndarray], ticks: np.ndarray, max_age_s: float, stale_s: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, alt, valid) of a track at ``ticks``: its last report dead-reckoned by at most
    ``max_age_s`` (as the engine aligns tracks), valid while the report is not stale."""
    idx = np.searchsorted(track["t"], ticks, side="right") - 1
    valid = idx >= 0
    i = np.where(valid, idx, 0)
    age = ticks - track["t"][i]
    valid &= age <= stale_s
    dt = np.minimum(age, max_age_s)
    moving = ~np.isnan(track["course"][i]) & ~np.isnan(track["speed"][i])
    lon, lat, _ = dead_reckon(track["lon"][i], track["lat"][i], np.nan_to_num(track["course"][i]),
                              np.where(moving, track["speed"][i], 0.0), np.where(moving, dt, 0.0))
    alt = track["alt"][i] + np.nan_to_num(track["vrate"][i]) * dt
    return lon, lat, alt, valid


def separation_series(a: Sequence[TrackUpdate], b: Sequence[TrackUpdate], start_s: float, end_s: float,
                      settings: Settings, data_end_s: float = math.inf) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, lateral metres, vertical metres) of two tracks at every engine tick of the window up to
    ``data_end_s``, where the input ended: the engine measured nothing after it (its incidents
    closed there), so the figure shows no dead-reckoned line beyond."""
    p = settings.proximity
    step = p.pair_interval_s
    ticks = np.arange(math.ceil(start_s / step) * step, end_s, step)
    ticks = ticks[ticks <= data_end_s]
    ta, tb = _track_arrays(a), _track_arrays(b)
    stale = max(p.stale_after_s.values())
    lon_a, lat_a, alt_a, ok_a = _at_ticks(ta, ticks, p.align_max_age_s, p.stale_after_s.get(a[0].domain, stale))
    lon_b, lat_b, alt_b, ok_b = _at_ticks(tb, ticks, p.align_max_age_s, p.stale_after_s.get(b[0].domain, stale))
    ok = ok_a & ok_b
    _, _, dist = _GEOD.inv(lon_a[ok], lat_a[ok], lon_b[ok], lat_b[ok])
    return ticks[ok], np.asarray(dist, float), np.abs(alt_a[ok] - alt_b[ok])


def zone_distance_series(updates: Sequence[TrackUpdate], zone: Zone, start_s: float, end_s: float
                         ) -> tuple[list[float], list[float]]:
    """(t, signed metres to the zone's edge; negative inside) at a track's reports in the window
    (at most ``_ZONE_POINTS`` of them, evenly spread)."""
    import shapely

    ups = [u for u in sorted(updates, key=lambda u: u.t_s) if start_s <= u.t_s < end_s]
    if len(ups) > _ZONE_POINTS:
        ups = [ups[int(i)] for i in np.unique(np.linspace(0, len(ups) - 1, _ZONE_POINTS).round().astype(int))]
    inside = shapely.contains_xy(zone.geometry, [u.lon_deg for u in ups], [u.lat_deg for u in ups])
    edge = zone.geometry.boundary
    dist = [distance_to_geometry_m(u.lon_deg, u.lat_deg, edge) for u in ups]
    return [u.t_s for u in ups], [-d if i else d for d, i in zip(dist, inside)]


def _rank(span: Any) -> int:
    """How loud an incident got: its highest severity's rank."""
    return max(("info", "warning", "critical").index(r.severity) for r in span.revisions)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:60]


# -- versions, zones, manifest --------------------------------------------------------------------


def versions() -> dict[str, Any]:
    """closewatch's version, Python's, and the installed version of each dependency closewatch declares."""
    deps: dict[str, str | None] = {}
    for req in metadata.requires("closewatch") or []:
        if "extra ==" in req:
            continue
        name = re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0]
        try:
            deps[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            deps[name] = None
    return {"closewatch": __version__, "python": platform.python_version(), "platform": platform.platform(),
            "dependencies": dict(sorted(deps.items()))}


def _zones_geojson(zones: Sequence[Zone]) -> dict[str, Any]:
    from shapely.geometry import mapping

    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": z.zone_id, "geometry": mapping(z.geometry), "properties": {
            "zone_id": z.zone_id, "name": z.name, "kind": z.kind, "buffer_m": z.buffer_m, "sides": list(z.sides),
            "domains": list(z.domains), "severity": z.severity, "active_from_s": z.active_from_s,
            "active_until_s": z.active_until_s, "properties": json.loads(json.dumps(dict(z.properties), default=str)),
        }} for z in zones]}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _write_manifest(folder: Path) -> Path:
    entries = [{"path": rel, "sha256": _sha256(folder / rel), "bytes": (folder / rel).stat().st_size}
               for rel in _files(folder) if rel not in _UNSIGNED]
    path = folder / "manifest.json"
    path.write_text(json.dumps({"format": REPORT_FORMAT, "files": entries}, indent=1, sort_keys=True) + "\n",
                    encoding="utf-8")
    return path


def keygen(private_path: Path, public_path: Path) -> str:
    """A new Ed25519 key pair for signing reports (PEM; the private key readable by its owner only).
    Returns the public key's fingerprint."""
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    for p in (private_path, public_path):
        if p.exists():
            raise ReportError(f"{p} exists: keygen does not overwrite a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public = key.public_key()
    public_path.write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo))
    return fingerprint(public)


def fingerprint(public_key: Any) -> str:
    """SHA-256 of the raw Ed25519 public key, first 16 bytes in hex, in pairs."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(raw).hexdigest()[:32]
    return ":".join(digest[i:i + 4] for i in range(0, 32, 4))


def _sign(folder: Path, key_path: Path) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise ReportError(f"{key_path}: not a usable private key: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise ReportError(f"{key_path}: not an Ed25519 key (closewatch report keygen makes one)")
    (folder / "signer.pub").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    manifest = _write_manifest(folder)
    (folder / "manifest.sig").write_text(base64.b64encode(key.sign(manifest.read_bytes())).decode() + "\n")
    return fingerprint(key.public_key())


# -- the report --------------------------------------------------------------------------------------


@dataclass
class ReportSummary:
    folder: Path
    revisions: int
    incidents: int
    updates: int
    figures: list[str] = field(default_factory=list)
    signed_by: str | None = None
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _write_input(folder: Path, result: ReplayResult, catalogue: Sequence[Zone], settings: Settings) -> None:
    """The engine's input as an archive of one run: updates with their order, zones at their places."""
    archive = Archive(folder)
    items = result.input_items or []
    updates = [i for i in items if isinstance(i, TrackUpdate)]
    if catalogue:
        archive.write_part("zones", zones_table(catalogue, _INPUT_RUN, 0, "catalogue", None), _INPUT_RUN)
    seen = 0
    notified = []
    for item in items:
        if isinstance(item, TrackUpdate):
            seen += 1
        elif isinstance(item, Zone):
            notified.append(zones_table([item], _INPUT_RUN, seen, "feed", None))
    if notified:
        import pyarrow as pa

        archive.write_part("zones", pa.concat_tables(notified), _INPUT_RUN)
    if updates:
        table = tracks_table(updates, _INPUT_RUN, 0)
        hours = np.array([hour_of(u.t_s) for u in updates])
        import pyarrow as pa

        for h in np.unique(hours).tolist():
            archive.write_part("tracks", table.filter(pa.array(hours == h)), _INPUT_RUN, int(h))
    else:
        archive.table_dir("tracks").mkdir(parents=True, exist_ok=True)


def _readme(title: str, signed: bool) -> str:
    return f"""# {title}

Written by closewatch {__version__}. Open `index.html` (the summary, figures and every revision) and
`replay.html` (the map replay). Every file is listed with its SHA-256 in `manifest.json`{'' if not signed else
', which is signed (Ed25519) in `manifest.sig` by the key in `signer.pub`'}.

To check it: `closewatch report verify THIS_FOLDER [--public-key KEY.pub]`. That checks every file
against the manifest (a changed, missing or added file fails, named), the signature (against the key
you trust, when you give it), then runs the engine again over `input/` (every track update from the
lead-in start, and the zones, in the order the engine got them) with `config.json` and confirms the
revisions in `events.jsonl`, byte for byte but for the detection time.

| file | what it is |
|---|---|
| `events.jsonl`, `events.csv` | the revisions of the window, as the Kafka events topic carries them |
| `carried-in.jsonl` | incidents open when the window starts: their last revision before it |
| `events-at-the-time.jsonl` | the revisions raised at the time (the archive), with their detection times |
| `tracks.parquet`, `tracks.geojson` | the tracks involved, in the window (GeoParquet 1.1; GeoJSON) |
| `timeline.*`, `separation-*.*`, `zone-*.*` | the figures, PNG and SVG |
| `config.json`, `zones.geojson` | the configuration (no secrets) and every zone watched |
| `versions.json` | closewatch's version and its dependencies' |
| `report.json` | what the report is of: the event or window, the lead-in start, the counts |
| `input/` | the engine's input, an archive of its own (docs/archive.md) |
"""


def build_report(
    archive: Archive,
    out: Path,
    *,
    event_id: str | None = None,
    window: Window | None = None,
    pad_s: float = 900.0,
    settings: Settings | None = None,
    sign_key: Path | None = None,
    max_lead_in_s: float | None = None,
) -> ReportSummary:
    """Write the report of ``event_id`` (with ``pad_s`` around it) or of ``window`` into ``out``."""
    from closewatch.cmd_run import country_outlines
    from maps.replay import render_replay
    from maps.report import (IncidentRow, SeparationSeries, ZoneDistanceSeries, plot_separation, plot_timeline,
                             plot_zone_distance, render_report_page)

    if out.exists() and any(out.iterdir()):
        raise ReportError(f"{out} is not empty: a report is written into a new folder")
    if (event_id is None) == (window is None):
        raise ReportError("a report is of one event (EVENT_ID) or of a window (--from/--to)")
    archive.require()
    main: list[Event] = []
    if event_id is not None:
        main = _incident_revisions(archive, event_id)
        positions = [p for r in main for p in _positions(r)]
        window = Window(main[0].t_s - pad_s, main[-1].t_s + pad_s, _area(positions, _AREA_MARGIN_M))
    assert window is not None
    inp = from_archive(archive, window, settings, max_lead_in_s=max_lead_in_s)
    with Progress("report: replay", inp.total, "updates") as progress:
        result = run_replay(inp.settings, inp.zones, inp.items, window, start_s=inp.start_s, progress=progress,
                            notes=inp.notes, keep_input=True)
    settings = inp.settings
    out.mkdir(parents=True, exist_ok=True)
    notes = list(result.notes)
    if event_id is not None and event_id not in {e.event_id for e in result.all_revisions}:
        notes.append(f"the replay did not raise {event_id}: compare events.jsonl with events-at-the-time.jsonl "
                     "(closewatch replay --compare)")
    for err in inp.skipped:
        notes.append(f"archive file not read: {err}")

    # events
    write_events_jsonl(result.events, out / "events.jsonl")
    write_events_csv(result.events, out / "events.csv")
    write_events_jsonl(result.carried_in, out / "carried-in.jsonl")
    then = [e for e in (inp.recorded or []) if window.contains(e)]
    then = sorted({(e.event_id, e.seq): e for e in then}.values(), key=lambda e: (e.t_s, e.event_id, e.seq))
    write_events_jsonl(then, out / "events-at-the-time.jsonl")
    if canonical_lines(then) != canonical_lines(result.events):
        notes.append("the replay's revisions differ from those raised at the time (events-at-the-time.jsonl)")

    # tracks involved
    updates = [i for i in (result.input_items or []) if isinstance(i, TrackUpdate)]
    involved_ids = {s.track_id for e in result.events + result.carried_in + main for s in e.subjects}
    by_track: dict[str, list[TrackUpdate]] = {}
    for u in updates:
        by_track.setdefault(u.track_id, []).append(u)
    involved = [u for u in updates if u.track_id in involved_ids and window.from_s <= u.t_s < window.to_s]
    write_table_file(out / "tracks.parquet", "tracks", tracks_table(involved, _INPUT_RUN, 0))
    write_tracks_geojson(involved, out / "tracks.geojson")

    # configuration, zones, versions, the input
    (out / "config.json").write_text(json.dumps(settings_record(settings), indent=1, sort_keys=True) + "\n")
    (out / "zones.geojson").write_text(json.dumps(_zones_geojson(result.zones), sort_keys=True) + "\n")
    (out / "versions.json").write_text(json.dumps(versions(), indent=1, sort_keys=True) + "\n")
    _write_input(out / "input", result, inp.zones, settings)

    # figures
    spans = incident_spans(result.all_revisions)
    scope = [spans[i] for i in dict.fromkeys(e.event_id for e in result.carried_in + result.events)]
    if event_id is not None and event_id in spans and spans[event_id] not in scope:
        scope.insert(0, spans[event_id])
    ranked = sorted(scope, key=lambda s: (s.event_id != event_id, -_rank(s), s.opened_s, s.event_id))
    shown = sorted(ranked[:_MAX_TIMELINE], key=lambda s: (s.opened_s, s.event_id))
    rows = [IncidentRow(f"{s.kind.replace('_', ' ')}: {' / '.join(s.track_ids) or s.zone_id}", s.revisions,
                        s.event_id == event_id) for s in shown]
    if len(scope) > len(shown):
        notes.append(f"the timeline shows {len(shown)} of the {len(scope)} incidents (the most severe); "
                     "events.csv lists them all")
    figures: list[tuple[str, str]] = []
    what = f"incident {event_id}" if event_id is not None else "window"
    if rows:
        plot_timeline(rows, (window.from_s, window.to_s), out / "timeline", f"revisions of the incidents, {what}")
        figures.append(("Timeline of the incidents' revisions", "timeline.png"))
    pairs: dict[tuple[str, ...], list[Event]] = {}
    entries: dict[tuple[str, str], list[Event]] = {}
    focus = [spans[event_id]] if event_id is not None and event_id in spans else ranked
    for s in focus:
        if s.kind in ("close_approach", "predicted_close_approach") and len(s.track_ids) == 2:
            pairs.setdefault(s.track_ids, [])
        if s.kind in ("zone_entry", "predicted_zone_entry") and s.track_ids and s.zone_id:
            entries.setdefault((s.track_ids[0], s.zone_id), [])
    for s in spans.values():
        if s.track_ids in pairs and s.kind in ("close_approach", "predicted_close_approach"):
            pairs[s.track_ids].extend(s.revisions)
        if s.track_ids and s.zone_id and (s.track_ids[0], s.zone_id) in entries:
            entries[(s.track_ids[0], s.zone_id)].extend(s.revisions)
    th = settings.proximity
    # where an ended input ended: figures draw nothing after it (a live input goes on)
    data_end_s = max((u.t_s for u in updates), default=math.inf) if result.ended else math.inf
    budget = _MAX_FIGURES if event_id is None else len(pairs) + len(entries)
    if len(pairs) + len(entries) > budget:
        notes.append(f"figures of {budget} of the {len(pairs) + len(entries)} close approaches and zone entries "
                     "(the most severe); a report of one of them (EVENT_ID) has its own")
    pairs = dict(list(pairs.items())[:budget])
    entries = dict(list(entries.items())[:max(0, budget - len(pairs))])
    for (a, b), revs in pairs.items():
        if a not in by_track or b not in by_track:
            continue
        t, dist, vsep = separation_series(by_track[a], by_track[b], window.from_s, window.to_s, settings, data_end_s)
        thresholds = [r.metrics["threshold_m"] for r in revs if "threshold_m" in r.metrics]
        threshold = min(thresholds) if thresholds else th.thresholds.air_air_lateral_m
        air = by_track[a][0].domain == "air" and by_track[b][0].domain == "air"
        stem = f"separation-{_slug(a)}-{_slug(b)}"
        plot_separation(SeparationSeries(
            f"{a} / {b}", t.tolist(), dist.tolist(), vsep.tolist() if air else None, threshold,
            threshold * (1 + th.hysteresis_margin), th.thresholds.air_air_vertical_m if air else None,
            sorted(revs, key=lambda r: r.t_s)), out / stem)
        figures.append((f"Separation of {a} and {b}", f"{stem}.png"))
    zones_by_id = {z.zone_id: z for z in result.zones}
    for (tid, zid), revs in entries.items():
        zone = zones_by_id.get(zid)
        if zone is None or tid not in by_track:
            continue
        t_z, d_z = zone_distance_series(by_track[tid], zone, window.from_s, window.to_s)
        margin = max(th.zone_exit_margin_m, th.hysteresis_margin * zone.buffer_m)
        stem = f"zone-{_slug(tid)}-{_slug(zid)}"
        plot_zone_distance(ZoneDistanceSeries(f"{tid} and {zone.name}", t_z, d_z, margin,
                                              sorted(revs, key=lambda r: r.t_s)), out / stem)
        figures.append((f"Distance of {tid} to the edge of {zone.name}", f"{stem}.png"))

    # pages
    title = (f"closewatch incident report: {main[0].kind.replace('_', ' ')} {event_id}" if event_id is not None
             else f"closewatch report {format_utc(window.from_s)} - {format_utc(window.to_s)}")
    render_replay(out / "replay.html", [u for u in updates if window.from_s <= u.t_s < window.to_s],
                  [event_to_feature(e) for e in result.carried_in + result.events], (window.from_s, window.to_s),
                  window.bbox, zones=result.zones, outlines=country_outlines(), title=title,
                  tile_url=settings.map.tile_url, stale_after_s={str(k): v for k, v in th.stale_after_s.items()})
    raised = {(e.event_id, e.seq): e.detected_s for e in (inp.recorded or []) if e.detected_s is not None}
    summary_rows = [
        ("window (data time, UTC)", f"{format_utc(window.from_s)} - {format_utc(window.to_s)}"),
        ("area", "everywhere" if window.bbox is None else "W {:.3f} S {:.3f} E {:.3f} N {:.3f}".format(*window.bbox)),
        ("source", inp.source),
        ("configuration", f"recorded by run {inp.run.run_id}" if inp.run is not None else "given"),
        ("lead-in from", format_utc(result.start_s) if math.isfinite(result.start_s) else "the input's start"),
        ("track updates replayed", f"{result.updates:,}"),
        ("revisions in the window", f"{len(result.events)} of {len(scope)} incidents "
                                    f"({len(result.carried_in)} carried in, {len(result.open_at_end)} open at the end)"),
    ]
    if main:
        first, last = main[0], main[-1]
        summary_rows[0:0] = [("incident", f"{first.kind} {event_id}"), ("summary", last.summary),
                             ("opened", format_utc(first.t_s, "milliseconds")),
                             ("last revision", f"{last.state} at {format_utc(last.t_s, 'milliseconds')}")]
    files = [("events.jsonl", "revisions of the window (events topic values)"), ("events.csv", "the same, a table"),
             ("events-at-the-time.jsonl", "revisions raised at the time, with detection times"),
             ("carried-in.jsonl", "incidents open at the window's start"),
             ("tracks.parquet", "tracks involved (GeoParquet)"), ("tracks.geojson", "tracks involved (GeoJSON)"),
             ("config.json", "the configuration"), ("zones.geojson", "every zone watched"),
             ("versions.json", "closewatch and its dependencies"), ("report.json", "what this report is of"),
             ("manifest.json", "SHA-256 of every file")]
    render_report_page(out / "index.html", title=title, summary=summary_rows, figures=figures,
                       revisions=sorted(result.carried_in + result.events, key=lambda e: (e.t_s, e.event_id, e.seq)),
                       raised_at=raised, files=files, notes=notes)
    report = {
        "format": REPORT_FORMAT,
        "created_s": time.time(),
        "closewatch_version": __version__,
        "event_id": event_id,
        "window": {"from_s": window.from_s, "to_s": window.to_s, "bbox": list(window.bbox) if window.bbox else None},
        "pad_s": pad_s if event_id is not None else None,
        "lead_in_start_s": result.start_s if math.isfinite(result.start_s) else None,
        "input_ended": result.ended,
        "source": inp.source,
        "updates": result.updates,
        "revisions": len(result.events),
        "notes": notes,
    }
    (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    (out / "README.md").write_text(_readme(title, sign_key is not None), encoding="utf-8")
    signed = _sign(out, sign_key) if sign_key is not None else None
    if signed is None:
        _write_manifest(out)
    return ReportSummary(out, len(result.events), len(scope), result.updates, [f for _c, f in figures], signed,
                         notes, [str(e.path) for e in inp.skipped])


# -- verification ----------------------------------------------------------------------------------


def verify_report(folder: Path, public_key: Path | None = None) -> list[str]:
    """Check a report (module doc); return what was checked, or raise :class:`VerificationError`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    done = []
    manifest_path = folder / "manifest.json"
    try:
        manifest_bytes = manifest_path.read_bytes()
        manifest = json.loads(manifest_bytes)
        listed = {e["path"]: e["sha256"] for e in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise VerificationError(f"manifest.json: unreadable: {e}", "manifest.json") from e
    if manifest.get("format") != REPORT_FORMAT:
        raise VerificationError(f"manifest.json: format {manifest.get('format')!r} is not {REPORT_FORMAT}",
                                "manifest.json")
    present = set(_files(folder)) - set(_UNSIGNED)
    for rel in sorted(set(listed) - present):
        raise VerificationError(f"{rel}: listed in the manifest but missing", rel)
    for rel in sorted(present - set(listed)):
        raise VerificationError(f"{rel}: not in the manifest (added after the report was made)", rel)
    for rel, want in sorted(listed.items()):
        got = _sha256(folder / rel)
        if got != want:
            raise VerificationError(f"{rel}: changed (SHA-256 {got}, the manifest says {want})", rel)
    done.append(f"ok: {len(listed)} files match manifest.json")

    sig_path = folder / "manifest.sig"
    if sig_path.exists():
        key_path = public_key or folder / "signer.pub"
        try:
            key = serialization.load_pem_public_key(key_path.read_bytes())
        except (OSError, ValueError) as e:
            raise VerificationError(f"{key_path}: not a usable public key: {e}", str(key_path)) from e
        if not isinstance(key, Ed25519PublicKey):
            raise VerificationError(f"{key_path}: not an Ed25519 public key", str(key_path))
        try:
            key.verify(base64.b64decode(sig_path.read_text()), manifest_bytes)
        except (InvalidSignature, ValueError) as e:
            raise VerificationError(f"manifest.sig: the signature does not match manifest.json under the key "
                                    f"{fingerprint(key)} ({key_path})", "manifest.sig") from e
        whose = "the key given" if public_key is not None else "the key in the report (signer.pub; pass " \
                                                               "--public-key to check who signed)"
        done.append(f"ok: manifest.json signed by {fingerprint(key)}, {whose}")
    elif public_key is not None:
        raise VerificationError("manifest.sig: the report is not signed, and a public key was given", "manifest.sig")
    else:
        done.append("not signed: the checksums show that nothing changed by accident, not who made the report")

    try:
        report = json.loads((folder / "report.json").read_text())
        settings = Settings.model_validate(json.loads((folder / "config.json").read_text()))
        w = report["window"]
        window = Window(float(w["from_s"]), float(w["to_s"]), tuple(w["bbox"]) if w["bbox"] else None)  # type: ignore[arg-type]
        start = report["lead_in_start_s"]
        claimed = [event_from_feature(decode_event(line)) for line in (folder / "events.jsonl").read_bytes().splitlines()
                   if line.strip()]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise VerificationError(f"the report's files cannot be read for the re-run: {e}") from e
    inp = from_input_archive(Archive(folder / "input"), window, settings,
                             float(start) if start is not None else -math.inf)
    result = run_replay(settings, inp.zones, inp.items, window, start_s=inp.start_s,
                        finish_if_ended=bool(report.get("input_ended", True)))
    if inp.skipped:
        raise VerificationError(f"input: {inp.skipped[0]}", str(inp.skipped[0].path))
    mine, theirs = canonical_lines(result.events), canonical_lines(claimed)
    if mine != theirs:
        extra = sorted(set(theirs) - set(mine))
        missing = sorted(set(mine) - set(theirs))
        first = (extra or missing)[0] if (extra or missing) else b""
        what = json.loads(first)["properties"] if first else {}
        raise VerificationError(
            f"events.jsonl: the re-run from input/ gives other revisions ({len(mine)} against {len(theirs)}; "
            f"first difference: {what.get('event_id')} seq {what.get('seq')}"
            f" {'only in events.jsonl' if extra else 'not in events.jsonl'})", "events.jsonl")
    done.append(f"ok: the engine re-run over input/ gives the same {len(mine)} revisions as events.jsonl")
    return done
