"""The replay / incident report: one self-contained HTML page for a time window
and an area, to review an incident and share it.

* tracks move with a time slider (folium ``Timeline`` + ``TimelineSlider``,
  leaflet.timeline): each kept position is shown from its time until the next
  one (the last until the track would go stale, or the window ends);
* events appear when they open, change with each revision (the popup shows the
  metrics of that revision) and disappear when they close;
* the whole (downsampled) path of each track stays drawn faintly for context;
* a table lists the events with their metrics; a click on a row moves the
  slider to the moment the event opened and centres the map on it;
* tracks are downsampled to at most ``max_points`` positions in all (every n-th
  position of a track, its first and last kept), and the page says so.
"""

from __future__ import annotations

import html
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping, Sequence

import folium
import folium.plugins
from branca.element import Element, Figure, MacroElement
from folium.template import Template
from folium.utilities import JsCode
from shapely.geometry.base import BaseGeometry

from config.records import TrackUpdate, Zone
from config.settings import ProximitySettings
from config.times import format_utc
from maps.assets import AssetStore
from maps.errors import MapInputError
from maps.events import EventFeature, drawable_events, event_features, event_positions
from maps.features import feature_collection, group_tracks, thin, track_feature, trail_feature, zone_feature
from maps.page import PageSetup, add_outlines, base_map, bounds_of, geojson_layer, write_page
from proximity.events import Event

__all__ = ["Downsampling", "JsonLines", "read_jsonl", "render_replay"]

log = logging.getLogger(__name__)

_STALE_AFTER_S = {str(k): v for k, v in ProximitySettings().stale_after_s.items()}


@dataclass(frozen=True, slots=True)
class Downsampling:
    """What the replay kept: positions in the window and area, and drawn."""

    positions_in: int
    positions_drawn: int
    tracks: int
    tracks_thinned: int

    def sentence(self) -> str:
        if self.positions_drawn == self.positions_in:
            return f"All {self.positions_in:,} positions of {self.tracks:,} tracks are drawn (no downsampling)."
        return (
            f"Downsampled: {self.positions_drawn:,} of {self.positions_in:,} positions drawn; "
            f"{self.tracks_thinned:,} of {self.tracks:,} tracks thinned to every n-th position "
            "(first and last positions kept)."
        )


MAX_LINE_BYTES = 4 * 1024 * 1024  # an event value is at most Kafka's message size (1 MB by default)
_WARN_LINES = 10  # lines named one by one in the log, per file; the rest are counted
_JSON_NAMES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false",
               type(None): "null"}


@dataclass
class JsonLines:
    """What :func:`read_jsonl` made of a file: the values used, and the lines that were not."""

    path: Path
    items: list[Any] = field(default_factory=list)
    lines: int = 0
    skipped: int = 0
    first_skipped: str | None = None  # "line N: reason"

    def sentence(self) -> str | None:
        """One line for the operator and the page, or None when every line was used."""
        if not self.skipped:
            return None
        return (f"{self.path.name}: {self.skipped:,} of {self.lines:,} lines not used "
                f"(first: {self.first_skipped})")


def _lines(f: BinaryIO) -> Iterator[tuple[bytes | None, int]]:
    """Lines of ``f`` with their numbers; a line longer than :data:`MAX_LINE_BYTES` is read past
    in pieces and given as None."""
    n = 0
    while True:
        line = f.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = f.readline(MAX_LINE_BYTES)
            yield None, n
        else:
            yield line, n


def read_jsonl(path: str | Path, convert: Callable[[dict[str, Any]], Any]) -> JsonLines:
    """The JSON objects of a JSON Lines file, each passed through ``convert``. A line that is not
    UTF-8, not JSON, not an object, too long, nested too deeply or refused by ``convert``
    (:class:`MapInputError`, ``ValueError``, ``TypeError``) is skipped with a warning naming the
    file and the line (the first few one by one, then counted); blank lines are ignored.
    ``OSError`` (a missing file) is the caller's."""
    p = Path(path)
    out = JsonLines(p)
    with p.open("rb") as f:
        for raw, n in _lines(f):
            if raw is not None and not raw.strip():
                continue
            out.lines += 1
            try:
                if raw is None:
                    raise MapInputError(f"longer than {MAX_LINE_BYTES:,} bytes")
                value = json.loads(raw.decode("utf-8"))
                if not isinstance(value, dict):
                    raise MapInputError(f"not a JSON object but {_JSON_NAMES.get(type(value), 'a value')}")
                out.items.append(convert(value))
            except UnicodeDecodeError as e:
                reason = f"not UTF-8 (byte 0x{e.object[e.start]:02x} at column {e.start + 1})"
            except RecursionError:
                reason = "nested too deeply"
            except (MapInputError, ValueError, TypeError, AttributeError, KeyError) as e:
                reason = str(e) or type(e).__name__
            else:
                continue
            out.skipped += 1
            if out.first_skipped is None:
                out.first_skipped = f"line {n}: {reason}"
            if out.skipped <= _WARN_LINES:
                log.warning("%s:%d: line not used: %s", p, n, reason)
    if out.skipped > _WARN_LINES:
        log.warning("%s: %d more lines not used", p, out.skipped - _WARN_LINES)
    return out


