"""predicted_zone_entry and predicted_close_approach: when, where, and how they end."""

from __future__ import annotations

import pytest
from geographiclib.geodesic import Geodesic

from config.settings import ProximitySettings
from proximity.engine import Engine

LON0, LAT0 = 26.0, 59.5
T0 = 1_700_000_000.0
WGS84 = Geodesic.WGS84


def _kind(events, kind):
    return [e for e in events if e.kind == kind]


def _east_west(at, x_m, miss_m):
    """The point ``x_m`` east (negative: west) of the point ``miss_m`` north of (LON0, LAT0)."""
    base = at(LON0, LAT0, 0.0, miss_m) if miss_m else (LON0, LAT0)
    return at(*base, 90.0 if x_m >= 0 else 270.0, abs(x_m))


def _inbound(upd, at, t_rel, *, start_m, speed_mps, track_id="ais:273000001", miss_m=0.0, **kw):
    """A track on the east-west line ``miss_m`` north of (LON0, LAT0), at ``start_m`` east of it
    at T0 and moving west at ``speed_mps`` (negative: east)."""
    pos = _east_west(at, start_m - speed_mps * t_rel, miss_m)
    ahead = _east_west(at, start_m - speed_mps * (t_rel + 1.0), miss_m)
    course = WGS84.Inverse(pos[1], pos[0], ahead[1], ahead[0])["azi1"] % 360.0
    kw.setdefault("side", "russia")
    return upd(track_id, T0 + t_rel, *pos, speed_mps=abs(speed_mps), course_deg=course, **kw)


def test_predicted_zone_entry_gives_the_entry_time_then_closes_on_entry(upd, at, circle_zone):
    s = ProximitySettings(predict_interval_s=30.0)
    eng = Engine(s, [circle_zone("z1", LON0, LAT0, 10_000.0, severity="critical")])
    # 30 km out at 20 m/s: the 10 km boundary is reached after 1,000 s
    events = []
    for k in range(0, 131):
        events += eng.process([_inbound(upd, at, 10.0 * k, start_m=30_000.0, speed_mps=20.0)])
    pred = _kind(events, "predicted_zone_entry")
    entry = _kind(events, "zone_entry")
    assert [e.state for e in pred] == ["open", "closed"]
    opened = pred[0]
    # first predicted at the first prediction tick (every 30 s of data time) with the entry
    # within the 900 s horizon, i.e. from T0+100 on
    assert T0 + 100.0 <= opened.t_s < T0 + 130.0
    assert opened.metrics["entry_t_s"] == pytest.approx(T0 + 1_000.0, abs=1.0)
    assert opened.metrics["eta_s"] == pytest.approx(T0 + 1_000.0 - opened.t_s, abs=1.0)
    g = WGS84.Inverse(LAT0, LON0, opened.metrics["entry_lat_deg"], opened.metrics["entry_lon_deg"])
    assert g["s12"] == pytest.approx(10_000.0, abs=5.0)
    assert opened.severity == "warning"  # one level below the zone's
    assert opened.zone_id == "z1"
    # it enters at the report of T0+1000 (exactly on the boundary) or the next
    assert [e.state for e in entry] == ["open"]
    assert entry[0].t_s in (T0 + 1_000.0, T0 + 1_010.0)
    assert (pred[1].close_reason, pred[1].t_s) == ("entered", entry[0].t_s)
    assert pred[1].event_id == opened.event_id


def test_no_prediction_for_tracks_leaving_or_not_concerned(upd, at, circle_zone):
    eng = Engine(ProximitySettings(), [circle_zone("z1", LON0, LAT0, 10_000.0, sides=("russia",))])
    events = []
    for k in range(0, 40):
        events += eng.process([
            _inbound(upd, at, 10.0 * k, start_m=15_000.0, speed_mps=-10.0),  # steaming away, stern first
            _inbound(upd, at, 10.0 * k, start_m=15_000.0, speed_mps=10.0, track_id="ais:219000001", side="nato"),
        ])
    assert _kind(events, "predicted_zone_entry") == []


def test_prediction_clears_when_the_track_turns_away(upd, at, circle_zone):
    eng = Engine(ProximitySettings(), [circle_zone("z1", LON0, LAT0, 10_000.0)])
    events = []
    for k in range(0, 20):
        events += eng.process([_inbound(upd, at, 10.0 * k, start_m=20_000.0, speed_mps=10.0)])
    assert [e.state for e in _kind(events, "predicted_zone_entry")] == ["open"]
    last = _inbound(upd, at, 190.0, start_m=20_000.0, speed_mps=10.0)
    for k in range(20, 40):  # turned north, away from the zone
        events += eng.process([upd(last.track_id, T0 + 10.0 * k, last.lon_deg, last.lat_deg + 0.0009 * (k - 19),
                                   side="russia", speed_mps=10.0, course_deg=0.0)])
    pred = _kind(events, "predicted_zone_entry")
    assert [(e.state, e.close_reason) for e in pred] == [("open", None), ("closed", "cleared")]


