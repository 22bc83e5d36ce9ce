"""track_integrity's spoofing reasons beyond jumps: on_land, same_position, impossible_speed,
impossible_turn; synthetic cases whose answer follows from the geometry, and the real samples
of ../shared/data (what they show and what they do not)."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from closewatch.rules import load_profile
from config.settings import ProximitySettings
from config.zones import load_land
from proximity._land import LandIndex
from proximity.engine import Engine
from proximity.rules import Rules

T0 = 1_700_000_000.0
SEA = (20.0, 56.0)  # the open Baltic, 60 km off Gotland and Latvia
MOSCOW = (37.6, 55.75)  # 600 km inland
GOTLAND_INLAND = (18.5, 57.5)  # the middle of Gotland


def _kind(events, kind):
    return [e for e in events if e.kind == kind]


def _flags(events) -> dict[str, set[str]]:
    """track id -> the anomalies its track_integrity incident named."""
    out: dict[str, set[str]] = defaultdict(set)
    for e in _kind(events, "track_integrity"):
        if e.state != "closed":
            out[e.subjects[0].track_id] |= set(e.summary.split("data suspect: ")[1].split(", "))
    return out


def test_the_land_index_is_the_land_shrunk_by_the_margin():
    land = load_land()
    idx = LandIndex(land, 5_000.0)
    pts = np.array([SEA, MOSCOW, GOTLAND_INLAND, (12.60, 55.69), (10.6, 55.1)])
    # Copenhagen harbour and the Little Belt are within the margin of the coast
    assert idx.inside(pts[:, 0], pts[:, 1]).tolist() == [False, True, True, False, False]
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(4, 30, 20_000), rng.uniform(53, 66, 20_000)
    import shapely

    assert (idx.inside(lon, lat) == shapely.intersects_xy(idx.land, lon, lat)).all()  # the grid answers exactly
    # no point of the shrunk land is within 4.8 km of the coast (the projection's scale is ~1.6 % off)
    from proximity.geometry import distance_to_geometry_m

    inner = lon[idx.inside(lon, lat)][:200], lat[idx.inside(lon, lat)][:200]
    coast = land.boundary
    assert min(distance_to_geometry_m(float(x), float(y), coast) for x, y in zip(*inner)) >= 4_800.0


def test_a_ship_jumped_onto_land_is_on_land_and_a_ship_on_a_canal_is_not(upd, at):
    eng = Engine(ProximitySettings(), [], land=load_land())
    reports = []
    for k in range(10):  # at sea, then its position jumps to the middle of Gotland and stays
        pos = at(*SEA, 0.0, 6.0 * 10 * k) if k < 5 else GOTLAND_INLAND
        reports.append(upd("ais:273000001", T0 + 10 * k, *pos, speed_mps=6.0, course_deg=0.0))
    # first seen inland, moving steadily (a canal or river the outlines do not carve)
    for k in range(10):
        reports.append(upd("ais:211000001", T0 + 10 * k, *at(*MOSCOW, 90.0, 4.0 * 10 * k), speed_mps=4.0,
                           course_deg=90.0))
    # an aircraft over land is no anomaly
    for k in range(10):
        reports.append(upd("icao:150001", T0 + 10 * k, *at(*MOSCOW, 0.0, 200.0 * 10 * k), domain="air",
                           alt_m=9_000.0, speed_mps=200.0, course_deg=0.0))
    reports.sort(key=lambda u: u.t_s)
    events = eng.process(reports) + eng.finish()
    flags = _flags(events)
    assert flags == {"ais:273000001": {"jump", "on_land"}}
    integ = [e for e in _kind(events, "track_integrity") if e.state != "closed"]
    on = next(e for e in integ if "on_land" in e.summary)
    assert on.t_s == T0 + 50 and on.metrics["on_land_margin_m"] == 5_000.0
    # it stayed there: still on land at its later reports (the incident stays suspect)
    assert _kind(events, "track_integrity")[-1].metrics["on_land_s"] == pytest.approx(40.0)


def test_without_land_the_engine_judges_no_ship_on_land(upd):
    eng = Engine(ProximitySettings(), [])
    events = eng.process([upd("ais:1", T0 + k, *GOTLAND_INLAND, speed_mps=0.0) for k in range(3)])
    assert not _kind(events, "track_integrity")


def test_different_identities_at_one_position_are_same_position(upd, at):
    eng = Engine(ProximitySettings(), [])
    spot = at(*SEA, 45.0, 3_000.0)
    reports = []
    for k in range(6):
        t = T0 + 10 * k
        # three MMSIs reported at the same point within 2 s of each other (a spoofed point)
        reports += [upd(f"ais:27300000{j}", t + j, *spot, speed_mps=0.0) for j in range(3)]
        # two ships 30 m apart (rafted up) and two ships at one point 20 s apart (one left, one came)
        reports += [upd("ais:211000001", t, *SEA, speed_mps=0.0),
                    upd("ais:211000002", t, *at(*SEA, 90.0, 30.0), speed_mps=0.0)]
    reports += [upd("ais:219000001", T0, *at(*SEA, 180.0, 5_000.0), speed_mps=0.0),
                upd("ais:219000002", T0 + 40, *at(*SEA, 180.0, 5_000.0), speed_mps=0.0)]
    # an aircraft right over a ship is no anomaly
    reports += [upd("icao:150001", T0 + 1, *SEA, domain="air", alt_m=3_000.0, speed_mps=150.0, course_deg=0.0)]
    reports.sort(key=lambda u: u.t_s)
    events = eng.process(reports) + eng.finish()
    flags = _flags(events)
    assert flags == {f"ais:27300000{j}": {"same_position"} for j in range(3)}
    first = next(e for e in _kind(events, "track_integrity") if e.state == "open")
    assert first.metrics["same_position_tracks"] == 3.0 and first.t_s == T0 + 5.0  # the first tick


def test_reported_speeds_and_turns_no_hull_or_airframe_makes(upd, at):
    eng = Engine(ProximitySettings(), [])
    reports = []
    for k in range(6):
        t = T0 + 10 * k
        reports += [
            upd("ais:1", t, *at(*SEA, 0.0, 30.0 * 10 * k), speed_mps=36.0, course_deg=0.0),  # 70 kn: too fast
            upd("ais:2", t, *at(*SEA, 90.0, 5_000.0 + 20.0 * 10 * k), speed_mps=20.0, course_deg=90.0),  # fast craft
        ]
    # an aircraft at 230 m/s reversing its course between two reports 2 s apart (90 deg/s)
    turn = [upd("icao:1", T0 + 2 * k, *at(20.5, 56.5, 0.0, 460.0 * k), domain="air", alt_m=9_000.0,
                speed_mps=230.0, course_deg=0.0 if k < 5 else 180.0) for k in range(8)]
    # a fighter turning hard but possibly: 20 deg/s for 15 s, reporting every second
    fighter = [upd("icao:2", T0 + k, *at(21.5, 56.5, 0.0, 250.0 * k), domain="air", alt_m=5_000.0,
                   speed_mps=250.0, course_deg=(20.0 * k) % 360) for k in range(15)]
    # a slow ship whose course wanders (course over ground below 3 m/s means little)
    drift = [upd("ais:3", T0 + 3 * k, *at(19.5, 56.5, 0.0, 1.0 * 3 * k), speed_mps=1.0,
                 course_deg=(137.0 * k) % 360) for k in range(10)]
    reports += turn + fighter + drift
    reports.sort(key=lambda u: u.t_s)
    events = eng.process(reports) + eng.finish()
    flags = _flags(events)
    assert flags == {"ais:1": {"impossible_speed"}, "icao:1": {"impossible_turn"}}
    fast = next(e for e in _kind(events, "track_integrity") if e.subjects[0].track_id == "ais:1")
    assert fast.metrics["reported_speed_mps"] == 36.0 and fast.metrics["max_speed_mps"] == 30.0
    t = next(e for e in _kind(events, "track_integrity") if e.subjects[0].track_id == "icao:1")
    assert t.metrics["turn_deg"] == pytest.approx(180.0) and t.metrics["turn_dt_s"] == pytest.approx(2.0)
    assert t.metrics["turn_rate_dps"] == pytest.approx(90.0) and t.metrics["max_turn_rate_dps"] == 40.0


def test_a_close_approach_of_a_ship_on_land_is_capped_with_its_reason(upd, at):
    """The one cap of the rule profiles: a suspect subject's event is at most info, and says why."""
    eng = Engine(ProximitySettings(), [], land=load_land(), rules=Rules(load_profile("military")))
    reports = []
    for k in range(12):
        t = T0 + 10 * k
        pos = at(*SEA, 0.0, 60.0 * k) if k < 4 else GOTLAND_INLAND  # jumps onto Gotland at 40 s
        reports.append(upd("ais:273000001", t, *pos, speed_mps=6.0, course_deg=0.0, category="military"))
        reports.append(upd("ais:211000001", t, *at(*GOTLAND_INLAND, 90.0, 500.0), side="nato",
                           speed_mps=0.0, category="military"))
    events = eng.process(sorted(reports, key=lambda u: u.t_s)) + eng.finish()
    close = next(e for e in _kind(events, "close_approach") if e.state == "open")
    assert close.metrics["distance_m"] < 926.0  # below half the threshold: critical if it were true
    assert close.severity == "info" and close.integrity_reasons == ("jump", "on_land")


