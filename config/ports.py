"""Port areas: the committed port list in ``config/data/ports/`` and custom port files.

The committed list is points with a radius (``ports.geojson``, derived by
``closewatch/derive_ports.py``; ``config/data/ports/PROVENANCE.md``); custom files are GeoJSON
FeatureCollections of ``Polygon`` or ``MultiPolygon`` port or anchorage areas (property
``name`` optional). This module only reads them: the circles are made by the engine's geodesic
layer (``proximity.geometry``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

__all__ = ["PORTS_FILE", "PortArea", "PortPoint", "PortFileError", "load_custom_ports", "load_port_points"]

PORTS_FILE = Path(__file__).resolve().parent / "data" / "ports" / "ports.geojson"


class PortFileError(Exception):
    """A port file cannot be read: the message names the file, the feature and why."""


@dataclass(frozen=True, slots=True)
class PortPoint:
    port_id: str  # UN/LOCODE
    name: str
    country: str
    lon_deg: float
    lat_deg: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class PortArea:
    name: str
    geometry: BaseGeometry  # lon/lat


def _features(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise PortFileError(f"{path}: no such port file") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PortFileError(f"{path}: not a readable GeoJSON file: {e}") from e
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise PortFileError(f"{path}: not a GeoJSON FeatureCollection")
    return data["features"]


def load_port_points(path: Path = PORTS_FILE) -> list[PortPoint]:
    """The committed ports (points with a radius)."""
    out = []
    for k, f in enumerate(_features(path)):
        try:
            p = f["properties"]
            lon, lat = (float(c) for c in f["geometry"]["coordinates"][:2])
            out.append(PortPoint(str(p["port_id"]), str(p["name"]), str(p.get("country", "")), lon, lat,
                                 float(p["radius_m"])))
        except (KeyError, TypeError, ValueError) as e:
            raise PortFileError(f"{path}: feature {k}: {e!r}") from e
    return out


def load_custom_ports(path: str | Path) -> list[PortArea]:
    """Port or anchorage areas of a custom GeoJSON file (polygons, lon/lat)."""
    p = Path(path)
    out = []
    for k, f in enumerate(_features(p)):
        try:
            geom = shape(f["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise PortFileError(f"{p}: feature {k}: no usable geometry ({e})") from e
        if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty or not geom.is_valid:
            raise PortFileError(f"{p}: feature {k}: a {geom.geom_type} that is not a valid polygon")
        minx, miny, maxx, maxy = geom.bounds
        if not (-180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90):
            raise PortFileError(f"{p}: feature {k}: outside longitude/latitude")
        name = (f.get("properties") or {}).get("name") or f"{p.name}#{k}"
        out.append(PortArea(str(name), geom))
    return out
