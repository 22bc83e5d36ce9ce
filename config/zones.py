"""The zone catalogue: the committed zones in ``config/data/zones/`` plus custom files.

The catalogue is data, derived offline from Natural Earth by
``closewatch/derive_zones.py`` (see ``config/data/zones/PROVENANCE.md`` and
``docs/zones.md``). This module only reads it; it imports nothing of closewatch
but the records, so every room may use it.

Files (GeoJSON, RFC 7946: WGS 84 longitude/latitude):

* ``border_buffers.geojson``: one Feature per border piece and band
  (``kind`` ``border_buffer``), the area within ``buffer_m`` of the border;
* ``territorial.geojson``: national territory plus the 12 NM territorial sea
  (and the airspace above both), clipped to regional boxes (``kind``
  ``territorial``); in the Gulf of Finland, Finland's and Estonia's end 3 NM
  short of the median line between them (``median_setbacks``);
* ``median_lines.geojson``: those median lines (for maps and tests);
* ``borders.geojson``: the land border lines themselves (for maps and tests);
* ``countries.geojson``: simplified country outlines for a map without tiles.

Zone Feature properties (the committed files and custom files alike):

``zone_id`` (str, unique, required), ``name`` (str, required), ``kind``
(``border_buffer`` | ``territorial`` | ``exercise`` | ``site`` | ``custom``;
default ``custom``), ``buffer_m`` (number >= 0, default 0), ``sides`` (list of
``nato`` | ``russia`` | ``other`` | ``unknown``: whose tracks the zone concerns;
default ``["russia"]``), ``domains`` (list of ``air`` | ``sea`` | ``land``;
default all), ``severity`` (``info`` | ``warning`` | ``critical``; default
``warning``), ``severity_by_domain`` (optional object domain -> severity: the
Feature then yields one :class:`~config.records.Zone` per severity, with
``zone_id`` suffixed ``:<domains joined by +>``), ``active_from`` /
``active_until`` (optional ISO 8601 timestamps with a UTC offset). Any other
property is kept in ``Zone.properties``. Geometry: ``Polygon`` or
``MultiPolygon`` only.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

from config.records import DOMAINS, SEVERITIES, RecordError, Zone
from config.settings import ZoneSettings
from config.times import TimeFormatError, format_utc, parse_utc

__all__ = [
    "BORDERS_GEOJSON",
    "BORDER_BUFFERS_GEOJSON",
    "COUNTRIES_GEOJSON",
    "MEDIAN_LINES_GEOJSON",
    "TERRITORIAL_GEOJSON",
    "ZONES_DIR",
    "CountryOutline",
    "MedianLine",
    "ZoneCatalogueError",
    "available_border_bands_m",
    "load_borders",
    "load_catalogue",
    "load_country_outlines",
    "load_land",
    "load_median_lines",
    "load_zone_file",
    "write_zone_file",
    "zones_to_geojson",
]

log = logging.getLogger(__name__)

ZONES_DIR = Path(__file__).resolve().parent / "data" / "zones"
BORDER_BUFFERS_GEOJSON = ZONES_DIR / "border_buffers.geojson"
TERRITORIAL_GEOJSON = ZONES_DIR / "territorial.geojson"
BORDERS_GEOJSON = ZONES_DIR / "borders.geojson"
COUNTRIES_GEOJSON = ZONES_DIR / "countries.geojson"
MEDIAN_LINES_GEOJSON = ZONES_DIR / "median_lines.geojson"

_KNOWN_PROPS = frozenset(
    {
        "zone_id",
        "name",
        "kind",
        "buffer_m",
        "sides",
        "domains",
        "severity",
        "severity_by_domain",
        "active_from",
        "active_until",
    }
)


class ZoneCatalogueError(Exception):
    """A zone file is missing or malformed; the message names the file and feature."""


@dataclass(frozen=True, slots=True)
class CountryOutline:
    """A country's simplified outline for the map base layer (not for measuring)."""

    code: str  # ISO 3166-1 alpha-2
    name: str
    geometry: Polygon | MultiPolygon


@dataclass(frozen=True, slots=True)
class MedianLine:
    """A median line two states keep their territorial seas back from (a corridor between them).

    Each state's territorial zone ends at least ``setback_m`` from ``geometry``
    (lon/lat, segments are geodesics), so the corridor is ``2 * setback_m``
    wide where the 12 NM belts would reach further.
    """

    median_id: str  # "FI-EE"
    name: str
    countries: tuple[str, str]  # ISO 3166-1 alpha-2
    setback_m: float
    geometry: LineString


# --------------------------------------------------------------------------- reading


