"""zone_entry incidents: entry, exit with hysteresis, applicability, stale and late reports."""

from __future__ import annotations

import pytest

from proximity.engine import Engine

LON0, LAT0 = 25.0, 60.0
T0 = 1_700_000_000.0


def _run(engine, updates, batch=None, kind="zone_entry"):
    """The events of one kind (these scenarios also jump about: track_integrity)."""
    out = []
    if batch is None:
        out += engine.process(updates)
    else:
        for i in range(0, len(updates), batch):
            out += engine.process(updates[i : i + batch])
    return [e for e in out if e.kind == kind]


def _radial_track(upd, at, distances_m, *, dt_s=10.0, track_id="ais:273000001", bearing=270.0, **kw):
    """Reports at the given distances from the zone centre, along one bearing."""
    return [
        upd(track_id, T0 + k * dt_s, *at(LON0, LAT0, bearing, d), **kw) for k, d in enumerate(distances_m)
    ]


def test_entry_then_exit_is_one_incident(settings, upd, circle_zone, at, clock):
    zone = circle_zone("z1", LON0, LAT0, 10_000.0, severity="warning")
    eng = Engine(settings, [zone], wall_clock=clock)
    # from 20 km out, through the centre, to 20 km out on the other side, at 100 m/s
    dists = [20_500 - 1_000 * k for k in range(41)]  # 20.5 km ... -19.5 km (negative: other side)
    reports = [
        upd("ais:273000001", T0 + 10 * k, *at(LON0, LAT0, 270.0 if d >= 0 else 90.0, abs(d))) for k, d in enumerate(dists)
    ]
    events = _run(eng, reports)
    assert [(e.kind, e.state, e.seq) for e in events] == [("zone_entry", "open", 0), ("zone_entry", "closed", 1)]
    opened, closed = events
    assert opened.event_id == closed.event_id
    assert opened.zone_id == "z1" and opened.zone_name == "zone z1"
    # first report inside: 9.5 km out (k=11)
    assert opened.t_s == T0 + 110
    assert opened.subjects[0].track_id == "ais:273000001"
    assert opened.metrics["exit_margin_m"] == pytest.approx(1_000.0)  # 10 % of the 10 km buffer
    # last inside at 9.5 km (k=30), in the 1 km band at 10.5 km (k=31), beyond it from
    # 11.5 km (k=32); closed 30 s later (k=35)
    assert closed.close_reason == "exit"
    assert closed.t_s == T0 + 350
    assert closed.metrics["dwell_s"] == pytest.approx(190.0)
    assert opened.detected_s is not None and closed.detected_s > opened.detected_s
    assert eng.stats["open_incidents"] == 0


def test_boundary_jitter_does_not_flap(settings, upd, circle_zone, at):
    eng = Engine(settings, [circle_zone("z1", LON0, LAT0, 10_000.0)])
    # a ship hovering around the boundary, +-500 m, for 20 minutes
    dists = [10_000 + (500 if k % 2 else -500) for k in range(120)]
    events = _run(eng, _radial_track(upd, at, dists), batch=7)
    assert [(e.state) for e in events] == ["open"]
    end = eng.finish()
    assert [(e.state, e.close_reason) for e in end] == [("closed", "end_of_input")]
    assert end[0].event_id == events[0].event_id


def test_exit_needs_the_dwell_outside_the_band(settings, upd, circle_zone, at):
    eng = Engine(settings, [circle_zone("z1", LON0, LAT0, 10_000.0)])
    # inside, 20 s beyond the band (less than the 30 s dwell), back in the band, then out for good
    dists = [5_000, 12_000, 12_000, 12_000, 10_500, 12_000, 12_000, 12_000, 12_000]
    events = _run(eng, _radial_track(upd, at, dists), batch=1)
    assert [e.state for e in events] == ["open", "closed"]
    # the band report at k=4 reset the dwell: out again at k=5, closed at k=8 (30 s later)
    assert events[1].t_s == T0 + 80


def test_zero_dwell_closes_on_first_report_beyond_the_band(upd, circle_zone, at):
    from config.settings import ProximitySettings

    eng = Engine(ProximitySettings(min_dwell_s=0.0), [circle_zone("z1", LON0, LAT0, 10_000.0)])
    events = _run(eng, _radial_track(upd, at, [5_000, 10_900, 11_100]))
    assert [(e.state, e.t_s) for e in events] == [("open", T0), ("closed", T0 + 20)]


def test_reentry_after_close_is_a_new_incident(settings, upd, circle_zone, at):
    eng = Engine(settings, [circle_zone("z1", LON0, LAT0, 10_000.0)])
    dists = [5_000] + [15_000] * 5 + [5_000]
    events = _run(eng, _radial_track(upd, at, dists))
    assert [e.state for e in events] == ["open", "closed", "open"]
    assert events[0].event_id == events[1].event_id != events[2].event_id


