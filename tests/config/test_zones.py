"""The committed zone catalogue: loading, selection, errors, and accuracy against GeographicLib."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from geodesic_truth import distance_to_line_m, normal_samples
from shapely.geometry import LineString

from config.records import Zone
from config.settings import ZoneSettings
from config.zones import (
    BORDER_BUFFERS_GEOJSON,
    BORDERS_GEOJSON,
    ZoneCatalogueError,
    available_border_bands_m,
    load_borders,
    load_catalogue,
    load_zone_file,
)

BANDS_M = (10_000.0, 25_000.0, 50_000.0)
BORDER_IDS = {"RU-NO", "RU-FI", "RU-EE", "RU-LV", "RU-LT-1", "RU-LT-2", "RU-PL", "BY-LV", "BY-LT", "BY-PL"}


def _zone_settings(**kw: Any) -> ZoneSettings:
    return ZoneSettings(**{"territorial": False, **kw})


def test_borders_are_the_expected_lines() -> None:
    borders = load_borders()
    assert len(borders) == len(BORDER_IDS)
    names = {name for name, _ in borders}
    assert "Russia–Estonia border" in names and "Russia–Latvia border" in names
    for _, line in borders:
        assert isinstance(line, LineString) and line.is_valid and len(line.coords) >= 2


def test_committed_bands() -> None:
    assert available_border_bands_m() == BANDS_M


@pytest.mark.parametrize("bands", [(10_000.0,), BANDS_M])
def test_load_selects_the_configured_bands(bands: tuple[float, ...]) -> None:
    zones = load_catalogue(_zone_settings(border_buffers_m=bands))
    assert {z.buffer_m for z in zones} == set(bands)
    assert len(zones) == len(BORDER_IDS) * len(bands)
    for z in zones:
        assert isinstance(z, Zone) and z.kind == "border_buffer"
        assert z.geometry.is_valid
        assert set(z.sides) == {"nato", "russia"}
        assert z.properties["border_id"] in BORDER_IDS


def test_missing_band_is_an_error() -> None:
    with pytest.raises(ZoneCatalogueError, match="15000"):
        load_catalogue(_zone_settings(border_buffers_m=(15_000.0,)))


def _buffers_by_border() -> dict[tuple[str, float], Any]:
    doc = json.loads(BORDER_BUFFERS_GEOJSON.read_text(encoding="utf-8"))
    return {
        (f["properties"]["border_id"], f["properties"]["buffer_m"]): shapely.geometry.shape(f["geometry"])
        for f in doc["features"]
    }


@pytest.mark.parametrize("border_id", ["RU-EE", "RU-LV"])
@pytest.mark.parametrize("buffer_m", BANDS_M)
def test_border_buffer_membership_matches_geographiclib(border_id: str, buffer_m: float) -> None:
    """Points along the normals of the border: inside/outside right except within 0.1 %."""
    coords = np.asarray(_border_lines()[border_id].coords)
    area = _buffers_by_border()[(border_id, buffer_m)]
    shapely.prepare(area)
    ratios = (0.5, 0.99, 0.998, 1.002, 1.01, 1.5)
    checked = 0
    every = max(1, (len(coords) - 1) // 15)
    for lon, lat, _ in normal_samples(coords, [r * buffer_m for r in ratios], every=every):
        truth = distance_to_line_m(lon, lat, coords)
        if abs(truth - buffer_m) <= 1e-3 * buffer_m:
            continue
        assert bool(shapely.contains_xy(area, lon, lat)) == (truth < buffer_m), (lon, lat, truth)
        checked += 1
    assert checked >= 100


def _border_lines() -> dict[str, LineString]:
    doc = json.loads(BORDERS_GEOJSON.read_text(encoding="utf-8"))
    return {f["properties"]["border_id"]: shapely.geometry.shape(f["geometry"]) for f in doc["features"]}


# --------------------------------------------------------------------------- custom zones


def _write(tmp_path: Path, features: list[Any], name: str = "custom.geojson") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return p


SQUARE = {"type": "Polygon", "coordinates": [[[26, 58], [27, 58], [27, 58.5], [26, 58.5], [26, 58]]]}


def _feat(props: dict[str, Any], geometry: Any = SQUARE) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def test_custom_zone_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _feat(
                {
                    "zone_id": "site:range-1",
                    "name": "Range 1",
                    "kind": "site",
                    "sides": ["nato", "russia"],
                    "domains": ["air"],
                    "severity": "critical",
                    "active_from": "2025-06-01T00:00:00Z",
                    "active_until": "2025-06-02T00:00:00+00:00",
                    "operator": "ops",
                }
            ),
            _feat(
                {
                    "zone_id": "terr:x",
                    "name": "X",
                    "domains": ["air", "sea"],
                    "severity_by_domain": {"air": "critical", "sea": "warning"},
                }
            ),
        ],
    )
    zones = load_catalogue(_zone_settings(catalogue="none", custom=(str(path),)))
    assert [z.zone_id for z in zones] == ["site:range-1", "terr:x:sea", "terr:x:air"]
    site = zones[0]
    assert site.kind == "site" and site.domains == ("air",) and site.severity == "critical"
    assert site.active_from_s == 1748736000.0 and site.active_until_s == 1748822400.0
    assert site.properties["operator"] == "ops"
    assert zones[1].domains == ("sea",) and zones[1].severity == "warning" and zones[1].kind == "custom"
    assert zones[2].domains == ("air",) and zones[2].severity == "critical"
    assert shapely.contains_xy(site.geometry, 26.5, 58.2)


@pytest.mark.parametrize(
    ("feature", "match"),
    [
        (_feat({"name": "no id"}), r"feature 0: zone_id missing"),
        (_feat({"zone_id": "a", "name": "A", "kind": "blob"}), r"feature 0 \(a\): .*kind 'blob'"),
        (_feat({"zone_id": "a", "name": "A"}, {"type": "Point", "coordinates": [26, 58]}), r"\(a\): geometry type 'Point'"),
        (
            _feat({"zone_id": "a", "name": "A"}, {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}),
            r"\(a\): invalid geometry",
        ),
        (
            _feat({"zone_id": "a", "name": "A"}, {"type": "Polygon", "coordinates": [[[500000, 6e6], [6e5, 6e6], [6e5, 7e6], [500000, 6e6]]]}),
            r"\(a\): coordinates .* not lon/lat",
        ),
        (_feat({"zone_id": "a", "name": "A", "active_from": "2025-06-01T00:00:00"}), r"\(a\): active_from=.* has no UTC offset"),
        (_feat({"zone_id": "a", "name": "A", "sides": "nato"}), r"\(a\): sides must be a non-empty list"),
        (_feat({"zone_id": "a", "name": "A", "domains": ["air"], "severity_by_domain": {"sea": "info"}}), r"severity_by_domain"),
        ({"type": "Feature", "properties": {"zone_id": "a", "name": "A"}}, r"\(a\): no geometry"),
    ],
)
def test_bad_custom_zone_names_file_and_feature(tmp_path: Path, feature: Any, match: str) -> None:
    path = _write(tmp_path, [feature])
    with pytest.raises(ZoneCatalogueError, match=match) as info:
        load_zone_file(path)
    assert str(path) in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ZoneCatalogueError, match="no such zone file"):
        load_zone_file(tmp_path / "missing.geojson")
    broken = tmp_path / "broken.geojson"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ZoneCatalogueError, match="broken.geojson: not readable GeoJSON"):
        load_zone_file(broken)
    (tmp_path / "list.geojson").write_text("[]", encoding="utf-8")
    with pytest.raises(ZoneCatalogueError, match="not a GeoJSON FeatureCollection"):
        load_zone_file(tmp_path / "list.geojson")


def test_repeated_zone_id_across_files(tmp_path: Path) -> None:
    a = _write(tmp_path, [_feat({"zone_id": "dup", "name": "A"})], "a.geojson")
    b = _write(tmp_path, [_feat({"zone_id": "dup", "name": "B"})], "b.geojson")
    with pytest.raises(ZoneCatalogueError, match=r"'dup' appears in .*a.geojson and in .*b.geojson"):
        load_catalogue(_zone_settings(catalogue="none", custom=(str(a), str(b))))