def _inside(lon: float, lat: float, bbox: tuple[float, float, float, float] | None) -> bool:
    if bbox is None:
        return True
    west, south, east, north = bbox
    return south <= lat <= north and west <= lon <= east


def _downsample(groups: dict[str, list[TrackUpdate]], max_points: int) -> tuple[dict[str, list[TrackUpdate]], Downsampling]:
    total = sum(len(v) for v in groups.values())
    if total <= max_points or not groups:
        return groups, Downsampling(total, total, len(groups), 0)
    if max_points < 2 * len(groups):
        raise MapInputError(
            f"max_points={max_points} cannot keep the first and last position of {len(groups)} tracks"
        )
    out = {tid: thin(ups, max(2, int(max_points * len(ups) / total))) for tid, ups in groups.items()}
    drawn = sum(len(v) for v in out.values())
    thinned = sum(1 for tid in groups if len(out[tid]) < len(groups[tid]))
    return out, Downsampling(total, drawn, len(groups), thinned)


_SLIDER_HEIGHT_PX = 160  # the time slider (and its margin) at the bottom of the map: the data is fitted above it


def _ms(t_s: float) -> int:
    return int(round(t_s * 1000))


class _ReplaySetup(MacroElement):
    """The event table below the map (``report_html``, escaped already); exposes
    the slider to the page script and wires the table rows to it."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}{{ this.report_html }}{% endmacro %}
        {% macro script(this, kwargs) %}
        window.closewatchReplay = {slider: {{ this.slider.get_name() }}, map: {{ this._parent.get_name() }}};
        document.querySelectorAll("tr[data-t-ms]").forEach(function (row) {
            row.addEventListener("click", function () {
                var t = Number(row.dataset.tMs);
                {{ this.slider.get_name() }}.setTime(t);
                {{ this._parent.get_name() }}.setView([Number(row.dataset.lat), Number(row.dataset.lon)],
                    Math.max({{ this._parent.get_name() }}.getZoom(), 8));
            });
        });
        {% endmacro %}
        """
    )

    def __init__(self, slider: folium.plugins.TimelineSlider, report_html: str) -> None:
        super().__init__()
        self._name = "ReplaySetup"
        self.slider = slider
        self.report_html = report_html


def _event_table(incidents: list[list[Event]], window_end_s: float, note: str, head: str) -> str:
    def cell(v: Any) -> str:
        return f"<td>{html.escape(str(v)) if v is not None else '–'}</td>"

    def metric_min(revs: list[Event], key: str) -> float | None:
        vals = [r.metrics[key] for r in revs if key in r.metrics]
        return min(vals) if vals else None

    rows = []
    for revs in incidents:
        first, last = revs[0], revs[-1]
        closed = last.t_s if last.state == "closed" else None
        dist = metric_min(revs, "distance_m")
        cpa = metric_min(revs, "cpa_m")
        vsep = metric_min(revs, "vertical_sep_m")
        subjects = ", ".join(s.name or s.callsign or s.track_id for s in first.subjects)
        duration = (closed if closed is not None else window_end_s) - first.t_s
        where = event_positions(first)
        lat = sum(p[1] for p in where) / len(where)
        lon = sum(p[0] for p in where) / len(where)
        rows.append(
            f'<tr data-t-ms="{_ms(first.t_s)}" data-lat="{lat:.6f}" data-lon="{lon:.6f}" '
            f'data-event-id="{html.escape(first.event_id)}">'
            + cell(format_utc(first.t_s))
            + cell(format_utc(closed) if closed is not None else "open at end")
            + cell(f"{duration / 60:.1f} min")
            + cell(first.kind.replace("_", " "))
            + cell(max((r.severity for r in revs), key=("info", "warning", "critical").index))
            + cell(subjects)
            + cell(last.zone_name or last.zone_id)
            + cell(f"{dist:,.0f} m" if dist is not None else None)
            + cell(f"{cpa:,.0f} m" if cpa is not None else None)
            + cell(f"{vsep:,.0f} m" if vsep is not None else None)
            + cell(len(revs))
            + cell("suspect" if any(r.integrity_suspect for r in revs) else "ok")
            + cell(last.summary)
            + "</tr>"
        )
    headers = ["Opened (UTC)", "Closed (UTC)", "Duration", "Kind", "Severity", "Subjects", "Zone",
               "Min. distance", "Min. CPA", "Min. vertical sep.", "Revisions", "Data integrity", "Summary"]
    return (
        '<div class="cw-report"><h2>' + html.escape(head) + "</h2>"
        '<p class="cw-report-note">' + html.escape(note) + "</p>"
        '<table class="cw-events-table"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in headers)
        + "</tr></thead><tbody>"
        + ("".join(rows) or f'<tr><td colspan="{len(headers)}">No events in this window and area.</td></tr>')
        + "</tbody></table></div>"
    )