def test_zone_applies_to_its_sides_domains_and_window(settings, upd, circle_zone, at):
    zones = [
        circle_zone("russia-sea", LON0, LAT0, 10_000.0, sides=("russia",), domains=("sea",)),
        circle_zone("nato-air", LON0, LAT0, 10_000.0, sides=("nato",), domains=("air",)),
        circle_zone(
            "exercise", LON0, LAT0, 10_000.0, kind="exercise", sides=("russia", "nato"),
            active_from_s=T0 + 100, active_until_s=T0 + 200,
        ),
    ]
    eng = Engine(settings, zones)
    p = at(LON0, LAT0, 0.0, 1_000.0)
    events = eng.process([
        upd("ais:1", T0, *p, side="russia", domain="sea"),
        upd("icao:aa0001", T0, *p, side="russia", domain="air", alt_m=3000.0),
        upd("icao:bb0001", T0, *p, side="nato", domain="air", alt_m=3000.0),
        upd("ais:2", T0, *p, side="other", domain="sea"),
    ])
    zone_events = [e for e in events if e.kind == "zone_entry"]
    assert sorted((e.subjects[0].track_id, e.zone_id) for e in zone_events) == [
        ("ais:1", "russia-sea"),
        ("icao:bb0001", "nato-air"),
    ]
    # the exercise zone becomes active at T0+100 and ends at T0+200
    # (meanwhile the aircraft make a close approach and go stale: other incidents)
    events = eng.process([upd("ais:1", T0 + 110, *p), upd("ais:1", T0 + 190, *p)])
    assert [(e.zone_id, e.state) for e in events if e.zone_id == "exercise"] == [("exercise", "open")]
    events = eng.process([upd("ais:1", T0 + 211, *p)])
    assert [(e.zone_id, e.state, e.close_reason) for e in events if e.zone_id == "exercise"] == [
        ("exercise", "closed", "zone_inactive")
    ]


def test_stale_track_closes_its_incident(settings, upd, circle_zone, at):
    eng = Engine(settings, [circle_zone("z1", LON0, LAT0, 10_000.0)])
    inside = at(LON0, LAT0, 0.0, 1_000.0)
    far = at(LON0, LAT0, 0.0, 200_000.0)
    events = eng.process([upd("icao:aa0001", T0, *inside, domain="air")])
    assert [e.state for e in events] == ["open"]
    # another track keeps the data time going; the aircraft is stale after 120 s
    later = [upd("ais:9", T0 + 10 * k, *far) for k in range(1, 20)]
    events = eng.process(later)
    assert [(e.state, e.close_reason) for e in events] == [("closed", "stale")]
    # noticed at the first tick with more than 120 s since the last report (T0 + 125),
    # stamped when the track went stale: its last report plus 120 s
    assert events[0].t_s == T0 + 120
    assert eng.stats["stale_expired"] == 1
    assert eng.stats["live_tracks"] == 1


def test_out_of_order_report_is_dropped_and_counted(settings, upd, circle_zone, at):
    eng = Engine(settings, [circle_zone("z1", LON0, LAT0, 10_000.0)])
    outside = at(LON0, LAT0, 0.0, 30_000.0)
    inside = at(LON0, LAT0, 0.0, 1_000.0)
    events = eng.process([
        upd("ais:1", T0 + 20, *outside),
        upd("ais:1", T0 + 10, *inside),  # late: older than the last report
        upd("ais:2", T0 + 5, *outside),  # older than the data time but first of its track: kept
    ])
    assert events == []  # the late report inside the zone did not count
    assert eng.stats["out_of_order_dropped"] == 1
    assert eng.stats["updates"] == 3
    events = _run(eng, [upd("ais:1", T0 + 15, *inside)])  # still older than T0+20
    assert events == [] and eng.stats["out_of_order_dropped"] == 2
    # equal time is not older
    assert [e.state for e in _run(eng, [upd("ais:1", T0 + 20, *inside)])] == ["open"]


def test_watch_listed_type_raises_severity(settings, upd, circle_zone, at):
    eng = Engine(settings, [circle_zone("z1", LON0, LAT0, 50_000.0, severity="warning")])
    p = at(LON0, LAT0, 0.0, 1_000.0)
    events = eng.process([
        upd("icao:aa0001", T0, *p, domain="air", type_code="TU95", alt_m=9000.0),
        upd("icao:aa0002", T0, *p, domain="air", type_code="A320", alt_m=9000.0),
    ])
    assert {e.subjects[0].track_id: e.severity for e in events} == {
        "icao:aa0001": "critical",
        "icao:aa0002": "warning",
    }


def test_added_zone_is_watched_from_then_on(settings, upd, circle_zone, at):
    eng = Engine(settings, [])
    p = at(LON0, LAT0, 0.0, 1_000.0)
    assert eng.process([upd("ais:1", T0, *p)]) == []
    eng.add_zones([circle_zone("ex1", LON0, LAT0, 5_000.0, kind="exercise")])
    assert [e.zone_id for e in eng.process([upd("ais:1", T0 + 10, *p)])] == ["ex1"]
