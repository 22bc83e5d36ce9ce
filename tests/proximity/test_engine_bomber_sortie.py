"""``bomber_sortie`` on analytic flights: bombers on WGS 84 geodesics at constant speed near a border line
and a state's territorial airspace; the true distances from GeographicLib (``geodesic_truth``)."""

from __future__ import annotations

import json

import numpy as np
from scipy.optimize import minimize_scalar
from shapely.geometry import LineString

from config.records import Zone
from config.settings import ProximitySettings
from geodesic_truth import Mover, distance_to_line_m
from proximity.engine import Engine
from proximity.geometry import geodesic_circle

T0 = 1_700_000_000.0
# a territorial airspace: a circle of 20 km around (20 E, 70 N), of a NATO state, watching Russian aircraft
CENTRE = (20.0, 70.0)
RING = geodesic_circle(*CENTRE, 20_000.0, max_error_m=1.0)
AIRSPACE = Zone(zone_id="territorial:XX:air", name="XX airspace", kind="territorial", geometry=RING,
                buffer_m=20_000.0, sides=("russia",), domains=("air",), properties={"countries": ["XX"]})
# a border line 400 km east of it, north-south
BORDER = LineString([(31.0, 68.0), (31.0, 72.0)])
TU95 = {"category": "military", "type_code": "TU95"}


def _run(movers, until_s: float, settings: ProximitySettings | None = None):
    reports = []
    for mover, every, kw, until in movers:
        t = T0
        while t <= T0 + min(until, until_s):
            reports.append(mover.report(t, **kw))
            t += every
    reports.sort(key=lambda u: (u.t_s, u.track_id))
    engine = Engine(settings or ProximitySettings(), [AIRSPACE], borders=[BORDER], wall_clock=lambda: 0.0)
    events = []
    for i in range(0, len(reports), 200):
        events += engine.process(reports[i : i + 200])
    return events + engine.finish()


def _to_airspace(m: Mover, t_s: float) -> float:
    lon, lat, _, _ = m.at(t_s)
    return distance_to_line_m(lon, lat, np.asarray(RING.exterior.coords))


def test_a_bomber_passing_a_states_airspace_is_one_sortie_with_its_closest_approach():
    # heading west along 70.9 N (about 80 km north of the airspace), 200 m/s, from 240 km east of the border
    bomber = Mover("icao:150001", "russia", "air", 37.5, 70.9, 270.0, 200.0, alt_m=9_000.0, t0_s=T0)
    escort = Mover("icao:150002", "russia", "air", 37.5, 70.95, 270.0, 200.0, alt_m=9_000.0, t0_s=T0)
    events = _run([(bomber, 2.0, TU95, 1e9), (escort, 2.0, {"category": "military", "type_code": "SU27"}, 1e9)],
                  5_600.0)
    sortie = [e for e in events if e.kind == "bomber_sortie"]
    assert {e.event_id for e in sortie} == {sortie[0].event_id}  # the escort is no bomber: one sortie
    op, closed = sortie[0], sortie[-1]
    assert op.state == "open" and closed.state == "closed" and closed.close_reason == "departed"
    # it opens when the nearer of the border line and the airspace comes within 200 km
    t_open = op.t_s
    lon, lat, _, _ = bomber.at(t_open)
    now = min(_to_airspace(bomber, t_open), distance_to_line_m(lon, lat, np.asarray(BORDER.coords)))
    assert abs(op.metrics["distance_m"] - now) <= max(10.0, 0.01 * now) and now <= 200_000.0
    before = bomber.at(t_open - 5.0)
    assert distance_to_line_m(before[0], before[1], np.asarray(BORDER.coords)) > 200_000.0 - 1_000.0
    # the closest approach to XX's airspace, against GeographicLib's minimum along the flight
    res = minimize_scalar(lambda t: _to_airspace(bomber, T0 + t), bounds=(2_800.0, 3_700.0), method="bounded",
                          options={"xatol": 0.01})
    closest = closed.metrics["closest_territorial_xx_m"]
    assert abs(closest - res.fun) <= max(10.0, 0.01 * res.fun), (closest, res.fun)
    assert [s.track_id for s in op.subjects] == ["icao:150001", "icao:150002"]
    assert op.metrics["escorts"] == 1.0 and op.metrics["interceptors"] == 0.0
    assert closed.metrics["duration_s"] == closed.t_s - op.t_s
    assert op.severity == "warning"  # info, raised one level for a watched type (TU95)
    json.dumps([e.canonical() for e in events])


def test_interceptors_join_and_leave_as_revisions():
    bomber = Mover("icao:150001", "russia", "air", 24.0, 70.9, 270.0, 200.0, alt_m=9_000.0, t0_s=T0)
    # a NATO fighter alongside 3 km south from T0 + 600 s to T0 + 1200 s, then it stops reporting
    lon, lat, _, _ = bomber.at(T0 + 600.0)
    from geodesic_truth import direct

    flon, flat = direct(lon, lat, 180.0, 3_000.0)
    fighter = Mover("icao:478001", "nato", "air", flon, flat, 270.0, 200.0, alt_m=9_000.0, t0_s=T0 + 600.0)
    reports = [bomber.report(T0 + t, **TU95) for t in np.arange(0.0, 2_000.0, 2.0)]
    reports += [fighter.report(T0 + t, category="military", type_code="F16") for t in np.arange(600.0, 1_200.0, 2.0)]
    reports.sort(key=lambda u: (u.t_s, u.track_id))
    engine = Engine(ProximitySettings(), [AIRSPACE], borders=[BORDER], wall_clock=lambda: 0.0)
    sortie = [e for e in engine.process(reports) + engine.finish() if e.kind == "bomber_sortie"]
    counts = [(e.state, e.metrics["interceptors"]) for e in sortie]
    assert counts == [("open", 0.0), ("update", 1.0), ("update", 0.0), ("closed", 0.0)]
    joined, left = sortie[1], sortie[2]
    assert T0 + 600.0 <= joined.t_s <= T0 + 605.0 and "intercepted by icao:478001" in joined.summary
    assert [s.track_id for s in joined.subjects] == ["icao:150001", "icao:478001"]
    assert T0 + 1_200.0 <= left.t_s <= T0 + 1_200.0 + 125.0  # the fighter went stale (air: 120 s)


def test_a_bomber_far_from_any_border_and_a_civil_airliner_raise_no_sortie():
    far = Mover("icao:150003", "russia", "air", 60.0, 62.0, 90.0, 200.0, alt_m=9_000.0, t0_s=T0)
    airliner = Mover("icao:4b0001", "nato", "air", 21.0, 70.5, 270.0, 230.0, alt_m=11_000.0, t0_s=T0)
    events = _run([(far, 2.0, TU95, 1e9), (airliner, 2.0, {"category": "civil", "type_code": "A320"}, 1e9)], 1_200.0)
    assert not [e for e in events if e.kind == "bomber_sortie"]