# Custom zones drawn in GIS tools often come as a Shapefile or a GeoPackage: read those with
# geopandas (GDAL via pyogrio) and bring them to WGS 84 lon/lat, like GeoJSON (RFC 7946).
_GIS_SUFFIXES = (".shp", ".gpkg", ".fgb", ".zip")
_LIST_PROPERTIES = ("sides", "domains")


def _read_gis_features(path: Path) -> list[dict[str, Any]]:
    import geopandas

    if not path.exists():
        raise ZoneCatalogueError(f"{path}: no such zone file")
    try:
        frame = geopandas.read_file(path)
    except Exception as e:  # GDAL's errors are not one class
        raise ZoneCatalogueError(f"{path}: not a readable GIS file: {e}") from e
    if frame.crs is None:
        raise ZoneCatalogueError(f"{path}: no coordinate reference system: cannot place the zones")
    frame = frame.to_crs(4326)
    doc = json.loads(frame.to_json(na="drop", show_bbox=False))
    feats: list[dict[str, Any]] = doc["features"]
    for feat in feats:
        props = feat.get("properties") or {}
        for key in _LIST_PROPERTIES:
            # GIS attribute tables hold no lists: "nato,russia" stands for ["nato", "russia"].
            if isinstance(props.get(key), str):
                props[key] = [v.strip() for v in props[key].split(",") if v.strip()]
    return feats


