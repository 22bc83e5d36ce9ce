"""The incident report's figures and page: matplotlib plots (PNG and SVG) and one HTML page.

* :func:`plot_timeline` - one row per incident: a bar from its opening to its close (or the
  end of the window), a mark for each revision (open, update, close) coloured by severity;
* :func:`plot_separation` - two tracks' distance against time (measured at the engine's
  ticks, dead-reckoned as the engine does), the revisions of their close approach, each
  prediction as a dashed line from the distance then to the predicted closest approach,
  the threshold and the distance beyond which the incident closes; for two aircraft a
  second panel with the vertical separation and its threshold;
* :func:`plot_zone_distance` - a track's distance to a zone's edge against time (negative
  inside), the edge, the exit margin, the revisions and the predicted entries;
* :func:`render_report_page` - ``index.html``: the summary, the figures, the revisions
  with the time each was raised, the files, and how to verify them.

The figures use matplotlib's object API with the Agg (PNG) and SVG canvases (no pyplot, no
display); SVG ids are salted with a constant and carry no date, so the same report gives
the same bytes. The series are computed by the caller (``closewatch.report``): this module
draws.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import matplotlib
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure

from config.times import format_utc
from proximity.events import Event

__all__ = [
    "IncidentRow",
    "SeparationSeries",
    "ZoneDistanceSeries",
    "plot_separation",
    "plot_timeline",
    "plot_zone_distance",
    "render_report_page",
]

matplotlib.rcParams["svg.hashsalt"] = "closewatch-report"
_SEVERITY_COLOURS = {"info": "#1e88e5", "warning": "#fb8c00", "critical": "#d81b60"}
_STATE_MARKERS = {"open": "o", "update": "D", "closed": "s"}
_SAVE_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}


def _dt(t_s: float) -> float:
    """Epoch seconds as matplotlib's date number (days), for a UTC time axis."""
    return float(date2num(datetime.fromtimestamp(t_s, tz=timezone.utc)))


def _save(fig: Figure, stem: Path) -> list[Path]:
    out = []
    for ext in ("png", "svg"):
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path, format=ext, dpi=120, metadata=_SAVE_METADATA[ext], bbox_inches="tight")
        out.append(path)
    return out


def _time_axis(ax: Any) -> None:
    ax.xaxis.set_major_locator(AutoDateLocator(tz=timezone.utc, minticks=4, maxticks=10))
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M:%S", tz=timezone.utc))
    ax.set_xlabel("data time (UTC)")
    ax.grid(True, alpha=0.3)


# -- timeline --------------------------------------------------------------------------------


@dataclass
class IncidentRow:
    """One incident on the timeline: its revisions in order."""

    label: str
    revisions: list[Event]
    highlight: bool = False