# -- the real samples --------------------------------------------------------------------------


def _run_recording(path: Path, fmt: str, extra: str = ""):
    from closewatch.pipeline import Pipeline
    from closewatch.sinks import RecorderSink
    from config.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "c.toml"
        cfg.write_text(f'[[feeds]]\nname = "rec"\nformat = "{fmt}"\ntransport = "file"\npath = "{path}"\n{extra}'
                       f'[rules]\nprofile = "all-traffic"\n[sinks]\nevents_jsonl = "{tmp}/e.jsonl"\n'
                       f'deadletter_jsonl = "{tmp}/d.jsonl"\n', encoding="utf-8")
        sink = RecorderSink(max_points_per_track=10**9)
        Pipeline(load_settings(cfg), [sink]).run()
    flags: dict[str, set[str]] = defaultdict(set)
    for f in sink.events:
        p = f["properties"]
        if p["kind"] == "track_integrity" and p["state"] != "closed":
            flags[p["subjects"][0]["track_id"]] |= set(p["summary"].split("data suspect: ")[1].split(", "))
    return flags, sink


@pytest.mark.realdata
def test_the_danish_straits_sample_shows_none_of_them(shared_data):
    """1,438 ships over five minutes (DMA): no ship on land (the 30 ships in the Kiel Canal, well
    inside the outlines, came there by sailing), no identical positions, speed or turn beyond
    what hulls make."""
    flags, sink = _run_recording(shared_data / "ais" / "dma_aisabnormal_ais-sample.txt.gz", "ais-nmea")
    assert dict(flags) == {}
    land = LandIndex(load_land(), 5_000.0)
    last = [us[-1] for us in sink.tracks.values() if us[-1].domain == "sea"]
    inland = land.inside(np.array([u.lon_deg for u in last]), np.array([u.lat_deg for u in last]))
    # 30 ships' last positions are well inside the outlines: 22 in the Kiel Canal, the others up
    # fjords and rivers (the Schlei, the Limfjord at Aalborg, Randers, the Goeta aelv, the Warnow)
    inside = [u for u, i in zip(last, inland) if i]
    canal = [u for u in inside if 9.0 < u.lon_deg < 10.3 and 54.0 < u.lat_deg < 54.45]
    assert len(inside) >= 25 and len(canal) >= 20