def _read_features(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() in _GIS_SUFFIXES:
        return _read_gis_features(path)
    try:
        with path.open("r", encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError as e:
        raise ZoneCatalogueError(f"{path}: no such zone file") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ZoneCatalogueError(f"{path}: not readable GeoJSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ZoneCatalogueError(f"{path}: not a GeoJSON FeatureCollection")
    feats = doc.get("features")
    if not isinstance(feats, list):
        raise ZoneCatalogueError(f"{path}: 'features' is not a list")
    return feats


def _where(path: Path, index: int, feat: Any) -> str:
    zid = None
    if isinstance(feat, dict) and isinstance(feat.get("properties"), dict):
        zid = feat["properties"].get("zone_id")
    return f"{path}: feature {index}" + (f" ({zid})" if zid else "")


def _geometry(feat: dict[str, Any], where: str, allowed: tuple[str, ...]) -> BaseGeometry:
    raw = feat.get("geometry")
    if not isinstance(raw, dict):
        raise ZoneCatalogueError(f"{where}: no geometry")
    if raw.get("type") not in allowed:
        raise ZoneCatalogueError(f"{where}: geometry type {raw.get('type')!r} is not one of {allowed}")
    try:
        geom = shape(raw)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.GEOSException) as e:
        raise ZoneCatalogueError(f"{where}: bad geometry: {e}") from e
    if geom.is_empty:
        raise ZoneCatalogueError(f"{where}: geometry is empty")
    xmin, ymin, xmax, ymax = geom.bounds
    if not (-180.0 <= xmin and xmax <= 180.0 and -90.0 <= ymin and ymax <= 90.0):
        raise ZoneCatalogueError(f"{where}: coordinates {geom.bounds} are not lon/lat degrees")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise ZoneCatalogueError(f"{where}: invalid geometry: {reason}")
    return geom


def _str_list(value: Any, key: str, where: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise ZoneCatalogueError(f"{where}: {key} must be a non-empty list of strings")
    return tuple(value)


def _time_s(value: Any, key: str, where: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_utc(value, key)
    except TimeFormatError as e:
        raise ZoneCatalogueError(f"{where}: {e}") from e


def _zones_from_feature(path: Path, index: int, feat: Any) -> list[Zone]:
    where = _where(path, index, feat)
    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        raise ZoneCatalogueError(f"{where}: not a GeoJSON Feature")
    props = feat.get("properties")
    if not isinstance(props, dict):
        raise ZoneCatalogueError(f"{where}: no properties")
    zone_id = props.get("zone_id")
    name = props.get("name")
    if not isinstance(zone_id, str) or not zone_id:
        raise ZoneCatalogueError(f"{where}: zone_id missing")
    if not isinstance(name, str) or not name:
        raise ZoneCatalogueError(f"{where}: name missing")
    buffer_m = props.get("buffer_m", 0.0)
    if not isinstance(buffer_m, (int, float)) or isinstance(buffer_m, bool) or not math.isfinite(buffer_m):
        raise ZoneCatalogueError(f"{where}: buffer_m must be a number")
    geom = _geometry(feat, where, ("Polygon", "MultiPolygon"))
    domains = _str_list(props.get("domains"), "domains", where, DOMAINS)
    sides = _str_list(props.get("sides"), "sides", where, ("russia",))
    extra = {k: v for k, v in props.items() if k not in _KNOWN_PROPS}
    extra["source_file"] = str(path)
    by_domain = props.get("severity_by_domain")
    groups: list[tuple[str, tuple[str, ...], Any]]
    if by_domain is None:
        groups = [(zone_id, domains, props.get("severity", "warning"))]
    else:
        if not isinstance(by_domain, dict) or set(by_domain) != set(domains):
            raise ZoneCatalogueError(f"{where}: severity_by_domain must give a severity for each of {domains}")
        groups = []
        for sev in SEVERITIES:
            doms = tuple(d for d in domains if by_domain[d] == sev)
            if doms:
                groups.append((f"{zone_id}:{'+'.join(doms)}", doms, sev))
        unknown = set(by_domain.values()) - set(SEVERITIES)
        if unknown:
            raise ZoneCatalogueError(f"{where}: severity {sorted(unknown)} is not one of {SEVERITIES}")
    zones = []
    for zid, doms, sev in groups:
        try:
            zones.append(
                Zone(
                    zone_id=zid,
                    name=name,
                    kind=props.get("kind", "custom"),
                    geometry=geom,
                    buffer_m=float(buffer_m),
                    sides=sides,  # type: ignore[arg-type]
                    domains=doms,  # type: ignore[arg-type]
                    severity=sev,
                    active_from_s=_time_s(props.get("active_from"), "active_from", where),
                    active_until_s=_time_s(props.get("active_until"), "active_until", where),
                    properties=extra,
                )
            )
        except RecordError as e:
            raise ZoneCatalogueError(f"{where}: {e}") from e
    return zones


def load_zone_file(path: str | Path) -> list[Zone]:
    """Every zone of one zone file (committed or custom), in file order.

    GeoJSON, or a Shapefile / GeoPackage / FlatGeobuf (any CRS; reprojected to WGS 84)
    whose attribute table has the same properties as the GeoJSON format (list properties
    as comma-separated text: ``sides = "nato,russia"``).
    """
    p = Path(path)
    zones: list[Zone] = []
    for i, feat in enumerate(_read_features(p)):
        zones.extend(_zones_from_feature(p, i, feat))
    return zones


def available_border_bands_m() -> tuple[float, ...]:
    """The border-buffer distances present in the committed catalogue (metres)."""
    bands = set()
    for i, feat in enumerate(_read_features(BORDER_BUFFERS_GEOJSON)):
        try:
            bands.add(float(feat["properties"]["buffer_m"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ZoneCatalogueError(f"{_where(BORDER_BUFFERS_GEOJSON, i, feat)}: buffer_m missing") from e
    return tuple(sorted(bands))


def _select_bands(path: Path, bands_m: Iterable[float]) -> list[Zone]:
    wanted = set(bands_m)
    zones = []
    found: set[float] = set()
    for i, feat in enumerate(_read_features(path)):
        try:
            band = float(feat["properties"]["buffer_m"])
        except (KeyError, TypeError, ValueError) as e:
            raise ZoneCatalogueError(f"{_where(path, i, feat)}: buffer_m missing") from e
        if band in wanted:
            found.add(band)
            zones.extend(_zones_from_feature(path, i, feat))
    missing = sorted(wanted - found)
    if missing:
        raise ZoneCatalogueError(
            f"{path}: no border buffer band of {', '.join(f'{m:g}' for m in missing)} m in the catalogue "
            f"(zones.border_buffers_m); regenerate with closewatch/derive_zones.py --bands"
        )
    return zones


def load_catalogue(settings: ZoneSettings) -> list[Zone]:
    """The zones to watch: committed bands and territorial zones, then custom files.

    Geometries are prepared (``shapely.prepare``) for fast ``contains_xy``.
    Raises :class:`ZoneCatalogueError` naming the file and feature at fault, or
    a ``zone_id`` repeated across files.
    """
    zones: list[Zone] = []
    if settings.catalogue == "default":
        if settings.border_buffers_m:
            zones.extend(_select_bands(BORDER_BUFFERS_GEOJSON, settings.border_buffers_m))
        if settings.territorial:
            zones.extend(load_zone_file(TERRITORIAL_GEOJSON))
    for custom in settings.custom:
        zones.extend(load_zone_file(custom))
    seen: dict[str, Zone] = {}
    for z in zones:
        if z.zone_id in seen:
            raise ZoneCatalogueError(
                f"zone_id {z.zone_id!r} appears in {seen[z.zone_id].properties.get('source_file')} "
                f"and in {z.properties.get('source_file')}"
            )
        seen[z.zone_id] = z
    shapely.prepare([z.geometry for z in zones])
    log.info("zone catalogue: %d zones", len(zones))
    return zones


def load_borders() -> list[tuple[str, LineString]]:
    """The land border lines of the catalogue: ``(name, line)`` per border piece."""
    out = []
    for i, feat in enumerate(_read_features(BORDERS_GEOJSON)):
        where = _where(BORDERS_GEOJSON, i, feat)
        props = feat.get("properties") if isinstance(feat, dict) else None
        if not isinstance(props, dict) or not isinstance(props.get("name"), str):
            raise ZoneCatalogueError(f"{where}: name missing")
        geom = _geometry(feat, where, ("LineString",))
        out.append((props["name"], geom))
    return out  # type: ignore[return-value]


def load_median_lines() -> list[MedianLine]:
    """The median lines the territorial zones are kept back from (the Gulf of Finland corridor)."""
    out = []
    for i, feat in enumerate(_read_features(MEDIAN_LINES_GEOJSON)):
        where = _where(MEDIAN_LINES_GEOJSON, i, feat)
        props = feat.get("properties") if isinstance(feat, dict) else None
        if not isinstance(props, dict):
            raise ZoneCatalogueError(f"{where}: no properties")
        try:
            countries = tuple(str(c) for c in props["countries"])
            line = MedianLine(
                median_id=str(props["median_id"]),
                name=str(props["name"]),
                countries=(countries[0], countries[1]),
                setback_m=float(props["setback_m"]),
                geometry=_geometry(feat, where, ("LineString",)),  # type: ignore[arg-type]
            )
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise ZoneCatalogueError(
                f"{where}: needs median_id, name, countries (two codes) and setback_m: {e!r}"
            ) from e
        out.append(line)
    return out


def load_country_outlines() -> list[CountryOutline]:
    """Simplified country outlines of the region, for the map base layer."""
    out = []
    for i, feat in enumerate(_read_features(COUNTRIES_GEOJSON)):
        where = _where(COUNTRIES_GEOJSON, i, feat)
        props: Mapping[str, Any] = feat.get("properties") if isinstance(feat, dict) else None  # type: ignore[assignment]
        if not isinstance(props, dict) or not isinstance(props.get("code"), str):
            raise ZoneCatalogueError(f"{where}: code missing")
        geom = _geometry(feat, where, ("Polygon", "MultiPolygon"))
        out.append(CountryOutline(code=props["code"], name=str(props.get("name", props["code"])), geometry=geom))  # type: ignore[arg-type]
    return out


def load_land() -> BaseGeometry:
    """The land of the catalogue's region: the union of the country outlines (Natural Earth 1:10m,
    simplified to 2 km, islands under 30 km2 dropped; ``PROVENANCE.md``), for the ``on_land``
    screen of ``track_integrity`` (which looks only well inside it). Read once per process."""
    global _LAND
    if _LAND is None:
        _LAND = shapely.union_all([o.geometry for o in load_country_outlines()])
    return _LAND


_LAND: BaseGeometry | None = None


# --------------------------------------------------------------------------- writing


def zones_to_geojson(zones: Iterable[Zone]) -> dict[str, Any]:
    """Zones as a GeoJSON FeatureCollection in the zone file format (RFC 7946).

    Each :class:`~config.records.Zone` becomes one Feature (zones split by
    ``severity_by_domain`` stay split); ``load_zone_file`` reads it back. For
    custom zone files (e.g. a site circle from ``proximity.geometry.geodesic_circle``)
    and for drawing zones on a map.
    """
    feats = []
    for z in zones:
        props: dict[str, Any] = {k: v for k, v in z.properties.items() if k != "source_file"}
        props |= {
            "zone_id": z.zone_id,
            "name": z.name,
            "kind": z.kind,
            "buffer_m": z.buffer_m,
            "sides": list(z.sides),
            "domains": list(z.domains),
            "severity": z.severity,
        }
        if z.active_from_s is not None:
            props["active_from"] = format_utc(z.active_from_s, "auto")
        if z.active_until_s is not None:
            props["active_until"] = format_utc(z.active_until_s, "auto")
        feats.append({"type": "Feature", "properties": props, "geometry": mapping(z.geometry)})
    return {"type": "FeatureCollection", "features": feats}


def write_zone_file(path: str | Path, zones: Iterable[Zone]) -> None:
    """Write zones to a GeoJSON zone file (see :func:`zones_to_geojson`)."""
    p = Path(path)
    try:
        p.write_text(json.dumps(zones_to_geojson(zones), ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as e:
        raise ZoneCatalogueError(f"{p}: cannot write zone file: {e}") from e