def plot_timeline(rows: Sequence[IncidentRow], window: tuple[float, float], stem: Path, title: str) -> list[Path]:
    """The revisions of ``rows`` over ``window`` (data time); writes ``stem``.png and .svg."""
    height = 1.2 + 0.45 * max(len(rows), 1)
    fig = Figure(figsize=(11, height))
    ax = fig.add_subplot()
    start, end = window
    for y, row in enumerate(reversed(rows)):
        revs = row.revisions
        t_open = max(revs[0].t_s, start)
        t_close = revs[-1].t_s if revs[-1].state == "closed" else end
        worst = max((r.severity for r in revs), key=("info", "warning", "critical").index)
        ax.barh(y, _dt(t_close) - _dt(t_open), left=_dt(t_open), height=0.5,
                color=_SEVERITY_COLOURS[worst], alpha=0.35 if not row.highlight else 0.6,
                edgecolor="black" if row.highlight else "none")
        for r in revs:
            if start <= r.t_s <= end:
                ax.plot(_dt(r.t_s), y, marker=_STATE_MARKERS.get(r.state, "o"), color=_SEVERITY_COLOURS[r.severity],
                        markeredgecolor="black", markersize=6, linestyle="none")
    ax.set_yticks(range(len(rows)), [r.label for r in reversed(rows)], fontsize=8)
    ax.set_xlim(_dt(start), _dt(end))
    _time_axis(ax)
    handles = [ax.plot([], [], marker=m, linestyle="none", color="grey", markeredgecolor="black", label=s)[0]
               for s, m in _STATE_MARKERS.items()]
    handles += [ax.plot([], [], marker="s", linestyle="none", color=c, label=s)[0] for s, c in _SEVERITY_COLOURS.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    return _save(fig, stem)


def _cut(ax: Any, values: Sequence[float], near: float, scale: float, unit: str) -> None:
    """Show the range up to four times ``near`` (the thresholds) when the data go far beyond it,
    saying so: the approach, not the hours of distance around it, is what the figure is for."""
    top = 4.0 * near
    if values and max(values) > top:
        ax.set_ylim(0, top / scale)
        ax.text(0.01, 0.97, f"axis cut at {top / scale:,.0f} {unit}", transform=ax.transAxes, fontsize=8,
                va="top", color="#546e7a")
    else:
        ax.set_ylim(bottom=0)


# -- separation -------------------------------------------------------------------------------


@dataclass
class SeparationSeries:
    """Two tracks' separation: measured at ticks, and the incidents' revisions about them."""

    label: str
    t_s: Sequence[float]
    distance_m: Sequence[float]
    vertical_m: Sequence[float] | None
    threshold_m: float
    closes_beyond_m: float
    vertical_threshold_m: float | None
    revisions: list[Event] = field(default_factory=list)  # close_approach and predicted_close_approach


def plot_separation(s: SeparationSeries, stem: Path) -> list[Path]:
    panels = 2 if s.vertical_m is not None and s.vertical_threshold_m is not None else 1
    fig = Figure(figsize=(11, 4.2 * panels))
    axes = [fig.add_subplot(panels, 1, k + 1) for k in range(panels)]
    ax = axes[0]
    times = [_dt(t) for t in s.t_s]
    ax.plot(times, [d / 1000.0 for d in s.distance_m], color="#37474f", linewidth=1.2,
            label="measured (tracks at each tick, dead-reckoned as the engine does)")
    ax.axhline(s.threshold_m / 1000.0, color="#d81b60", linestyle="-", linewidth=1, label="threshold")
    ax.axhline(s.closes_beyond_m / 1000.0, color="#d81b60", linestyle=":", linewidth=1,
               label="closes beyond (threshold and hysteresis margin)")
    first_pred = True
    for r in s.revisions:
        m = r.metrics
        colour = _SEVERITY_COLOURS[r.severity]
        if r.kind == "predicted_close_approach" and "cpa_t_s" in m and "cpa_m" in m:
            ax.plot([_dt(r.t_s), _dt(m["cpa_t_s"])], [m.get("distance_m", m["cpa_m"]) / 1000.0, m["cpa_m"] / 1000.0],
                    linestyle="--", color=colour, linewidth=1, label="predicted (revision to predicted CPA)"
                    if first_pred else None)
            ax.plot(_dt(m["cpa_t_s"]), m["cpa_m"] / 1000.0, marker="x", color=colour, linestyle="none")
            first_pred = False
        elif "distance_m" in m:
            ax.plot(_dt(r.t_s), m["distance_m"] / 1000.0, marker=_STATE_MARKERS.get(r.state, "o"), color=colour,
                    markeredgecolor="black", linestyle="none")
    ax.set_ylabel("lateral separation (km)")
    _cut(ax, s.distance_m, s.closes_beyond_m, 1000.0, "km")
    ax.set_title(f"separation: {s.label}", fontsize=10)
    _time_axis(ax)
    ax.legend(fontsize=8, loc="upper right")
    if panels == 2 and s.vertical_m is not None and s.vertical_threshold_m is not None:
        v = axes[1]
        v.plot(times, list(s.vertical_m), color="#37474f", linewidth=1.2, label="measured")
        v.axhline(s.vertical_threshold_m, color="#d81b60", linewidth=1, label="vertical threshold")
        for r in s.revisions:
            if "vertical_sep_m" in r.metrics:
                v.plot(_dt(r.t_s), r.metrics["vertical_sep_m"], marker=_STATE_MARKERS.get(r.state, "o"),
                       color=_SEVERITY_COLOURS[r.severity], markeredgecolor="black", linestyle="none")
        v.set_ylabel("vertical separation (m)")
        _cut(v, s.vertical_m, s.vertical_threshold_m * 1.5, 1.0, "m")
        _time_axis(v)
        v.legend(fontsize=8, loc="upper right")
    return _save(fig, stem)


# -- zone edge -----------------------------------------------------------------------------------


@dataclass
class ZoneDistanceSeries:
    """A track's signed distance to a zone's edge at its reports (negative: inside)."""

    label: str
    t_s: Sequence[float]
    distance_m: Sequence[float]
    exit_margin_m: float
    revisions: list[Event] = field(default_factory=list)  # zone_entry and predicted_zone_entry


def plot_zone_distance(s: ZoneDistanceSeries, stem: Path) -> list[Path]:
    fig = Figure(figsize=(11, 4.2))
    ax = fig.add_subplot()
    ax.plot([_dt(t) for t in s.t_s], [d / 1000.0 for d in s.distance_m], color="#37474f", linewidth=1.2,
            marker=".", markersize=3, label="distance to the zone edge at each report (inside < 0)")
    ax.axhline(0.0, color="#d81b60", linewidth=1, label="zone edge")
    ax.axhline(s.exit_margin_m / 1000.0, color="#d81b60", linestyle=":", linewidth=1,
               label="exit margin (closes beyond, after the dwell)")
    first_pred = first_rev = True
    for r in s.revisions:
        colour = _SEVERITY_COLOURS[r.severity]
        if r.kind == "predicted_zone_entry" and "entry_t_s" in r.metrics:
            ax.plot(_dt(r.metrics["entry_t_s"]), 0.0, marker="v", color=colour, markeredgecolor="black",
                    linestyle="none", label="predicted entry" if first_pred else None)
            first_pred = False
        else:
            ax.axvline(_dt(r.t_s), color=colour, linewidth=0.8, alpha=0.7,
                       label="zone entry revision (open, update, close)" if first_rev else None)
            first_rev = False
    ax.set_ylabel("distance to the zone edge (km)")
    ax.set_title(f"zone edge: {s.label}", fontsize=10)
    _time_axis(ax)
    ax.legend(fontsize=8, loc="upper right")
    return _save(fig, stem)


# -- the page ----------------------------------------------------------------------------------------

_CSS = """
body { font: 14px/1.45 system-ui, "DejaVu Sans", Arial, sans-serif; margin: 0 auto; max-width: 1200px; padding: 16px;
  color: #263238; }
h1 { font-size: 22px; margin: 4px 0; } h2 { font-size: 17px; margin: 22px 0 6px; border-bottom: 1px solid #cfd8dc; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #cfd8dc; padding: 3px 6px;
  text-align: left; vertical-align: top; } th { background: #eceff1; }
img { max-width: 100%; border: 1px solid #cfd8dc; margin: 6px 0; } .note { color: #546e7a; }
code { background: #eceff1; padding: 1px 4px; }
"""


def _cell(v: Any) -> str:
    return f"<td>{html.escape(str(v)) if v is not None and v != '' else '–'}</td>"


def render_report_page(
    path: Path,
    *,
    title: str,
    summary: Sequence[tuple[str, str]],
    figures: Sequence[tuple[str, str]],
    revisions: Sequence[Event],
    raised_at: dict[tuple[str, int], float],
    files: Sequence[tuple[str, str]],
    notes: Sequence[str] = (),
) -> Path:
    """Write ``index.html``: ``summary`` (label, value) rows, ``figures`` (caption, PNG file name;
    the SVG beside it is linked), the ``revisions`` with the wall-clock time each was raised at
    the time (``raised_at[(event_id, seq)]``, detection time), ``files`` (name, what it is)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    parts.append("<table>" + "".join(f"<tr><th>{html.escape(k)}</th>{_cell(v)}</tr>" for k, v in summary) + "</table>")
    for note in notes:
        parts.append(f"<p class='note'>{html.escape(note)}</p>")
    parts.append("<p><a href='replay.html'>Open the replay page</a> (map with coastlines, zones and exercise "
                 "areas, a time slider, the table of events).</p>")
    for caption, png in figures:
        svg = Path(png).with_suffix(".svg").name
        parts.append(f"<h2>{html.escape(caption)}</h2><img src='{html.escape(png)}' alt='{html.escape(caption)}'>"
                     f"<p class='note'>Also as <a href='{html.escape(svg)}'>SVG</a>.</p>")
    parts.append("<h2>Revisions</h2><p class='note'>Data time is when it happened in the data; raised at is "
                 "the wall clock when closewatch raised the revision at the time (from the archive; – when it "
                 "has no record of it).</p><table><tr><th>data time (UTC)</th><th>raised at (UTC)</th><th>kind</th>"
                 "<th>state</th><th>seq</th><th>severity</th><th>summary</th><th>event id</th></tr>")
    for r in revisions:
        raised = raised_at.get((r.event_id, r.seq))
        parts.append("<tr>" + _cell(format_utc(r.t_s, "milliseconds"))
                     + _cell(format_utc(raised, "milliseconds") if raised is not None else None)
                     + _cell(r.kind) + _cell(r.state) + _cell(r.seq) + _cell(r.severity) + _cell(r.summary)
                     + _cell(r.event_id) + "</tr>")
    parts.append("</table><h2>Files</h2><table><tr><th>file</th><th>what it is</th></tr>")
    for name, what in files:
        parts.append(f"<tr><td><a href='{html.escape(name)}'>{html.escape(name)}</a></td>{_cell(what)}</tr>")
    parts.append("</table><h2>Checking this report</h2><p><code>closewatch report verify FOLDER "
                 "[--public-key KEY.pub]</code> checks the SHA-256 of every file against <code>manifest.json</code>, "
                 "the signature of the manifest when there is one, then runs the engine again over <code>input/</code> "
                 "with <code>config.json</code> and confirms the same revisions as <code>events.jsonl</code>.</p>"
                 "</body></html>\n")
    path.write_text("".join(parts), encoding="utf-8")
    return path
