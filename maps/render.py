"""The static situation map: one self-contained HTML file (every script, style
sheet and icon inlined) that opens from ``file://`` with no network.

Layers (each switchable in the layer control): country outlines (base, not
switchable), zones by kind (exercise zones active at some time of the data shown),
track trails, tracks (icon by domain rotated to heading, coloured by side,
labels at closer zooms), events (markers; for a close approach the line between
the two tracks and their predicted positions at the closest point of approach).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import folium
from shapely.geometry.base import BaseGeometry

from config.records import TrackUpdate, Zone
from config.times import format_utc
from maps.assets import AssetStore
from maps.events import EventFeature, event_features, event_positions, latest_revisions
from maps.features import feature_collection, group_tracks, thin, track_feature, trail_feature, zone_feature
from maps.page import PageSetup, add_outlines, base_map, bounds_of, geojson_layer, write_page

__all__ = ["render_situation_map"]

log = logging.getLogger(__name__)

_ZONE_LAYER_NAMES = {
    "border_buffer": "Zones: border buffers",
    "territorial": "Zones: territorial",
    "exercise": "Zones: exercise areas",
    "site": "Zones: sites",
    "custom": "Zones: custom",
    "corridor": "Zones: announced flights",
}


def render_situation_map(
    path: str | Path,
    *,
    zones: Sequence[Zone],
    tracks: Mapping[str, Sequence[TrackUpdate]],
    events: Sequence[EventFeature],
    outlines: BaseGeometry | Mapping[str, Any] | None = None,
    title: str = "closewatch situation",
    now_s: float | None = None,
    tile_url: str | None = None,
    max_trail_points: int = 500,
    store: AssetStore | None = None,
) -> Path:
    """Write a self-contained situation map to ``path`` and return it.

    ``tracks`` maps a track id to its updates (any order; the latest is the
    position shown, all of them the trail, thinned to ``max_trail_points``).
    ``events`` are values of the events topic (``EventFeature``), several revisions
    of an incident each (the latest is drawn). ``now_s`` is the data time (default:
    the latest of the tracks and events). ``outlines`` are country outlines for the
    tile-less base map. Raises :class:`~maps.errors.AssetsError` when the offline
    assets are not installed (``closewatch map assets``).
    """
    ordered = group_tracks(tracks)
    revisions = latest_revisions(events)
    first_s = [s[0].t_s for s in ordered.values()] + [r.t_s for r in revisions]
    if now_s is None:
        times = [s[-1].t_s for s in ordered.values()] + [r.t_s for r in revisions]
        now_s = max(times) if times else None
    start_s = min(first_s, default=now_s)

    # exercise areas active at some time of the data shown (the trails, the incidents)
    shown_zones = [z for z in zones if z.kind != "exercise" or start_s is None or now_s is None
                   or z.is_active_between(start_s, now_s)]
    last_points = [(s[-1].lon_deg, s[-1].lat_deg) for s in ordered.values()]
    event_points = [p for r in revisions for p in event_positions(r)]
    bounds = bounds_of(last_points + event_points)
    if bounds is None:
        zone_pts = []
        for z in shown_zones:
            minx, miny, maxx, maxy = z.geometry.bounds
            zone_pts += [(minx, miny), (maxx, maxy)]
        bounds = bounds_of(zone_pts)

    subtitle = (
        f"Data time {format_utc(now_s) if now_s is not None else 'n/a'} · {len(ordered)} tracks · "
        f"{sum(1 for r in revisions if r.state != 'closed')} open events"
    )
    m = base_map(bounds, tile_url=tile_url, title=title)
    add_outlines(m, outlines)
    for kind, layer_name in _ZONE_LAYER_NAMES.items():
        feats = [zone_feature(z) for z in shown_zones if z.kind == kind]
        if feats:
            geojson_layer(feature_collection(feats), layer_name).add_to(m)
    trails = [t for t in (trail_feature(tid, thin(s, max_trail_points)) for tid, s in ordered.items()) if t]
    geojson_layer(feature_collection(trails), "Track trails").add_to(m)
    geojson_layer(feature_collection(track_feature(s[-1]) for s in ordered.values()), "Tracks").add_to(m)
    ev_feats = [f for r in revisions for f in event_features(r)]
    geojson_layer(feature_collection(ev_feats), "Events").add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    PageSetup(
        bounds,
        {
            "title": title,
            "subtitle": subtitle,
            "tiles": bool(tile_url),
            "zoneKinds": sorted({z.kind for z in shown_zones}) or None,
        }
    ).add_to(m)
    out = Path(path)
    write_page(m, out, mode="inline", store=store)
    return out
