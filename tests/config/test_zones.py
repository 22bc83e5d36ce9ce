"""The committed zone catalogue: loading, selection, errors, and accuracy against GeographicLib."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from geodesic_truth import G, direct, distance_to_line_m, normal_samples
from pyproj import Geod, Transformer
from shapely.geometry import LineString

from config.records import Zone
from config.settings import ConfigError, ZoneSettings, parse_settings
from config.zones import (
    BORDER_BUFFERS_GEOJSON,
    BORDERS_GEOJSON,
    COUNTRIES_GEOJSON,
    MEDIAN_LINES_GEOJSON,
    ZONES_DIR,
    MedianLine,
    ZoneCatalogueError,
    available_border_bands_m,
    load_borders,
    load_catalogue,
    load_country_outlines,
    load_median_lines,
    load_zone_file,
    write_zone_file,
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


ALL_BANDS = [(b, band) for b in ("RU-EE", "RU-LV") for band in BANDS_M]
TEN_KM = [(b, 10_000.0) for b in sorted(BORDER_IDS - {"RU-EE", "RU-LV"})]


@pytest.mark.parametrize(("border_id", "buffer_m"), ALL_BANDS + TEN_KM)
def test_border_buffer_membership_matches_geographiclib(border_id: str, buffer_m: float) -> None:
    """Points along the normals of the border: inside/outside right except within 0.1 %."""
    coords = np.asarray(_border_lines()[border_id].coords)
    area = _buffers_by_border()[(border_id, buffer_m)]
    shapely.prepare(area)
    ratios = (0.5, 0.99, 0.998, 1.002, 1.01, 1.5)
    checked = 0
    every = max(1, (len(coords) - 1) // 10)
    for lon, lat, _ in normal_samples(coords, [r * buffer_m for r in ratios], every=every):
        truth = distance_to_line_m(lon, lat, coords)
        if abs(truth - buffer_m) <= 1e-3 * buffer_m:
            continue
        assert bool(shapely.contains_xy(area, lon, lat)) == (truth < buffer_m), (lon, lat, truth)
        checked += 1
    assert checked >= min(len(coords) - 1, 10) * 2 * 4


@pytest.mark.parametrize(("border_id", "buffer_m"), ALL_BANDS)
def test_border_buffer_boundary_is_at_the_buffer_distance(border_id: str, buffer_m: float) -> None:
    """Vertices and edge midpoints of the committed boundary, measured with GeographicLib."""
    coords = np.asarray(_border_lines()[border_id].coords)
    area = _buffers_by_border()[(border_id, buffer_m)]
    rng = np.random.default_rng(5)
    for part in shapely.get_parts(area):
        ring = np.asarray(part.exterior.coords)
        mids = 0.5 * (ring[:-1] + ring[1:])
        picks = np.vstack([ring[rng.choice(len(ring) - 1, 12)], mids[rng.choice(len(mids), 12)]])
        for lon, lat in picks:
            err_m = distance_to_line_m(lon, lat, coords) - buffer_m
            assert abs(err_m) <= 1e-3 * buffer_m, (lon, lat, err_m)


def _border_lines() -> dict[str, LineString]:
    doc = json.loads(BORDERS_GEOJSON.read_text(encoding="utf-8"))
    return {f["properties"]["border_id"]: shapely.geometry.shape(f["geometry"]) for f in doc["features"]}


TERRITORIAL = {"RU", "NO", "FI", "EE", "LV", "LT", "PL", "SE", "DK", "DE", "RO", "BG", "TR"}


@pytest.fixture(scope="module")
def territorial() -> dict[str, Zone]:
    zones = load_catalogue(ZoneSettings(border_buffers_m=()))
    return {z.zone_id: z for z in zones}


def test_default_catalogue() -> None:
    zones = load_catalogue(ZoneSettings())
    kinds = [z.kind for z in zones]
    assert kinds.count("border_buffer") == len(BORDER_IDS)
    assert kinds.count("territorial") == 2 * len(TERRITORIAL)  # air and sea per country
    for z in zones:
        assert z.geometry.is_valid and z.geometry.geom_type in ("Polygon", "MultiPolygon")
        assert shapely.is_prepared(z.geometry)


def test_territorial_zone_metadata(territorial: dict[str, Zone]) -> None:
    assert set(territorial) == {f"territorial:{c}:{d}" for c in TERRITORIAL for d in ("air", "sea")}
    for zid, z in territorial.items():
        country, domain = zid.split(":")[1:]
        assert z.domains == (domain,)
        assert z.severity == ("critical" if domain == "air" else "warning")
        assert z.sides == (("nato",) if country == "RU" else ("russia",))
        assert z.buffer_m == 22_224.0
        assert z.properties["countries"] == [country]


# (lon, lat, country whose territorial zone holds it, or None): facts of geography.
PLACES = [
    (29.77, 60.00, "RU"),  # Kronstadt, Kotlin island
    (19.91, 54.64, "RU"),  # Baltiysk, Kaliningrad
    (18.65, 54.35, "PL"),  # Gdansk
    (21.13, 55.71, "LT"),  # Klaipeda
    (21.85, 58.92, "EE"),  # 12 km west of Ristna, Hiiumaa
    (24.94, 60.17, "FI"),  # Helsinki
    (18.07, 59.33, "SE"),  # Stockholm
    (33.08, 68.97, "RU"),  # Murmansk
    (30.05, 69.73, "NO"),  # Kirkenes
    (14.40, 67.28, "NO"),  # Bodo
    (19.00, 74.43, "NO"),  # Bear Island
    (37.77, 44.72, "RU"),  # Novorossiysk
    (28.65, 44.17, "RO"),  # Constanta
    (27.91, 43.21, "BG"),  # Varna
    (28.98, 41.01, "TR"),  # Istanbul
    (20.00, 56.00, None),  # central Baltic, 65 km from Lithuania
    (35.00, 72.00, None),  # open Barents Sea
    (33.52, 44.60, None),  # Sevastopol: Ukraine in this point of view, no zone
    (34.00, 43.50, None),  # open Black Sea
]


@pytest.mark.parametrize(("lon", "lat", "country"), PLACES)
def test_places_fall_in_the_right_territorial_zone(
    territorial: dict[str, Zone], lon: float, lat: float, country: str | None
) -> None:
    holders = {z.zone_id.split(":")[1] for z in territorial.values() if shapely.contains_xy(z.geometry, lon, lat)}
    assert holders == ({country} if country else set())


def test_opposing_territorial_zones_do_not_overlap(territorial: dict[str, Zone]) -> None:
    """Overlaps are split along the median line: Russia's zone shares no area with a NATO state's."""
    geod = Geod(ellps="WGS84")
    ru = territorial["territorial:RU:air"].geometry
    for zid, z in territorial.items():
        if zid.endswith(":air") and zid != "territorial:RU:air":
            shared = shapely.intersection(ru, z.geometry)
            area_m2 = abs(geod.geometry_area_perimeter(shared)[0]) if not shared.is_empty else 0.0
            assert area_m2 < 1e4, (zid, area_m2)


# --------------------------------------------------------------------------- Gulf of Finland corridor

# Finland and Estonia keep their territorial seas at least 3 NM from the median line between
# them in the Gulf of Finland (1994 arrangement; Finland's Act 981/1995): a 6 NM corridor.
SETBACK_M = 3 * 1852.0
GULF_OF_FINLAND = (22.0, 58.5, 31.0, 61.0)
# Zone boundaries are built to 0.05 % of the distance and written on a 1e-6 degree grid.
GRID_M = 0.1


@pytest.fixture(scope="module")
def fi_ee_median() -> MedianLine:
    (line,) = load_median_lines()
    return line


def test_median_line_file(fi_ee_median: MedianLine) -> None:
    m = fi_ee_median
    assert (m.median_id, m.countries, m.setback_m) == ("FI-EE", ("FI", "EE"), SETBACK_M)
    assert m.geometry.is_valid and m.geometry.is_simple
    w, s, e, n = GULF_OF_FINLAND
    (lon0, _), (lon1, _) = m.geometry.coords[0], m.geometry.coords[-1]
    # From the box's west edge to where Russia's coast (Gogland, Tyuters) is nearer.
    assert lon0 == w and 26.0 < lon1 < 27.0
    assert shapely.box(w, s, e, n).covers(m.geometry)
    assert MEDIAN_LINES_GEOJSON.stat().st_size < 20_000


def _median_point(coords: np.ndarray, lon: float) -> tuple[float, float, float]:
    """(lat, azimuth of the line) where the median line, geodesic segments, crosses a meridian."""
    found = []
    for a, b in zip(coords[:-1], coords[1:], strict=True):
        if not min(a[0], b[0]) <= lon <= max(a[0], b[0]):
            continue
        line = G.InverseLine(a[1], a[0], b[1], b[0])
        lo, hi = 0.0, line.s13
        sign = 1.0 if b[0] > a[0] else -1.0
        while hi - lo > 1e-4:
            mid = 0.5 * (lo + hi)
            if sign * (line.Position(mid)["lon2"] - lon) < 0:
                lo = mid
            else:
                hi = mid
        p = line.Position(lo)
        if not found or abs(found[-1][0] - p["lat2"]) > 1e-7:  # at a vertex, both segments find it
            found.append((float(p["lat2"]), float(p["azi2"])))
    assert len(found) == 1, f"the median line crosses {lon} E {len(found)} times"
    return lon, *found[0]


def _to_zone_m(lon: float, lat: float, azi: float, zone: Any, reach_m: float = 40_000.0) -> float:
    """Geodesic distance from (lon, lat) along ``azi`` to the first point inside ``zone``.

    Steps of 10 m located with pyproj (vectorised), then bisected to 1 cm with GeographicLib.
    """
    s = np.arange(0.0, reach_m, 10.0)
    x, y, _ = Geod(ellps="WGS84").fwd(np.full(s.shape, lon), np.full(s.shape, lat), np.full(s.shape, azi), s)
    inside = np.flatnonzero(shapely.contains_xy(zone, x, y))
    if inside.size == 0:
        return np.inf
    assert inside[0] > 0, "the median line lies in a zone"
    lo, hi = float(s[inside[0] - 1]), float(s[inside[0]])
    while hi - lo > 0.01:
        mid = 0.5 * (lo + hi)
        p_lon, p_lat = direct(lon, lat, azi, mid)
        lo, hi = (lo, mid) if shapely.contains_xy(zone, p_lon, p_lat) else (mid, hi)
    return hi


# The Porkkala-Naissaar-Helsinki narrows, where the 12 NM belts would come within 3 NM of the
# median line and the setback shapes both edges; elsewhere Natural Earth's coast puts the
# 12 NM limit short of it and the corridor is wider.
NARROWS = (24.3, 24.5, 24.7)


@pytest.mark.parametrize("lon", [23.5, *NARROWS, 25.5, 26.0])
def test_corridor_cross_section_against_geographiclib(
    territorial: dict[str, Zone], fi_ee_median: MedianLine, lon: float
) -> None:
    """Across the median line: no Finnish or Estonian zone within 3 NM; 6 NM wide in the narrows."""
    _, lat, azi = _median_point(np.asarray(fi_ee_median.geometry.coords), lon)
    north = azi - 90.0  # the line runs west to east: Finland to its left
    for domain in ("air", "sea"):
        fi = territorial[f"territorial:FI:{domain}"].geometry
        ee = territorial[f"territorial:EE:{domain}"].geometry
        to_fi, to_ee = _to_zone_m(lon, lat, north, fi), _to_zone_m(lon, lat, north + 180.0, ee)
        assert _to_zone_m(lon, lat, north + 180.0, fi) > to_ee and _to_zone_m(lon, lat, north, ee) > to_fi
        assert to_fi >= SETBACK_M - GRID_M and to_ee >= SETBACK_M - GRID_M, (to_fi, to_ee)
        if lon in NARROWS:
            # Built at least 3 NM wide each side, within 0.1 % of the distance.
            assert to_fi <= SETBACK_M * 1.001 and to_ee <= SETBACK_M * 1.001, (to_fi, to_ee)
            assert 2 * SETBACK_M - GRID_M <= to_fi + to_ee <= 2 * SETBACK_M * 1.001


def test_corridor_east_of_the_median_line(territorial: dict[str, Zone], fi_ee_median: MedianLine) -> None:
    """At 26.5 E the median line has ended (Russia's islands are nearer): Finland and Estonia stay far apart."""
    assert fi_ee_median.geometry.coords[-1][0] < 26.5
    fi, ee = territorial["territorial:FI:air"].geometry, territorial["territorial:EE:air"].geometry
    lat_mid = 59.9  # mid-gulf at 26.5 E, in neither zone
    assert not shapely.contains_xy(fi, 26.5, lat_mid) and not shapely.contains_xy(ee, 26.5, lat_mid)
    to_fi, to_ee = _to_zone_m(26.5, lat_mid, 0.0, fi, 60_000.0), _to_zone_m(26.5, lat_mid, 180.0, ee, 60_000.0)
    assert to_fi + to_ee > 2 * SETBACK_M


def test_no_finnish_or_estonian_zone_within_3_nm_of_the_median(
    territorial: dict[str, Zone], fi_ee_median: MedianLine
) -> None:
    """Every vertex and edge midpoint of both zones near the median line, against GeographicLib."""
    median = np.asarray(fi_ee_median.geometry.coords)
    # A projection only to pick the candidates, with a 1 km margin.
    proj = Transformer.from_crs("EPSG:4326", "+proj=aeqd +lat_0=59.8 +lon_0=25 +ellps=WGS84", always_xy=True)
    median_xy = shapely.transform(fi_ee_median.geometry, lambda xy: np.column_stack(proj.transform(xy[:, 0], xy[:, 1])))
    checked = 0
    for code in ("FI", "EE"):
        zone = territorial[f"territorial:{code}:air"].geometry
        assert zone.equals(territorial[f"territorial:{code}:sea"].geometry)
        near = shapely.intersection(zone.boundary, shapely.box(*GULF_OF_FINLAND))
        for part in shapely.get_parts(near):
            ring = shapely.get_coordinates(part)
            pts = np.vstack([ring, 0.5 * (ring[:-1] + ring[1:])])
            x, y = proj.transform(pts[:, 0], pts[:, 1])
            candidates = shapely.distance(median_xy, shapely.points(x, y)) < SETBACK_M + 1_000.0
            for lon, lat in pts[candidates]:
                assert distance_to_line_m(lon, lat, median) >= SETBACK_M - GRID_M, (code, lon, lat)
                checked += 1
    assert checked >= 50


# (lon, lat, zone or None): the corridor and the coasts beside it.
CORRIDOR_PLACES = [
    (24.85, 59.805, None),  # mid-gulf between Helsinki and Tallinn
    (24.416, 59.982, "FI"),  # 1 km south of Porkkala cape (59.991 N in Natural Earth)
    (24.760, 59.458, "EE"),  # Tallinn Bay, about 1 km off the Old City Harbour
]


@pytest.mark.parametrize(("lon", "lat", "country"), CORRIDOR_PLACES)
def test_corridor_places(territorial: dict[str, Zone], lon: float, lat: float, country: str | None) -> None:
    holders = {z.zone_id for z in territorial.values() if shapely.contains_xy(z.geometry, lon, lat)}
    assert holders == ({f"territorial:{country}:air", f"territorial:{country}:sea"} if country else set())


@pytest.mark.parametrize("lon", NARROWS)
def test_corridor_edges_in_the_narrows(territorial: dict[str, Zone], fi_ee_median: MedianLine, lon: float) -> None:
    """Off the median line in the narrows: free at 5.5 km either side, Finland / Estonia at 5.6 km."""
    _, lat, azi = _median_point(np.asarray(fi_ee_median.geometry.coords), lon)
    holders = lambda p: {z.zone_id.split(":")[1] for z in territorial.values() if shapely.contains_xy(z.geometry, *p)}  # noqa: E731
    assert holders((lon, lat)) == set()
    for side, country in ((-90.0, "FI"), (90.0, "EE")):
        assert holders(direct(lon, lat, azi + side, SETBACK_M - 50.0)) == set()
        assert holders(direct(lon, lat, azi + side, SETBACK_M * 1.001 + 1.0)) == {country}


def test_country_outlines() -> None:
    outlines = load_country_outlines()
    codes = {o.code for o in outlines}
    assert {"RU", "BY", "UA", "NO", "FI", "EE", "LV", "LT", "PL", "SE", "RO", "BG", "TR"} <= codes
    for o in outlines:
        assert o.geometry.is_valid and o.name
    assert COUNTRIES_GEOJSON.stat().st_size < 400_000


def test_committed_data_stays_small() -> None:
    total = sum(p.stat().st_size for p in ZONES_DIR.glob("*.geojson"))
    assert total < 2_000_000


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


def test_zone_file_round_trip(tmp_path: Path) -> None:
    src = _write(
        tmp_path,
        [
            _feat({"zone_id": "s", "name": "S", "kind": "site", "active_until": "2025-06-02T00:00:00Z", "note": "x"}),
            _feat({"zone_id": "t", "name": "T", "domains": ["air", "sea"], "severity_by_domain": {"air": "critical", "sea": "info"}}),
        ],
    )
    zones = load_zone_file(src)
    out = tmp_path / "out.geojson"
    write_zone_file(out, zones)
    again = load_zone_file(out)
    strip = lambda z: (z.zone_id, z.name, z.kind, z.buffer_m, z.sides, z.domains, z.severity, z.active_from_s, z.active_until_s)  # noqa: E731
    assert [strip(z) for z in again] == [strip(z) for z in zones]
    assert again[0].properties["note"] == "x"
    assert all(a.geometry.equals(b.geometry) for a, b in zip(again, zones, strict=True))


def test_settings_reject_a_repeated_band() -> None:
    with pytest.raises(ConfigError, match="border_buffers_m lists a band twice"):
        parse_settings({"zones": {"border_buffers_m": [10_000.0, 10_000.0]}})


def test_custom_zones_from_a_geopackage_in_a_projected_crs(tmp_path):
    """Zones drawn in a GIS tool (here EPSG:3301, Estonian national grid) load in lon/lat."""
    import geopandas
    from shapely.geometry import Point

    from config.zones import load_zone_file

    # A 5 km circle around a point near Narva, in the Estonian grid's metres.
    centre_xy = geopandas.GeoSeries([Point(27.98, 59.37)], crs=4326).to_crs(3301).iloc[0]
    frame = geopandas.GeoDataFrame(
        {"zone_id": ["site:narva"], "name": ["Narva power plant"], "kind": ["site"], "severity": ["critical"],
         "sides": ["russia,other"]},
        geometry=[centre_xy.buffer(5000.0)],
        crs=3301,
    )
    path = tmp_path / "sites.gpkg"
    frame.to_file(path, driver="GPKG")
    (zone,) = load_zone_file(path)
    assert zone.zone_id == "site:narva" and zone.kind == "site" and zone.severity == "critical"
    assert zone.sides == ("russia", "other")
    minx, miny, maxx, maxy = zone.geometry.bounds
    assert 27.8 < minx < 27.98 < maxx < 28.1 and 59.3 < miny < 59.37 < maxy < 59.42


def test_gis_zone_file_without_crs_is_refused(tmp_path):
    import geopandas
    from shapely.geometry import box

    from config.zones import ZoneCatalogueError, load_zone_file

    path = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        geopandas.GeoDataFrame({"zone_id": ["z"], "name": ["z"]}, geometry=[box(0, 0, 1, 1)]).to_file(
            path, driver="GPKG"
        )
    with pytest.raises(ZoneCatalogueError, match="no coordinate reference system"):
        load_zone_file(path)
