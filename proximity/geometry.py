"""Geodesic geometry on the WGS 84 ellipsoid: buffers, circles and distances.

Pure computation (no I/O). Coordinates at every interface are longitude/latitude
in degrees, in that order (``always_xy``); lengths are metres on the WGS 84
ellipsoid. Nothing is ever buffered or measured in degrees (DESIGN.md,
"Geometry: accurate first, then fast").

How a buffer is built (:func:`geodesic_buffer`):

1. the input lines (or the boundary of the input polygons) are cut into pieces
   whose length keeps the distortion of a local projection far below the
   tolerance (see :func:`_max_piece_length_m`); long segments are first densified
   along geodesics;
2. each piece is projected to an azimuthal equidistant projection (AEQD)
   centred on the piece, buffered there with circular arcs fine enough that a
   chord never cuts more than a quarter of the tolerance off the arc, densified
   so that straight lon/lat edges stay within a quarter of the tolerance of the
   metric outline, and projected back to lon/lat;
3. the pieces (and, for polygons, the polygons themselves) are united.

The AEQD used here is the ellipsoidal one: a point's projected coordinates are
its geodesic polar coordinates (distance and azimuth) from the centre, computed
with :class:`pyproj.Geod` (Karney's algorithms, as in GeographicLib). This is
the definition PROJ's ``+proj=aeqd`` implements on the ellipsoid; computing it
with ``Geod`` directly needs no CRS object per piece. Distances from the centre
are exact; other distances are stretched across the azimuth by at most
``(rho / R) / sin(rho / R) - 1`` at distance ``rho`` from the centre.

Every error term is bounded by a quarter of ``max_error_m``, so the built
boundary lies within ``max_error_m`` of the true geodesic buffer boundary; the
tests measure it against GeographicLib.

The antimeridian and the poles. Inputs are lon/lat geometries within +-180 and +-90
(a shape that crosses the antimeridian is given split in two, as RFC 7946 section 3.1.9
asks). Outputs may reach across: a metric outline projected back to lon/lat is first
*unwrapped* (its longitudes made continuous, so an outline around 180 degrees runs from
179 to 181 rather than jumping to -179), and then

* an outline that winds once around a pole (a circle or buffer containing it) is closed
  along that pole's parallel (latitude +-90), the lon/lat polygon of a polar cap;
* the polygon is cut at every multiple of 180 degrees of longitude and each piece moved
  back within +-180: an area over the antimeridian is a MultiPolygon whose parts touch
  the meridians -180 and 180.

So ``shapely.contains_xy`` and the zone index answer for such areas as for any other;
``tests/proximity/test_geometry_extremes.py`` measures them against GeographicLib.
Polygon *edges* are geodesics between vertices (see :func:`geodesic_buffer`): a lon/lat
box that runs along a parallel for 360 degrees is not what its vertices say as
geodesics, and is to be densified along the parallel first (``proximity.notices`` does,
for notified areas with straight lon/lat edges).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import shapely
from pyproj import Geod
from scipy.optimize import brentq
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from .errors import ProximityError

__all__ = [
    "WGS84",
    "GeometryError",
    "LocalAeqd",
    "densify_geodesic_edges",
    "distance_to_geometry_m",
    "geodesic_buffer",
    "geodesic_circle",
    "geodesic_length_m",
]

#: The WGS 84 ellipsoid, for geodesic computations.
WGS84 = Geod(ellps="WGS84")

# Mean radius of the WGS 84 ellipsoid (IUGG R1), used only for error bounds.
_EARTH_RADIUS_M = 6_371_008.8
# Share of max_error_m granted to each of the error terms (projection distortion,
# arc chords, straight lon/lat edges, geodesic densification of the source).
_BUDGET_SHARE = 0.25
# Pieces never exceed this, whatever the tolerance allows.
_MAX_PIECE_M = 200_000.0


class GeometryError(ProximityError, ValueError):
    """A geometry cannot be built or measured as asked (input, tolerance)."""


class LocalAeqd:
    """Ellipsoidal azimuthal equidistant projection centred on ``(lon0, lat0)``.

    ``x`` points east and ``y`` north at the centre; ``hypot(x, y)`` is the exact
    geodesic distance from the centre (metres).
    """

    __slots__ = ("lon0", "lat0")

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0 = float(lon0)
        self.lat0 = float(lat0)

    def forward(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """lon/lat degrees to projected metres."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        az, _, dist = WGS84.inv(np.full(lon.shape, self.lon0), np.full(lat.shape, self.lat0), lon, lat)
        az_rad = np.radians(np.asarray(az))
        dist = np.asarray(dist)
        return dist * np.sin(az_rad), dist * np.cos(az_rad)

    def inverse(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projected metres to lon/lat degrees."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        dist = np.hypot(x, y)
        az = np.degrees(np.arctan2(x, y))
        lon, lat, _ = WGS84.fwd(np.full(x.shape, self.lon0), np.full(y.shape, self.lat0), az, dist)
        return np.asarray(lon), np.asarray(lat)

    def forward_geometry(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda xy: np.column_stack(self.forward(xy[:, 0], xy[:, 1])))

    def inverse_geometry(self, geom: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geom, lambda xy: np.column_stack(self.inverse(xy[:, 0], xy[:, 1])))


# --------------------------------------------------------------------------- helpers


def _check_lonlat(geom: BaseGeometry) -> None:
    if geom.is_empty:
        raise GeometryError("geometry is empty")
    xmin, ymin, xmax, ymax = geom.bounds
    if not (-180.0 <= xmin <= xmax <= 180.0 and -90.0 <= ymin <= ymax <= 90.0):
        raise GeometryError(f"geometry bounds {geom.bounds} are not lon/lat degrees")
    if not all(math.isfinite(v) for v in geom.bounds):
        raise GeometryError("geometry has non-finite coordinates")


def _max_piece_length_m(distance_m: float, budget_m: float) -> float:
    """Longest piece whose AEQD distortion stays within ``budget_m`` at ``distance_m``.

    A point within ``distance_m`` of a piece of length ``L`` projected from the
    piece's midpoint is at most ``rho = L / 2 + distance_m`` from the centre,
    where the scale across the azimuth is at most ``1 + rho**2 / (6 R**2)``; the
    distance to the piece is therefore off by at most
    ``distance_m * rho**2 / (6 R**2)``.
    """
    rel = budget_m / distance_m
    rho_max = _EARTH_RADIUS_M * math.sqrt(6.0 * rel)
    half = rho_max - distance_m
    if half <= 0:
        raise GeometryError(
            f"a buffer of {distance_m:.0f} m cannot be built within {4 * budget_m:g} m in local projections"
        )
    return min(2.0 * half, _MAX_PIECE_M)


def _arc_quad_segs(distance_m: float, budget_m: float) -> int:
    """Segments per quarter circle so that a chord's sagitta is at most ``budget_m``."""
    if budget_m >= distance_m:
        return 1
    half_angle = math.acos(1.0 - budget_m / distance_m)
    return max(1, math.ceil((math.pi / 2) / (2.0 * half_angle)))


def _geodesic_densify(lon: np.ndarray, lat: np.ndarray, max_seg_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Insert geodesic intermediate points so no segment exceeds ``max_seg_m``."""
    out_lon: list[float] = [float(lon[0])]
    out_lat: list[float] = [float(lat[0])]
    _, _, seg = WGS84.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    for i, s in enumerate(np.atleast_1d(seg)):
        n = int(math.ceil(s / max_seg_m)) - 1
        if n > 0:
            pts = WGS84.npts(lon[i], lat[i], lon[i + 1], lat[i + 1], n)
            out_lon.extend(p[0] for p in pts)
            out_lat.extend(p[1] for p in pts)
        out_lon.append(float(lon[i + 1]))
        out_lat.append(float(lat[i + 1]))
    return np.array(out_lon), np.array(out_lat)


def _linework(geom: BaseGeometry) -> Iterator[np.ndarray]:
    """Coordinate arrays of every line (polygon rings included) and point in ``geom``."""
    for part in shapely.get_parts(geom):
        gt = part.geom_type
        if gt == "Point":
            yield np.asarray(part.coords)
        elif gt in ("LineString", "LinearRing"):
            yield np.asarray(part.coords)
        elif gt == "Polygon":
            yield np.asarray(part.exterior.coords)
            for ring in part.interiors:
                yield np.asarray(ring.coords)
        elif gt.startswith("Multi") or gt == "GeometryCollection":
            yield from _linework(part)
        else:  # pragma: no cover - shapely has no other kinds
            raise GeometryError(f"unsupported geometry type {gt}")


def _pieces(coords: np.ndarray, piece_m: float, seg_m: float) -> Iterator[np.ndarray]:
    """Cut one line into pieces no longer than ``piece_m`` (sharing their end points)."""
    lon, lat = _geodesic_densify(coords[:, 0], coords[:, 1], seg_m)
    if lon.size == 1:
        yield np.column_stack([lon, lat])
        return
    _, _, seg = WGS84.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    start = 0
    while start < lon.size - 1:
        end = int(np.searchsorted(cum, cum[start] + piece_m, side="right")) - 1
        end = max(end, start + 1)
        yield np.column_stack([lon[start : end + 1], lat[start : end + 1]])
        start = end


def _piece_centre(piece: np.ndarray) -> tuple[float, float]:
    """Midpoint (by geodesic length) of a piece, for the projection centre."""
    if len(piece) == 1:
        return float(piece[0, 0]), float(piece[0, 1])
    line = LineString(piece)
    mid = line.interpolate(0.5, normalized=True)  # centre only: need not be exact
    return float(mid.x), float(mid.y)


def _to_lonlat_densified(poly_xy: BaseGeometry, proj: LocalAeqd, budget_m: float) -> BaseGeometry:
    """Project a metric outline back to lon/lat with edges short enough to stay within budget.

    The error of a straight lon/lat edge is measured at its midpoint against the
    straight metric edge; the spacing is halved until every edge is within budget.
    Longitudes are unwrapped along each ring, then the area is closed at a pole it
    contains and cut at the antimeridian (see the module doc).
    """
    seg_m = 8_000.0
    for _ in range(14):
        dense = shapely.segmentize(poly_xy, seg_m)
        parts_xy = [p for p in shapely.get_parts(dense) if p.geom_type == "Polygon"]
        rings_xy = [[np.asarray(r.coords) for r in (p.exterior, *p.interiors)] for p in parts_xy]
        rings_ll = [[_ring_to_lonlat(r, proj) for r in rings] for rings in rings_xy]
        if all(
            _edges_within(r_xy, r_ll, proj, budget_m)
            for rings, lls in zip(rings_xy, rings_ll)
            for r_xy, r_ll in zip(rings, lls)
        ):
            polygons = [_lonlat_polygon(lls, p_xy, proj) for lls, p_xy in zip(rings_ll, parts_xy)]
            return _within_plus_minus_180(polygons[0] if len(polygons) == 1 else MultiPolygon(polygons))
        seg_m /= 2.0
    raise GeometryError("could not densify the outline within the tolerance")


def _ring_to_lonlat(ring_xy: np.ndarray, proj: LocalAeqd) -> np.ndarray:
    """A projected ring in lon/lat, its longitudes unwrapped: no step of 180 degrees or more
    between neighbours, the first within 180 degrees of the projection's centre."""
    lon, lat = proj.inverse(ring_xy[:, 0], ring_xy[:, 1])
    if abs(lon[0] - proj.lon0) <= 180.0 and bool(np.all(np.abs(np.diff(lon)) < 180.0)):
        return np.column_stack([lon, lat])  # nothing to unwrap (every ring away from +-180 and the poles)
    first = proj.lon0 + (lon[0] - proj.lon0 + 180.0) % 360.0 - 180.0
    steps = (np.diff(lon) + 180.0) % 360.0 - 180.0
    return np.column_stack([np.concatenate([[first], first + np.cumsum(steps)]), lat])


def _edges_within(ring_xy: np.ndarray, ring_ll: np.ndarray, proj: LocalAeqd, budget_m: float) -> bool:
    if len(ring_xy) < 2:
        return True
    mid_lon = 0.5 * (ring_ll[:-1, 0] + ring_ll[1:, 0])
    mid_lat = 0.5 * (ring_ll[:-1, 1] + ring_ll[1:, 1])
    mx, my = proj.forward(mid_lon, mid_lat)
    ex = 0.5 * (ring_xy[:-1, 0] + ring_xy[1:, 0])
    ey = 0.5 * (ring_xy[:-1, 1] + ring_xy[1:, 1])
    return bool(np.max(np.hypot(mx - ex, my - ey)) <= budget_m)


def _lonlat_polygon(rings: list[np.ndarray], polygon_xy: BaseGeometry, proj: LocalAeqd) -> Polygon:
    """The lon/lat polygon of unwrapped rings. An exterior ring that winds once around a
    pole (its last longitude 360 degrees from its first) bounds a polar cap: it is closed
    along latitude +-90, on the side of the pole the metric polygon holds."""
    exterior, holes = rings[0], rings[1:]
    for hole in holes:
        if abs(hole[-1, 0] - hole[0, 0]) >= 180.0:
            raise GeometryError("an area with a hole around a pole cannot be drawn in lon/lat")
    winding = exterior[-1, 0] - exterior[0, 0]
    if abs(winding) < 180.0:
        exterior = exterior.copy()
        exterior[-1] = exterior[0]  # the same point: only rounding parted them
        return Polygon(exterior, holes)
    held = []
    for lat in (90.0, -90.0):
        x, y = proj.forward(np.zeros(1), np.full(1, lat))
        if polygon_xy.covers(Point(float(x[0]), float(y[0]))):
            held.append(lat)
    if len(held) != 1:
        raise GeometryError("an outline winds around the Earth but holds no pole, or both")
    pole = held[0]
    cap = np.vstack([exterior, [[exterior[-1, 0], pole], [exterior[0, 0], pole], exterior[0]]])
    return Polygon(cap, holes)


def _within_plus_minus_180(geom: BaseGeometry) -> BaseGeometry:
    """An area in unwrapped longitudes, cut at the meridians 180 + 360 k and moved within +-180."""
    xmin, _, xmax, _ = geom.bounds
    if -180.0 <= xmin and xmax <= 180.0:
        return geom
    geom = shapely.make_valid(geom) if not geom.is_valid else geom
    parts = []
    for k in range(math.floor((xmin + 180.0) / 360.0), math.floor((xmax + 180.0) / 360.0) + 1):
        west = -180.0 + 360.0 * k
        piece = shapely.clip_by_rect(geom, west, -90.0, west + 360.0, 90.0)
        if not piece.is_empty:
            parts.append(shapely.transform(piece, lambda xy, dx=360.0 * k: xy - np.array([dx, 0.0])))
    return shapely.union_all(parts)


def _as_area(geom: BaseGeometry) -> Polygon | MultiPolygon:
    geom = shapely.make_valid(geom) if not geom.is_valid else geom
    polys = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    for p in shapely.get_parts(geom):
        if p.geom_type == "MultiPolygon":
            polys.extend(p.geoms)
    if not polys:
        raise GeometryError("the buffer is empty")
    merged = shapely.union_all(polys)
    if merged.geom_type not in ("Polygon", "MultiPolygon"):
        raise GeometryError(f"the buffer came out as a {merged.geom_type}")
    return merged  # type: ignore[return-value]


# --------------------------------------------------------------------------- public API


def densify_geodesic_edges(geom_lonlat: BaseGeometry, *, max_error_m: float) -> Polygon | MultiPolygon:
    """The polygon(s) whose edges are geodesics between the vertices of ``geom_lonlat``.

    Shapely draws an edge straight in lon/lat; a geodesic between the same vertices
    bows poleward of it, by about ``s**2 * tan(lat) / (8 R)`` for an east-west edge of
    length ``s`` (about 110 m for one degree of longitude at 55 degrees N). Vertices
    are inserted along the geodesics until every straight lon/lat edge lies within
    ``max_error_m`` of its geodesic, so ``shapely.contains_xy`` answers for the
    geodesic polygon except within ``max_error_m`` of its boundary.

    A geodesic is the shortest way between its vertices: an edge from 179 E to 179 W
    crosses the antimeridian (2 degrees), it does not run 358 degrees round; such a
    polygon comes out cut at the antimeridian (a MultiPolygon). A polygon whose geodesic
    edges enclose a pole cannot be given by lon/lat vertices and is an error.
    """
    if not (max_error_m > 0 and math.isfinite(max_error_m)):
        raise GeometryError(f"max_error_m={max_error_m!r} must be positive")
    _check_lonlat(geom_lonlat)
    parts = [p for p in shapely.get_parts(geom_lonlat)]
    if not parts or any(p.geom_type != "Polygon" for p in parts):
        raise GeometryError(f"a {geom_lonlat.geom_type} is not a polygon")
    _, ymin, _, ymax = geom_lonlat.bounds
    steepest = math.tan(math.radians(min(89.0, max(abs(ymin), abs(ymax)) + 1.0)))
    seg_m = min(_MAX_PIECE_M, math.sqrt(8.0 * _EARTH_RADIUS_M * max_error_m / max(steepest, 0.05)))

    def ring(coords: np.ndarray) -> np.ndarray:
        lon, lat = _geodesic_densify(coords[:, 0], coords[:, 1], seg_m)
        if bool(np.all(np.abs(np.diff(lon)) < 180.0)):
            return np.column_stack([lon, lat])
        steps = (np.diff(lon) + 180.0) % 360.0 - 180.0  # each geodesic the short way round
        lon = np.concatenate([[lon[0]], lon[0] + np.cumsum(steps)])
        if abs(lon[-1] - lon[0]) > 1e-9:
            raise GeometryError("the geodesic edges of a polygon go round a pole: not an area of lon/lat vertices")
        lon[-1] = lon[0]
        return np.column_stack([lon, lat])

    polys = [
        Polygon(ring(np.asarray(p.exterior.coords)), [ring(np.asarray(r.coords)) for r in p.interiors]) for p in parts
    ]
    return _as_area(_within_plus_minus_180(MultiPolygon(polys) if len(polys) > 1 else polys[0]))


def geodesic_length_m(geom: BaseGeometry) -> float:
    """Geodesic length (metres) of the lines of ``geom`` (polygon rings included)."""
    return float(WGS84.geometry_length(geom))


def geodesic_buffer(
    geom_lonlat: BaseGeometry, distance_m: float, *, max_error_m: float
) -> Polygon | MultiPolygon:
    """The area within ``distance_m`` (geodesic) of ``geom_lonlat``, in lon/lat.

    ``geom_lonlat`` is any shapely geometry in lon/lat degrees; its segments are
    taken as geodesics between their vertices. For polygons, the result is the
    polygon and everything within ``distance_m`` of it. The boundary of the
    result lies within ``max_error_m`` of the true geodesic buffer boundary (a
    point farther than ``max_error_m`` from that boundary is classified right by
    ``shapely.contains_xy``).

    Raises :class:`GeometryError` for empty or non-lon/lat input, or when the
    tolerance cannot be met with local projections (huge buffers, tiny errors).
    """
    if not (distance_m > 0 and math.isfinite(distance_m)):
        raise GeometryError(f"distance_m={distance_m!r} must be positive")
    if not (max_error_m > 0 and math.isfinite(max_error_m)):
        raise GeometryError(f"max_error_m={max_error_m!r} must be positive")
    _check_lonlat(geom_lonlat)
    budget = max_error_m * _BUDGET_SHARE
    quad_segs = _arc_quad_segs(distance_m, budget)

    pieces_ll: list[BaseGeometry] = []
    points_only = all(p.geom_type in ("Point", "MultiPoint") for p in shapely.get_parts(geom_lonlat))
    piece_m = _MAX_PIECE_M if points_only else _max_piece_length_m(distance_m, budget)
    # A geodesic segment of length s projected from a centre at most rho away bows
    # off the straight chord by about s**2 * rho / (8 R**2): keep that within budget.
    rho = piece_m / 2 + distance_m
    seg_m = min(piece_m, math.sqrt(8.0 * budget * _EARTH_RADIUS_M**2 / rho))
    for coords in _linework(geom_lonlat):
        for piece in _pieces(coords, piece_m, seg_m):
            lon0, lat0 = _piece_centre(piece)
            proj = LocalAeqd(lon0, lat0)
            x, y = proj.forward(piece[:, 0], piece[:, 1])
            shape_xy = Point(x[0], y[0]) if len(piece) == 1 else LineString(np.column_stack([x, y]))
            buf_xy = shape_xy.buffer(distance_m, quad_segs=quad_segs)
            pieces_ll.append(_to_lonlat_densified(buf_xy, proj, budget))
    for part in shapely.get_parts(geom_lonlat):
        if part.geom_type in ("Polygon", "MultiPolygon"):
            pieces_ll.append(part)
    return _as_area(shapely.union_all(pieces_ll))


def geodesic_circle(
    lon_deg: float, lat_deg: float, radius_m: float, *, max_error_m: float
) -> Polygon | MultiPolygon:
    """The area within ``radius_m`` (geodesic) of a point, in lon/lat (site zones): one
    polygon, or two when it crosses the antimeridian; a circle around a pole is a polar
    cap up to latitude +-90 (see the module doc)."""
    return geodesic_buffer(Point(lon_deg, lat_deg), radius_m, max_error_m=max_error_m)


def _segment_min_distance_m(
    lon: float, lat: float, a: tuple[float, float], b: tuple[float, float]
) -> float:
    """Shortest geodesic distance from a point to the geodesic segment ``a``-``b``.

    Along the segment the distance falls while the geodesic to the point leaves it less than
    90 degrees off the segment's course, and rises after: the nearest point is an end, or where
    the two are perpendicular, found by Brent's method on the cosine of that angle to 1 mm along
    the segment (the distance along a geodesic from an outside point is unimodal on a segment
    well under a quarter meridian).
    """
    az_ab, az_ba, s_ab = WGS84.inv(a[0], a[1], b[0], b[1])
    az_aq, _, d_a = WGS84.inv(a[0], a[1], lon, lat)
    if s_ab == 0.0 or d_a == 0.0 or math.cos(math.radians(az_aq - az_ab)) <= 0.0:
        return float(d_a)
    az_bq, _, d_b = WGS84.inv(b[0], b[1], lon, lat)
    if d_b == 0.0 or math.cos(math.radians(az_bq - (az_ba + 180.0))) >= 0.0:
        return float(d_b)

    def off_course(t: float) -> float:
        plon, plat, back = WGS84.fwd(a[0], a[1], az_ab, t * s_ab)
        return math.cos(math.radians(WGS84.inv(plon, plat, lon, lat)[0] - (back + 180.0)))

    try:
        t = brentq(off_course, 0.0, 1.0, xtol=max(1e-12, 1e-3 / s_ab))
    except ValueError:  # the point on the segment's line, or as near it as the azimuths are noise
        t_all = np.linspace(0.0, 1.0, 1001)
        plons, plats, _ = WGS84.fwd(np.full(t_all.size, a[0]), np.full(t_all.size, a[1]),
                                    np.full(t_all.size, az_ab), t_all * s_ab)
        t = float(t_all[np.argmin(WGS84.inv(np.full(t_all.size, lon), np.full(t_all.size, lat), plons, plats)[2])])
    plon, plat, _ = WGS84.fwd(a[0], a[1], az_ab, t * s_ab)
    return min(float(d_a), float(d_b), float(WGS84.inv(lon, lat, plon, plat)[2]))


#: The sphere the segment screen of :func:`distance_to_geometry_m` measures on (the mean
#: radius), and how far geodesic distances on WGS 84 may differ from it, as a share (they
#: differ by under 0.6 %; the screen allows 1 %).
_SCREEN_RADIUS_M = 6_371_008.8
_SCREEN_SLACK = 0.01
#: Geometries whose segments are kept ready for :func:`distance_to_geometry_m` (the zones and
#: border lines an engine measures against again and again), newest last.
_SEGMENT_CACHE: dict[int, tuple[BaseGeometry, "_Segments"]] = {}
_SEGMENT_CACHE_MAX = 256


class _Segments:
    """A geometry's polygons (united, prepared), lone points and segments, with the segments'
    end points as unit vectors and their half-lengths on the screen's sphere."""

    __slots__ = ("polygons", "points", "a", "b", "line", "ua", "ub", "half_m")

    def __init__(self, geom: BaseGeometry) -> None:
        polys = _polygons(geom)
        self.polygons = None if polys.is_empty else polys
        if self.polygons is not None:
            shapely.prepare(self.polygons)
        points, starts, ends, lines = [], [], [], []
        for k, coords in enumerate(_linework(geom)):
            coords = coords[:, :2]
            if len(coords) == 1:
                points.append(coords[0])
                continue
            starts.append(coords[:-1])
            ends.append(coords[1:])
            lines.append(np.full(len(coords) - 1, k))
        self.points = np.array(points, dtype=float).reshape(-1, 2)
        self.a = np.concatenate(starts) if starts else np.empty((0, 2))
        self.b = np.concatenate(ends) if ends else np.empty((0, 2))
        self.line = np.concatenate(lines) if lines else np.empty(0, dtype=int)
        self.ua = _unit(self.a)
        self.ub = _unit(self.b)
        self.half_m = 0.5 * _SCREEN_RADIUS_M * _angle(self.ua, self.ub)


def _unit(lonlat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The angle between unit vectors, row by row (from the chord: exact for small angles)."""
    chord = np.linalg.norm(u - v, axis=-1)
    return 2.0 * np.arcsin(np.minimum(chord / 2.0, 1.0))


def _segments(geom: BaseGeometry) -> _Segments:
    hit = _SEGMENT_CACHE.get(id(geom))
    if hit is not None and hit[0] is geom:
        return hit[1]
    segs = _Segments(geom)
    if len(_SEGMENT_CACHE) >= _SEGMENT_CACHE_MAX:
        del _SEGMENT_CACHE[next(iter(_SEGMENT_CACHE))]
    _SEGMENT_CACHE[id(geom)] = (geom, segs)  # the geometry kept: its id is not reused meanwhile
    return segs


def distance_to_geometry_m(lon_deg: float, lat_deg: float, geom: BaseGeometry) -> float:
    """Geodesic distance (metres) from a point to the nearest point of ``geom``.

    0 when the point lies inside a polygon of ``geom``. Segments are geodesics
    between vertices. A screen on the sphere first keeps only the segments that
    may hold the nearest point: by the triangle inequality no point of a segment
    is nearer than its nearer end less half its length, and the nearest end of
    all is an upper bound (both with a 1 % allowance for the ellipsoid). Among
    those, candidates are found in the AEQD centred on the query point (where
    distances from the point are exact); the nearest segments are then refined
    with exact geodesics (the perpendicular found along each candidate segment).
    Good to well under 1 m up to thousands of kilometres. A geometry's segments
    are prepared once and kept for the next call (the engine measures against
    the same zones and border lines again and again).
    """
    _check_lonlat(geom)
    segs = _segments(geom)
    if segs.polygons is not None and shapely.intersects_xy(segs.polygons, lon_deg, lat_deg):  # covers, for a point
        return 0.0
    best_point = math.inf
    for plon, plat in segs.points:
        best_point = min(best_point, float(WGS84.inv(lon_deg, lat_deg, plon, plat)[2]))
    if not len(segs.a):
        return best_point
    q = _unit(np.array([[lon_deg, lat_deg]]))[0]
    # the nearer end of each segment by the cosine of its angle from the point (the larger: nearer)
    cos_a, cos_b = segs.ua @ q, segs.ub @ q
    cos_near = np.maximum(cos_a, cos_b)
    chord = np.sqrt(np.maximum(2.0 - 2.0 * cos_near, 0.0))  # within 0.1 m for the nearest: the 1 m below
    near_end = _SCREEN_RADIUS_M * 2.0 * np.arcsin(np.minimum(chord / 2.0, 1.0))
    k = int(np.argmax(cos_near))
    end = segs.a[k] if cos_a[k] >= cos_b[k] else segs.b[k]
    upper = float(WGS84.inv(lon_deg, lat_deg, end[0], end[1])[2])
    lower = (1.0 - _SCREEN_SLACK) * near_end - (1.0 + _SCREEN_SLACK) * segs.half_m - 1.0
    keep = np.nonzero(lower <= upper)[0]
    proj = LocalAeqd(lon_deg, lat_deg)
    ends = np.concatenate([segs.a[keep], segs.b[keep]])
    x, y = proj.forward(ends[:, 0], ends[:, 1])
    xy = np.column_stack([x, y])
    planar = shapely.linestrings(np.stack([xy[: keep.size], xy[keep.size:]], axis=1))
    d_planar = shapely.distance(planar, Point(0.0, 0.0))
    # the eight nearest of each line (ring), then every one within a margin of the nearest
    order = np.argsort(d_planar, kind="stable")
    taken: dict[int, int] = {}
    candidates: list[tuple[float, int]] = []
    for i in order.tolist():
        line = int(segs.line[keep[i]])
        if taken.get(line, 0) < 8:
            taken[line] = taken.get(line, 0) + 1
            candidates.append((float(d_planar[i]), int(keep[i])))
    d0 = candidates[0][0]
    # A projected geodesic bows off its chord by far less than this margin.
    margin = 1e-3 * d0 + 50.0
    for d_planar_m, s in candidates:
        if d_planar_m > d0 + margin:
            break
        a, b = segs.a[s], segs.b[s]
        best_point = min(best_point, _segment_min_distance_m(lon_deg, lat_deg, (a[0], a[1]), (b[0], b[1])))
    return best_point


def _polygons(geom: BaseGeometry) -> BaseGeometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.GeometryCollection()