def test_predicted_close_approach_cpa_then_occurred(upd, at):
    eng = Engine(ProximitySettings(predict_interval_s=10.0), [])
    events = []
    # head-on, 40 km apart, 10 m/s each, passing 600 m apart: TCPA 2,000 s from the start
    for k in range(0, 220):
        t = 10.0 * k
        events += eng.process([
            _inbound(upd, at, t, start_m=20_000.0, speed_mps=10.0, miss_m=600.0),
            _inbound(upd, at, t + 1, start_m=-20_000.0, speed_mps=-10.0, track_id="ais:219000001", side="nato"),
        ])
    pred = _kind(events, "predicted_close_approach")
    actual = _kind(events, "close_approach")
    assert pred[0].state == "open" and pred[-1].state == "closed"
    opened = pred[0]
    # predicted as soon as the CPA is within the 900 s horizon: the tick at T0+1110 or just after
    assert T0 + 1_100.0 <= opened.t_s <= T0 + 1_120.0
    assert opened.metrics["cpa_m"] == pytest.approx(600.0, abs=10.0)
    assert opened.metrics["cpa_t_s"] == pytest.approx(T0 + 2_000.0, abs=20.0)
    assert opened.metrics["tcpa_s"] == pytest.approx(T0 + 2_000.0 - opened.t_s, abs=20.0)
    cpa_gap = WGS84.Inverse(
        opened.metrics["cpa_a_lat_deg"], opened.metrics["cpa_a_lon_deg"],
        opened.metrics["cpa_b_lat_deg"], opened.metrics["cpa_b_lon_deg"],
    )["s12"]
    assert cpa_gap == pytest.approx(opened.metrics["cpa_m"], abs=0.01)
    assert opened.severity == "warning"  # CPA below half the 1 NM threshold
    assert {s.track_id for s in opened.subjects} == {"ais:273000001", "ais:219000001"}
    # the prediction comes true: the close approach opens and the prediction closes
    assert pred[-1].close_reason == "occurred"
    assert actual[0].state == "open" and actual[0].t_s == pred[-1].t_s
    assert events.index(pred[-1]) < events.index(actual[0])


def test_diverging_and_parallel_tracks_are_not_predicted(upd, at):
    eng = Engine(ProximitySettings(predict_interval_s=5.0), [])
    events = []
    for k in range(0, 30):
        t = 10.0 * k
        events += eng.process([
            _inbound(upd, at, t, start_m=-3_000.0, speed_mps=8.0),  # west of the point, going west
            _inbound(upd, at, t, start_m=3_000.0, speed_mps=-8.0, track_id="ais:219000001", side="nato"),
            _inbound(upd, at, t, start_m=3_000.0, speed_mps=9.0, miss_m=5_000.0, track_id="ais:273000002"),
            _inbound(upd, at, t, start_m=3_000.0, speed_mps=9.0, miss_m=7_500.0, track_id="ais:219000002", side="nato"),
        ])
    assert _kind(events, "predicted_close_approach") == []


def test_air_air_prediction_uses_vertical_rates(upd, at):
    s = ProximitySettings(predict_interval_s=5.0)

    def run(vrate):
        eng = Engine(s, [])
        events = []
        for k in range(0, 6):
            t = 5.0 * k
            events += eng.process([
                _inbound(upd, at, t, start_m=60_000.0, speed_mps=200.0, track_id="icao:155001",
                         domain="air", alt_m=9_000.0, vrate_mps=vrate),
                _inbound(upd, at, t, start_m=-60_000.0, speed_mps=-200.0, track_id="icao:ae0001",
                         side="nato", domain="air", alt_m=8_000.0),
            ])
        return _kind(events, "predicted_close_approach")

    # level 1,000 m apart: no conflict; descending 3.33 m/s: 1,000 m lost by the CPA at 300 s
    assert run(None) == []
    pred = run(-3.4)
    assert pred and pred[0].state == "open"
    assert pred[0].metrics["vertical_sep_at_cpa_m"] < 305.0
    assert pred[0].metrics["tcpa_s"] == pytest.approx(300.0 - pred[0].t_s + T0, abs=2.0)
