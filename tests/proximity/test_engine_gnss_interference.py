"""``gnss_interference`` on scenarios whose answer follows from the geometry: aircraft on a grid over
the Baltic, those within a jammer's radius reporting a degraded GNSS position (ADS-B NIC 0, NACp 0).
The expected interfered cells are counted directly from the grid (each aircraft stays in one cell)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import h3
import numpy as np
import pytest
from pyproj import Geod

from closewatch.rules import load_profile
from config.records import TrackUpdate, position_quality
from config.settings import ConfigError, GnssSettings, ProximitySettings, parse_settings
from proximity.engine import Engine
from proximity.rules import Rules

T0 = 1_700_000_000.0
GEOD = Geod(ellps="WGS84")
GOOD = position_quality(adsb_version=2, nic=8, nac_p=10, sil=3)
JAMMED = position_quality(adsb_version=2, nic=0, nac_p=0, sil=3)
GRID = [(float(lon), float(lat)) for lon in np.arange(17.0, 23.01, 0.2) for lat in np.arange(55.0, 57.01, 0.1)]


def _jammed(lon: float, lat: float, jammer: tuple[float, float], radius_m: float) -> bool:
    return bool(GEOD.inv(jammer[0], jammer[1], lon, lat)[2] < radius_m)


def _expected_cells(jammer, radius_m, g: GnssSettings) -> set[str]:
    """Cells with enough aircraft, enough of them degraded, a share above min_share (the grid is static)."""
    n, bad = Counter(), Counter()
    for lon, lat in GRID:
        c = h3.latlng_to_cell(lat, lon, g.resolution)
        n[c] += 1
        bad[c] += _jammed(lon, lat, jammer, radius_m)
    return {c for c in n if n[c] >= g.min_aircraft and bad[c] >= g.min_degraded and bad[c] / n[c] >= g.min_share}


def _reports(jammers, until_s: float, ships=(), every_s: float = 10.0):
    """Aircraft of the grid reporting every ``every_s``; ``jammers``: (lon, lat, radius_m, on_from_s, off_at_s)."""
    out = []
    for k, (lon, lat) in enumerate(GRID):
        for t in np.arange(T0 + k % 7, T0 + until_s, every_s):
            bad = any(
                a <= t - T0 < b and _jammed(lon, lat, (jl, jt), r) for jl, jt, r, a, b in jammers
            )
            out.append(dict(track_id=f"icao:{k:06x}", t_s=float(t), lon_deg=lon, lat_deg=lat, domain="air",
                            side="unknown", alt_m=10_000.0, speed_mps=None, quality=JAMMED if bad else GOOD))
    for tid, lon, lat, side in ships:
        for t in np.arange(T0 + 60.0, T0 + until_s, 10.0):  # from one minute on
            out.append(dict(track_id=tid, t_s=float(t), lon_deg=lon, lat_deg=lat, domain="sea", side=side,
                            category="military", speed_mps=0.0, course_deg=0.0, source="test"))
    ups = [TrackUpdate(**{"source": "test", **d}) for d in out]
    ups.sort(key=lambda u: (u.t_s, u.track_id))
    return ups


def _run(reports, settings: ProximitySettings | None = None, rules: Rules | None = None, batch: int = 3_000):
    eng = Engine(settings or ProximitySettings(), [], wall_clock=lambda: 0.0, rules=rules)
    events = []
    for i in range(0, len(reports), batch):
        events += eng.process(reports[i : i + batch])
    return events + eng.finish(), eng


JAMMER = (20.0, 56.0)


def test_a_jammed_area_opens_one_incident_with_its_cells_and_clears_after_the_window():
    g = GnssSettings()
    # jammed from the start for 20 minutes, then good; the input runs 45 minutes
    events, _ = _run(_reports([(*JAMMER, 80_000.0, 0.0, 1_200.0)], 2_700.0))
    gnss = [e for e in events if e.kind == "gnss_interference"]
    assert {e.event_id for e in gnss} == {gnss[0].event_id}  # one connected area: one incident
    op, closed = gnss[0], gnss[-1]
    assert op.state == "open" and op.subjects == () and op.severity == "warning"
    expected = _expected_cells(JAMMER, 80_000.0, g)
    assert set(op.cells) == expected and len(expected) >= 5
    # the aircraft counts of those cells, straight from the grid
    n_air = sum(1 for lon, lat in GRID if h3.latlng_to_cell(lat, lon, g.resolution) in expected)
    n_bad = sum(1 for lon, lat in GRID if h3.latlng_to_cell(lat, lon, g.resolution) in expected
                and _jammed(lon, lat, JAMMER, 80_000.0))
    # the first tick (T0) saw a few aircraft; the area opens once a cell was interfered for min_dwell_s
    assert op.t_s == T0 + ProximitySettings().min_dwell_s
    assert (op.metrics["aircraft"], op.metrics["degraded_aircraft"]) == (n_air, n_bad)
    assert op.metrics["share"] == pytest.approx(n_bad / n_air)
    assert op.metrics["area_km2"] == pytest.approx(sum(h3.cell_area(c, "km^2") for c in expected))
    lat0, lon0 = op.metrics["centre_lat_deg"], op.metrics["centre_lon_deg"]
    assert GEOD.inv(lon0, lat0, *JAMMER)[2] < 30_000.0
    # degraded reports stop at 1200 s; they leave the window (900 s) at 2100 s; closed after min_dwell_s
    assert closed.state == "closed" and closed.close_reason == "cleared"
    assert T0 + 1_200.0 + g.window_s <= closed.t_s <= T0 + 1_200.0 + g.window_s + 30.0 + 10.0
    assert "GNSS interference" in op.summary and f"{n_bad} of {n_air} aircraft" in op.summary
    json.dumps([e.canonical() for e in events])


def test_two_jammers_apart_are_two_areas_and_a_growing_one_is_revised():
    jammers = [(18.0, 55.5, 50_000.0, 0.0, 1e9), (22.0, 56.5, 40_000.0, 0.0, 600.0), (22.0, 56.5, 90_000.0, 600.0, 1e9)]
    events, _ = _run(_reports(jammers, 1_200.0))
    opened = [e for e in events if e.kind == "gnss_interference" and e.state == "open"]
    assert len(opened) == 2 and len({e.event_id for e in opened}) == 2
    east = next(e for e in opened if e.metrics["centre_lon_deg"] > 20.0)
    revs = [e for e in events if e.event_id == east.event_id and e.state == "update"]
    assert revs, "the eastern area grew from 40 to 90 km: a revision"
    grown = revs[-1]
    assert grown.metrics["n_cells"] > east.metrics["n_cells"] and grown.metrics["growth_km2"] > 0
    assert set(east.cells) < set(grown.cells)
    assert grown.metrics["growth_km2"] == pytest.approx(grown.metrics["area_km2"] - east.metrics["area_km2"])
    assert grown.metrics["start_t_s"] == east.t_s
    assert _expected_cells((22.0, 56.5), 90_000.0, GnssSettings()) == set(grown.cells)


def test_good_accuracy_everywhere_raises_nothing_and_one_bad_aircraft_proves_nothing():
    events, eng = _run(_reports([(*JAMMER, 1_000.0, 0.0, 1e9)], 600.0))  # the jammer reaches no aircraft
    assert not [e for e in events if e.kind == "gnss_interference"]
    one_bad = [replace(u, quality=JAMMED) if u.track_id == "icao:0000a0" else u for u in _reports([], 600.0)]
    events, _ = _run(one_bad)
    assert not [e for e in events if e.kind == "gnss_interference"]  # below min_degraded


def test_tracks_inside_an_area_are_suspect_and_capped_at_info_by_the_profile():
    # two opposing warships 445 m apart inside the jammed area, two more outside it
    ships = [("ais:211000001", 20.0, 56.0, "nato"), ("ais:273000001", 20.0, 56.004, "russia"),
             ("ais:211000002", 17.1, 57.0, "nato"), ("ais:273000002", 17.1, 57.004, "russia")]
    events, _ = _run(_reports([(*JAMMER, 80_000.0, 0.0, 1e9)], 300.0, ships=ships),
                     rules=Rules(load_profile("military")))
    close = {e.subjects[0].track_id: e for e in events if e.kind == "close_approach" and e.state == "open"}
    inside, outside = close["ais:211000001"], close["ais:211000002"]
    assert inside.integrity_suspect and inside.integrity_reasons == ("gnss_interference",)
    assert all(s.suspect for s in inside.subjects)
    assert inside.severity == "info"  # critical below half the threshold, capped: the subjects are suspect
    assert not outside.integrity_suspect and outside.integrity_reasons == () and outside.severity == "critical"
    gnss = [e for e in events if e.kind == "gnss_interference"]
    assert gnss and gnss[0].rule == "military@3/gnss"
    # the suspicion opened no track_integrity incident per track
    assert not [e for e in events if e.kind == "track_integrity"]


def test_version_0_nucp_and_readsb_gps_ok_before_count_as_degraded():
    reports = _reports([], 300.0)
    v0 = position_quality(adsb_version=0, nuc_p=4)
    ok_before = position_quality(adsb_version=2, nic=8, nac_p=9, gnss_ok_before_s=T0 - 60.0)
    in_cell = {h3.latlng_to_cell(56.0, 20.0, 4)}
    mixed = []
    for u in reports:
        if h3.latlng_to_cell(u.lat_deg, u.lon_deg, 4) in in_cell:
            u = replace(u, quality=v0 if int(u.track_id[5:], 16) % 2 else ok_before)
        mixed.append(u)
    events, _ = _run(mixed)
    op = next(e for e in events if e.kind == "gnss_interference")
    assert set(op.cells) >= in_cell
    assert op.metrics["share"] == 1.0


def test_the_settings_are_checked_with_their_key_paths():
    with pytest.raises(ConfigError, match=r"proximity\.gnss"):
        parse_settings({"proximity": {"gnss": {"min_share": 0.1, "clear_share": 0.2}}})
    with pytest.raises(ConfigError, match=r"proximity\.gnss\.resolution"):
        parse_settings({"proximity": {"gnss": {"resolution": 16}}})
    assert parse_settings({"proximity": {"gnss": {"resolution": 5}}}).proximity.gnss.resolution == 5
