"""Announced flights (Open Skies style notices): events about the announced aircraft say whether
it flew inside its corridor within its period (``notification``, proximity.notification)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely
from shapely.geometry import Point

from config.records import RecordError, RouteArea
from config.settings import ProximitySettings
from ingest.exercise import ExerciseGeoJsonDecoder
from proximity.engine import Engine
from proximity.notices import MARGIN_ERROR_SHARE, zone_from_notice
from proximity.geometry import distance_to_geometry_m

T0 = 1_700_000_000.0
ISO = "2023-11-14T22:{:02d}:20Z"  # T0 is 22:13:20Z


def _flight(identity: dict[str, Any], **props: Any) -> Any:
    feature = {"type": "Feature", "id": "os-2023-17", "geometry": {
        "type": "LineString", "coordinates": [[23.0, 58.0], [25.0, 58.0]]},
        "properties": {"kind": "flight", "name": "Observation flight OS-17", "start": ISO.format(3),
                       "end": ISO.format(53), "issued": "2023-11-11T09:00:00Z", "country": "RU",
                       "corridor_m": 10_000, "identity": identity, **props}}
    items = list(ExerciseGeoJsonDecoder("notices").decode([json.dumps(feature).encode()]))
    (notice,) = items
    return notice


def test_the_corridor_is_the_route_grown_by_its_half_width() -> None:
    notice = _flight({"icao24": "155001"})
    assert (notice.notice_id, notice.kind, notice.margin_m, notice.domains) == ("flight:os-2023-17", "flight",
                                                                                10_000.0, ("air",))
    zone = zone_from_notice(notice)
    assert zone.kind == "corridor" and zone.properties["identity"] == {"icao24": "155001"}
    # the boundary within 10 km (and the stated error) of the route's geodesic, measured with GeographicLib
    route = notice.area.geometry
    for lon, lat in list(shapely.get_coordinates(zone.geometry.exterior))[::25]:
        assert distance_to_geometry_m(float(lon), float(lat), route) == pytest.approx(
            10_000.0, abs=MARGIN_ERROR_SHARE * 10_000.0 + 1.0)
    assert zone.geometry.contains(Point(24.0, 58.08)) and not zone.geometry.contains(Point(24.0, 58.1))


@pytest.mark.parametrize(("identity", "why"), [
    ({}, "identity"), ({"icao24": "15500"}, "6 hex digits"), ({"mmsi": 12}, "9 digits"),
    ({"callsign": "TOO LONG CALL"}, "1 to 8"), ({"tail": "RA-64519"}, "identity"),
])
def test_a_flight_notice_needs_an_identity(identity: dict[str, Any], why: str) -> None:
    feature = {"type": "Feature", "id": "x", "geometry": {"type": "LineString", "coordinates": [[23, 58], [25, 58]]},
               "properties": {"kind": "flight", "start": ISO.format(3), "end": ISO.format(53), "corridor_m": 5000,
                              "identity": identity}}
    (letter,) = ExerciseGeoJsonDecoder("notices").decode([json.dumps(feature).encode()])
    assert why in letter.text


def test_a_route_without_a_corridor_is_refused() -> None:
    feature = {"type": "Feature", "id": "x", "geometry": {"type": "LineString", "coordinates": [[23, 58], [25, 58]]},
               "properties": {"kind": "flight", "start": ISO.format(3), "end": ISO.format(53),
                              "identity": {"icao24": "155001"}}}
    (letter,) = ExerciseGeoJsonDecoder("notices").decode([json.dumps(feature).encode()])
    assert "corridor_m" in letter.text
    with pytest.raises(RecordError, match="need a line"):
        RouteArea(geometry=Point(23, 58))


def _track(upd: Any, at: Any, track_id: str, t0: float, start: tuple[float, float], legs: list[tuple[float, float]],
           **kw: Any) -> list[Any]:
    """Reports every 10 s at 200 m/s along ``legs`` (course, seconds)."""
    out, pos, t = [], start, t0
    for course, seconds in legs:
        for _ in range(int(seconds // 10)):
            out.append(upd(track_id, t, *pos, domain="air", side="russia", alt_m=9_000.0, speed_mps=200.0,
                           course_deg=course, **kw))
            pos = at(*pos, course, 2_000.0)
            t += 10.0
    return out


def test_events_about_the_announced_aircraft_say_where_it_flew(upd: Any, at: Any, circle_zone: Any) -> None:
    sites = [circle_zone("site-a", 24.0, 58.0, 15_000.0, sides=("russia",), domains=("air",)),
             circle_zone("site-b", 25.6, 58.45, 15_000.0, sides=("russia",), domains=("air",))]
    eng = Engine(ProximitySettings(), sites)
    eng.add_zones([zone_from_notice(_flight({"icao24": "155001"}))])
    # the announced aircraft along its route, then off it to the north-east (site-b, outside
    # the corridor); an aircraft nobody announced along the same route a minute behind
    flight = _track(upd, at, "icao:155001", T0, (23.0, 58.0), [(89.6, 600), (35.0, 400)], callsign="RFF9101")
    other = _track(upd, at, "icao:155002", T0 + 60, (23.0, 58.0), [(89.6, 600)])
    reports = sorted(flight + other, key=lambda u: u.t_s)
    events = [e for k in range(0, len(reports), 4) for e in eng.process(reports[k:k + 4])]
    entries = [e for e in events if e.kind == "zone_entry" and e.state == "open"]
    by = {(e.subjects[0].track_id, e.zone_id): e.notification for e in entries}
    assert set(by) == {("icao:155001", "site-a"), ("icao:155002", "site-a"), ("icao:155001", "site-b")}
    inside = by[("icao:155001", "site-a")]
    assert inside is not None and inside["status"] == "notified" and inside["track_id"] == "icao:155001"
    assert inside["notice_id"] == "flight:os-2023-17" and inside["issuer"] == "RU"
    # issued 2023-11-11T09:00Z for 2023-11-14T22:03:20Z; a flight owes no Vienna Document 42 days
    assert inside["lead_s"] == 3 * 86_400 + 13 * 3_600 + 3 * 60 + 20 and "notifiable" not in inside
    off = by[("icao:155001", "site-b")]
    assert off == {**inside, "status": "unnotified", "detail": "outside the announced corridor"}
    assert by[("icao:155002", "site-a")] is None  # nobody announced it
    # the corridor itself is never watched: no event names it
    assert all(e.zone_id != "flight:os-2023-17" for e in events)


def test_a_callsign_announces_too_and_the_period_counts(upd: Any, at: Any, circle_zone: Any) -> None:
    site = circle_zone("site-a", 24.0, 58.0, 15_000.0, sides=("russia",), domains=("air",))
    eng = Engine(ProximitySettings(), [site])
    eng.add_zones([zone_from_notice(_flight({"callsign": "rff9101"}))])
    # an hour late: the period (22:03 to 22:53) is over when it reaches the site
    late = _track(upd, at, "icao:155009", T0 + 3_600, (23.0, 58.0), [(89.6, 600)], callsign="RFF9101 ")
    events = [e for k in range(0, len(late), 4) for e in eng.process(late[k:k + 4])]
    (entry,) = [e for e in events if e.kind == "zone_entry" and e.state == "open"]
    assert entry.notification is not None
    assert (entry.notification["status"], entry.notification["detail"]) == ("unnotified", "outside the announced period")


def test_a_restored_engine_still_knows_the_announced_flight(upd: Any, at: Any, circle_zone: Any) -> None:
    sites = [circle_zone("site-a", 24.0, 58.0, 15_000.0, sides=("russia",), domains=("air",))]
    flight = _track(upd, at, "icao:155001", T0, (23.0, 58.0), [(89.6, 600)])
    whole = Engine(ProximitySettings(), sites, wall_clock=lambda: 0.0)
    whole.add_zones([zone_from_notice(_flight({"icao24": "155001"}))])
    expected = [e.canonical() for e in whole.process(flight)]
    assert any(e["notification"] and e["notification"]["status"] == "notified" for e in expected)

    first = Engine(ProximitySettings(), sites, wall_clock=lambda: 0.0)
    first.add_zones([zone_from_notice(_flight({"icao24": "155001"}))])
    got = [e.canonical() for e in first.process(flight[:5])]  # before it reaches the site
    state = first.state()
    json.dumps(state.doc, allow_nan=False)
    again = Engine.from_state(ProximitySettings(), state, wall_clock=lambda: 0.0)
    got += [e.canonical() for e in again.process(flight[5:])]
    assert got == expected


def test_the_announced_flight_inside_its_corridor_is_a_record_not_an_alarm(upd: Any, at: Any,
                                                                           circle_zone: Any) -> None:
    # the default profile: a territorial entry of a state aircraft is critical, but at most info when it is the
    # announced flight inside its corridor and period; off the corridor it keeps its severity
    from closewatch.rules import load_profile
    from proximity.rules import Rules

    sites = [circle_zone(name, lon, lat, 15_000.0, kind="territorial", sides=("russia",), domains=("air",))
             for name, lon, lat in (("site-a", 24.0, 58.0), ("site-b", 25.6, 58.45))]
    eng = Engine(ProximitySettings(), sites, rules=Rules(load_profile("military")), wall_clock=lambda: 0.0)
    eng.add_zones([zone_from_notice(_flight({"icao24": "155001"}))])
    flight = _track(upd, at, "icao:155001", T0, (23.0, 58.0), [(89.6, 600), (35.0, 400)], category="state")
    other = _track(upd, at, "icao:155002", T0 + 60, (23.0, 58.0), [(89.6, 600)], category="state")
    reports = sorted(flight + other, key=lambda u: u.t_s)
    events = [e for k in range(0, len(reports), 4) for e in eng.process(reports[k:k + 4])]
    entries = {(e.subjects[0].track_id, e.zone_id): e for e in events if e.kind == "zone_entry" and e.state == "open"}
    announced = entries[("icao:155001", "site-a")]
    assert announced.notification["status"] == "notified" and announced.severity == "info"
    assert announced.rule is not None and announced.rule.startswith("military@3/")
    assert entries[("icao:155001", "site-b")].notification["status"] == "unnotified"
    assert entries[("icao:155001", "site-b")].severity == entries[("icao:155002", "site-a")].severity != "info"