@pytest.mark.realdata
def test_the_helsinki_sample_shows_two_identities_at_one_position(shared_data):
    """gpsd's Helsinki sample (types 18, 24, 27; no timestamps: replayed at one time): two MMSIs
    report the very same position."""
    flags, sink = _run_recording(shared_data / "ais" / "gpsd_ais-18-27.log", "ais-nmea",
                                 'assume_time = "2020-01-01T00:00:00Z"\n')
    same = {t for t, f in flags.items() if "same_position" in f}
    assert len(same) == 2
    a, b = (sink.tracks[t][-1] for t in sorted(same))
    assert (a.lon_deg, a.lat_deg) == (b.lon_deg, b.lat_deg)
    assert not any(f & {"on_land", "impossible_speed", "impossible_turn"} for f in flags.values())


@pytest.mark.realdata
def test_a_real_airliner_trace_turns_and_flies_within_what_airframes_make(shared_data):
    """A B739's 2,500-point readsb trace: no impossible turn or speed."""
    flags, sink = _run_recording(shared_data / "adsb" / "readsb_trace_full_ac671b.json", "aircraft-json")
    assert sum(len(us) for us in sink.tracks.values()) > 2_000
    assert not any(f & {"impossible_speed", "impossible_turn", "same_position"} for f in flags.values())