_REPORT_CSS = """
<style>
  html, body { height: 100%; margin: 0; }
  .cw-report { height: 28%; overflow-y: auto; padding: 4px 12px; box-sizing: border-box;
    font: 12px/1.35 system-ui, "DejaVu Sans", Arial, sans-serif; border-top: 2px solid #37474f; }
  .cw-report h2 { font-size: 14px; margin: 4px 0; }
  .cw-report-note { margin: 2px 0 6px; color: #455a64; }
  .cw-events-table tbody tr { cursor: pointer; }
  .cw-events-table tbody tr:hover { background: #fff3e0; }
  .leaflet-control.leaflet-timeline-control { background: rgba(255,255,255,0.95); }
</style>
"""


def _timelines(kept: Mapping[str, list[TrackUpdate]], incidents: list[list[Event]], end_s: float,
               stale_after_s: Mapping[str, float]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The features of the two timelines, each with its ``start``/``end`` (ms): every kept
    position of a track from its time to the next one (the last until the track goes stale
    or the window ends); every revision of an incident until the next one (a closed revision
    ends it)."""
    track_feats = []
    for ups in kept.values():
        for i, u in enumerate(ups):
            until = ups[i + 1].t_s if i + 1 < len(ups) else min(u.t_s + stale_after_s[u.domain], end_s)
            f = track_feature(u)
            f["properties"].update(start=_ms(u.t_s), end=_ms(max(until, u.t_s)), endExclusive=i + 1 < len(ups))
            track_feats.append(f)
    event_feats = []
    for revs in incidents:
        for i, r in enumerate(revs):
            if r.state == "closed":
                break
            until = revs[i + 1].t_s if i + 1 < len(revs) else end_s
            for f in event_features(r):
                f["properties"].update(start=_ms(r.t_s), end=_ms(until), endExclusive=i + 1 < len(revs))
                event_feats.append(f)
    return track_feats, event_feats


def _add_timelines(m: folium.Map, track_feats: list[dict[str, Any]], event_feats: list[dict[str, Any]],
                   start_s: float, end_s: float) -> folium.plugins.TimelineSlider:
    hooks: dict[str, Any] = {
        "point_to_layer": JsCode("closewatch.pointToLayer"),
        "on_each_feature": JsCode("closewatch.onEachFeature"),
        "style": JsCode("closewatch.style"),
    }
    tl_tracks = folium.plugins.Timeline(feature_collection(track_feats), **hooks)
    tl_tracks.layer_name = "Tracks (at slider time)"
    tl_tracks.add_to(m)
    tl_events = folium.plugins.Timeline(feature_collection(event_feats), **hooks)
    tl_events.layer_name = "Events (at slider time)"
    tl_events.add_to(m)
    slider = folium.plugins.TimelineSlider(
        auto_play=False,
        start=_ms(start_s),
        end=_ms(end_s),
        show_ticks=True,
        enable_keyboard_controls=True,
        playback_duration=30_000,
    )
    slider_options: dict[str, Any] = slider.options
    slider_options["format_output"] = JsCode(
        "function (t) { return moment.utc(Number(t)).format('YYYY-MM-DD HH:mm:ss') + ' UTC'; }"
    )
    slider.add_timelines(tl_tracks, tl_events).add_to(m)
    return slider


def render_replay(
    path: str | Path,
    tracks: Mapping[str, Sequence[TrackUpdate]] | Iterable[TrackUpdate],
    events: Sequence[EventFeature],
    window: tuple[float, float] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    max_points: int = 10_000,
    *,
    zones: Sequence[Zone] = (),
    outlines: BaseGeometry | Mapping[str, Any] | None = None,
    title: str = "closewatch incident replay",
    tile_url: str | None = None,
    stale_after_s: Mapping[str, float] | None = None,
    store: AssetStore | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Write the replay of ``window`` (epoch seconds ``(start, end)``, default: all
    the data) and ``bbox`` (``(west, south, east, north)`` degrees, default: all) to
    ``path``; at most ``max_points`` track positions are drawn. ``events`` are values
    of the events topic (``EventFeature``), several revisions of an incident each (one
    that cannot be drawn is logged, left out and counted on the page).
    ``stale_after_s`` per domain (default: ``proximity.stale_after_s``'s) ends a track's
    last position. ``notes`` (e.g. input lines that were not used) are shown above the
    table of events."""
    stale = dict(stale_after_s or _STALE_AFTER_S)
    groups = group_tracks(tracks)
    drawn, undrawable = drawable_events(events)
    records = sorted(drawn, key=lambda r: (r.t_s, r.seq))
    notes = [*notes, *([f"{undrawable:,} event values could not be drawn"] if undrawable else [])]
    all_t = [u.t_s for ups in groups.values() for u in ups] + [r.t_s for r in records]
    if window is None:
        if not all_t:
            raise MapInputError("nothing to replay: no tracks and no events, and no window given")
        window = (min(all_t), max(all_t))
    start_s, end_s = window
    if end_s < start_s:
        raise MapInputError(f"replay window ends ({format_utc(end_s)}) before it starts ({format_utc(start_s)})")
    if bbox is not None:
        west, south, east, north = bbox
        if not (west < east and south < north):
            raise MapInputError(f"bbox {bbox} is not (west, south, east, north)")

    kept: dict[str, list[TrackUpdate]] = {}
    for tid, ups in groups.items():
        sel = [u for u in ups if start_s <= u.t_s <= end_s and _inside(u.lon_deg, u.lat_deg, bbox)]
        if sel:
            kept[tid] = sel
    kept, ds = _downsample(kept, max_points)

    incidents_by_id: dict[str, list[Event]] = defaultdict(list)
    for r in records:
        if start_s <= r.t_s <= end_s and any(_inside(lon, lat, bbox) for lon, lat in event_positions(r)):
            incidents_by_id[r.event_id].append(r)
    incidents = list(incidents_by_id.values())

    pts = [(u.lon_deg, u.lat_deg) for ups in kept.values() for u in ups]
    pts += [p for revs in incidents for p in event_positions(revs[0])]
    bounds = bounds_of(pts)
    if bounds is None and bbox is not None:
        bounds = ((bbox[1], bbox[0]), (bbox[3], bbox[2]))
    m = base_map(bounds, tile_url=tile_url, title=title)
    m.height = (72.0, "%")
    add_outlines(m, outlines)
    zone_feats = [zone_feature(z) for z in zones if z.kind != "exercise" or z.is_active_between(start_s, end_s)]
    if zone_feats:
        geojson_layer(feature_collection(zone_feats), "Zones").add_to(m)
    paths = [f for f in (trail_feature(tid, ups) for tid, ups in kept.items()) if f]
    geojson_layer(feature_collection(paths), "Track paths (whole window)").add_to(m)
    slider = _add_timelines(m, *_timelines(kept, incidents, end_s, stale), start_s, end_s)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)

    where = "whole area" if bbox is None else "area W {:.3f} S {:.3f} E {:.3f} N {:.3f}".format(*bbox)
    subtitle = f"{format_utc(start_s)} – {format_utc(end_s)} · {where}"
    PageSetup(bounds, {"title": title, "subtitle": subtitle, "tiles": bool(tile_url),
                       "legendPosition": "topleft", "legendCollapsed": True,
                       "fitPaddingBottom": _SLIDER_HEIGHT_PX}).add_to(m)
    head = f"Events {format_utc(start_s)} – {format_utc(end_s)}, {where}: {len(incidents)}"
    _ReplaySetup(slider, _event_table(incidents, end_s, ds.sentence() + "".join(f" {n}." for n in notes), head)).add_to(m)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(_REPORT_CSS), name="closewatch_report_css")
    out = Path(path)
    write_page(m, out, mode="inline", store=store)
    log.info("replay: %s", ds.sentence())
    return out
