"""exercise_near_border: an active exercise zone close to a border line."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import LineString

from config.settings import ProximitySettings
from proximity.engine import Engine

T0 = 1_700_000_000.0
# a border along the meridian 28 E (a geodesic), from 57 N to 60 N
BORDER = LineString([(28.0, lat) for lat in np.linspace(57.0, 60.0, 31)])


def _exercise(circle_zone, at, zone_id, east_m, radius_m=10_000.0, **kw):
    centre = at(28.0, 58.5, 90.0, east_m)
    kw.setdefault("active_from_s", T0)
    kw.setdefault("active_until_s", T0 + 3_600)
    return circle_zone(zone_id, *centre, radius_m, kind="exercise", sides=("nato", "russia"), **kw)


def _clock(upd, t):
    return upd("ext:clock", t, 0.0, 0.0, domain="land", side="other")


def test_exercise_near_the_border_opens_when_added_and_closes_when_it_ends(upd, at, circle_zone):
    eng = Engine(ProximitySettings(), [], borders=[BORDER])
    assert eng.process([_clock(upd, T0 + 10)]) == []
    events = eng.add_zones([
        _exercise(circle_zone, at, "ex-near", 40_000.0),   # its edge 30 km from the border
        _exercise(circle_zone, at, "ex-far", 90_000.0),    # 80 km: beyond the 50 km limit
    ])
    assert [(e.kind, e.state, e.zone_id) for e in events] == [("exercise_near_border", "open", "ex-near")]
    ev = events[0]
    assert ev.subjects == () and not ev.integrity_suspect
    assert ev.t_s == T0 + 10
    assert ev.metrics["distance_to_border_m"] == pytest.approx(30_000.0, abs=20.0)
    assert ev.metrics["limit_m"] == 50_000.0
    assert ev.metrics["border_lon_deg"] == pytest.approx(28.0, abs=1e-6)
    assert ev.metrics["zone_lat_deg"] == pytest.approx(58.5, abs=0.01)
    assert ev.severity == "warning"
    events = eng.process([_clock(upd, T0 + 3_700)])
    assert [(e.kind, e.state, e.close_reason) for e in events] == [("exercise_near_border", "closed", "zone_inactive")]


def test_exercise_across_the_border_is_critical(upd, at, circle_zone):
    eng = Engine(ProximitySettings(), [], borders=[BORDER])
    eng.process([_clock(upd, T0 + 10)])
    events = eng.add_zones([_exercise(circle_zone, at, "ex-across", 5_000.0)])
    assert [e.severity for e in events] == ["critical"]
    assert events[0].metrics["distance_to_border_m"] == 0.0


def test_exercise_known_in_advance_opens_when_it_starts(upd, at, circle_zone):
    zone = _exercise(circle_zone, at, "ex-later", 40_000.0, active_from_s=T0 + 600, active_until_s=T0 + 1_200)
    eng = Engine(ProximitySettings(), [zone], borders=[BORDER])
    events = []
    for k in range(0, 150):
        events += eng.process([_clock(upd, T0 + 10 * k)])
    got = [(e.state, e.t_s, e.close_reason) for e in events if e.kind == "exercise_near_border"]
    # event times are the window's own ends, not the ticks that noticed them
    assert got == [("open", T0 + 600, None), ("closed", T0 + 1_200, "zone_inactive")]


def test_the_limit_is_configurable_and_moving_the_zone_revises_it(upd, at, circle_zone):
    eng = Engine(ProximitySettings(exercise_border_distance_m=100_000.0), [], borders=[BORDER])
    eng.process([_clock(upd, T0 + 10)])
    opened = eng.add_zones([_exercise(circle_zone, at, "ex", 90_000.0)])
    assert [e.state for e in opened] == ["open"]
    moved = eng.add_zones([_exercise(circle_zone, at, "ex", 40_000.0)])
    assert [(e.state, e.event_id) for e in moved] == [("update", opened[0].event_id)]
    assert moved[0].metrics["distance_to_border_m"] == pytest.approx(30_000.0, abs=20.0)
    gone = eng.add_zones([_exercise(circle_zone, at, "ex", 150_000.0)])
    assert [(e.state, e.close_reason) for e in gone] == [("closed", "cleared")]


def test_no_borders_no_exercise_events(upd, at, circle_zone):
    eng = Engine(ProximitySettings(), [])
    eng.process([_clock(upd, T0 + 10)])
    assert eng.add_zones([_exercise(circle_zone, at, "ex", 10_000.0)]) == []
