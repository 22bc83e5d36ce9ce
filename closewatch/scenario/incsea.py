"""The INCSEA demo scenario: fifty minutes over the Barents Sea, the Norwegian Sea and the Finnish border.

Deterministic: the same code writes the same bytes. Ships are written as AIS NMEA 0183
(NMEA 4.0 tag blocks, encoded with pyais, as the Baltic demo); aircraft as readsb
``aircraft.json`` snapshots every 5 s (a folder of them, as a receiver's history is
kept), which carry the ICAO type designator (``t``) and the military flag (``dbFlags``)
that SBS-1 lacks. What happens (data time, seconds after ``T0``):

* a US Navy P-8 Poseidon passes head-on 200 m abeam of the Russian destroyer
  SEVEROMORSK at 150 m (``unsafe_air_intercept_of_ship``), then climbs away;
* the Russian intelligence ship (AGI) ZHUKOV, 1.5 km abeam of the Norwegian frigate
  HNOMS THOR on a parallel course, turns at T0+1200 s and speeds up to 18 kn to cross
  250 m ahead of the frigate's bow (``unsafe_manoeuvre_at_sea``);
* the Russian AGI TATISHCHEV keeps station 6 km astern of the German frigate
  HESSEN for 45 minutes, then turns away (``shadowing``);
* two Tu-95s fly north along the Finnish border (a Su-27 escorting the first),
  then west along the Norwegian coast, where two Norwegian F-35s intercept them
  (``bomber_sortie`` for each, ``intercept`` for each F-35);
* notified or not: a Tu-214ON observation flight announced three days ahead (Open Skies
  style) flies west across southern Finland inside its corridor (its events say ``notified``);
  a notified exercise at Pechenga and unannounced activity at Alakurtti, both near a border
  (``exercise_near_border``, ``notified`` and ``unnotified``);
* negatives: a Norwegian naval convoy and a Russian merchant convoy on parallel
  courses 5 km apart (no shadowing: the merchant ships are civil); a Norwegian
  ferry overtaking the destroyer 3 km north of it and turning away (no manoeuvre); a
  Tu-160 over Franz Josef Land, far from any border (no sortie).

The incidents of the issue-13 kinds it must raise, computed from the geometry alone,
are written beside this file in ``expected_incsea.json`` by
``python -m closewatch.scenario.incsea --expected``; README.md there explains them.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from pyproj import Geod

from closewatch.scenario.baltic import (
    AIS_INTERVAL_S,
    MPS_PER_KNOT,
    ScenarioTrack,
    Waypoint,
    ais_lines,
    outputs_config,
)

__all__ = ["T0_S", "DURATION_S", "TRACKS", "AIRCRAFT", "write_scenario", "expected_incidents"]

_GEOD = Geod(ellps="WGS84")

T0_S = datetime(2026, 3, 11, 9, 0, 0, tzinfo=timezone.utc).timestamp()
DURATION_S = 3000
ADSB_INTERVAL_S = 5
FT_PER_M = 1.0 / 0.3048
TICK_S = 5  # the engine's pair_interval_s


@dataclass(frozen=True)
class Aircraft:
    """What an aircraft.json entry says beyond its kinematics."""

    hex: str
    flight: str
    type_code: str
    military: bool


def _go(lat: float, lon: float, az: float, dist_m: float) -> tuple[float, float]:
    lon2, lat2, _ = _GEOD.fwd(lon, lat, az, dist_m)
    return lat2, lon2


def _straight(t0: float, t1: float, lat: float, lon: float, az: float, speed_mps: float,
              alt_m: float | None = None) -> tuple[Waypoint, Waypoint]:
    lat2, lon2 = _go(lat, lon, az, speed_mps * (t1 - t0))
    return Waypoint(t0, lat, lon, alt_m), Waypoint(t1, lat2, lon2, alt_m)


def _ship(track_id: str, name: str, callsign: str, ship_type: int, side: str, *wps: Waypoint) -> ScenarioTrack:
    return ScenarioTrack(track_id=track_id, side=side, domain="sea", callsign=callsign, name=name,
                         type_code=str(ship_type), waypoints=tuple(wps), ship_type=ship_type)


def _plane(track_id: str, side: str, callsign: str, type_code: str, *wps: Waypoint) -> ScenarioTrack:
    return ScenarioTrack(track_id=track_id, side=side, domain="air", callsign=callsign, name="",
                         type_code=type_code, waypoints=tuple(wps))


KN = MPS_PER_KNOT

# -- the low pass: SEVEROMORSK west along 71.6 N at 12 kn; the P-8 east, head-on, 200 m north of it
_DESTROYER = _ship("ais:273310010", "SEVEROMORSK", "UBAF", 35, "russia",
                   *_straight(0, DURATION_S, 71.60, 31.00, 270.0, 12.0 * KN))
_PASS_T = 600.0


def _p8() -> ScenarioTrack:
    lat, lon, _, _, _ = _DESTROYER.state(_PASS_T)
    lat_c, lon_c = _go(lat, lon, 0.0, 200.0)  # 200 m north of the ship at the pass
    start = _go(lat_c, lon_c, 270.0, 130.0 * 480.0)  # 480 s before, at 130 m/s, from the west
    az, _, _ = _GEOD.inv(start[1], start[0], lon_c, lat_c)
    a = Waypoint(_PASS_T - 480.0, start[0], start[1], 150.0)
    b = Waypoint(_PASS_T + 120.0, *_go(start[0], start[1], az, 130.0 * 600.0), 150.0)
    c = Waypoint(_PASS_T + 420.0, *_go(b.lat_deg, b.lon_deg, az, 130.0 * 300.0), 3000.0)
    # then on patrol to the north-east until T0+1900 s: the incident clears (600 s out of the envelope)
    d = Waypoint(_PASS_T + 1300.0, *_go(c.lat_deg, c.lon_deg, 45.0, 140.0 * 880.0), 3000.0)
    return _plane("icao:ae68a1", "nato", "PELICAN1", "P8", a, b, c, d)


# -- the manoeuvre: HNOMS THOR north at 14 kn; ZHUKOV 1.5 km east of it, alongside, turns at T0+1200 s
_TURN_T = 1200.0
_FRIGATE = _ship("ais:257030500", "HNOMS THOR", "LAJT", 35, "nato",
                 *_straight(0, DURATION_S, 71.80, 24.00, 0.0, 14.0 * KN))


def _agi() -> ScenarioTrack:
    start = _go(71.80, 24.00, 90.0, 1_500.0)  # closer than a shadowing's band (2-20 km)
    a, b = _straight(0, _TURN_T, *start, 0.0, 14.0 * KN)
    # the aim: 250 m ahead of where the frigate will be when the AGI, at 18 kn, gets there
    t_arr = 200.0
    for _ in range(30):
        f_lat, f_lon, _, _, _ = _FRIGATE.state(_TURN_T + t_arr)
        aim = _go(f_lat, f_lon, 0.0, 250.0)
        az, _, d = _GEOD.inv(b.lon_deg, b.lat_deg, aim[1], aim[0])
        t_arr = d / (18.0 * KN)
    # across the bow (about T0+1600 s), then west, away from the frigate's track
    c = Waypoint(_TURN_T + 500.0, *_go(b.lat_deg, b.lon_deg, az, 18.0 * KN * 500.0))
    d = Waypoint(DURATION_S, *_go(c.lat_deg, c.lon_deg, 270.0, 14.0 * KN * (DURATION_S - c.t_s)))
    return _ship("ais:273320020", "ZHUKOV", "UBZH", 35, "russia", a, b, c, d)


# -- the shadowing: HESSEN on 060 at 12 kn; TATISHCHEV 6 km astern until T0+2700 s, then south
_HESSEN = _ship("ais:211050700", "HESSEN", "DRAH", 35, "nato", *_straight(0, DURATION_S, 73.00, 18.00, 60.0, 12.0 * KN))
_PART_T = 2700.0


def _tatishchev() -> ScenarioTrack:
    start = _go(73.00, 18.00, 240.0, 6_000.0)
    a, b = _straight(0, _PART_T, *start, 60.0, 12.0 * KN)
    c = Waypoint(DURATION_S, *_go(b.lat_deg, b.lon_deg, 180.0, 12.0 * KN * (DURATION_S - _PART_T)))
    return _ship("ais:273330030", "VASILIY TATISHCHEV", "UBVT", 35, "russia", a, b, c)


# -- negatives at sea: a naval convoy and a merchant convoy 5 km apart on 090 at 11 kn; a ferry
_CONVOYS = (
    _ship("ais:257040100", "HNOMS MAUD", "LAMD", 35, "nato", *_straight(0, DURATION_S, 72.50, 30.00, 90.0, 11.0 * KN)),
    _ship("ais:257040200", "HNOMS ROALD AMUNDSEN", "LARA", 35, "nato",
          *_straight(0, DURATION_S, *_go(72.50, 30.00, 270.0, 1_500.0), 90.0, 11.0 * KN)),
    _ship("ais:273440300", "NS ARCTIC", "UBNA", 80, "russia",
          *_straight(0, DURATION_S, *_go(72.50, 30.00, 180.0, 5_000.0), 90.0, 11.0 * KN)),
    _ship("ais:273440400", "NS POLAR", "UBNP", 80, "russia",
          *_straight(0, DURATION_S, *_go(*_go(72.50, 30.00, 180.0, 5_000.0), 270.0, 1_500.0), 90.0, 11.0 * KN)),
)


def _ferry() -> ScenarioTrack:
    # west along 71.60 N + 3 km (north of the destroyer's track), meeting it; turns away north at T0+300 s
    start = _go(*_go(71.60, 31.00, 0.0, 3_000.0), 270.0, -14_000.0)  # 14 km east of the destroyer's start
    a, b = _straight(0, 300, *start, 270.0, 15.0 * KN)
    c = Waypoint(DURATION_S, *_go(b.lat_deg, b.lon_deg, 330.0, 15.0 * KN * (DURATION_S - 300)))
    return _ship("ais:257050900", "HURTIGRUTEN NORD", "LLNF", 60, "nato", a, b, c)


# -- the bombers: north along the Finnish border (Russian side), then north-east of Vardo and west
#    along the Norwegian coast; 230 m/s at 9,000 m, the second 8 km behind the first
_BOMBER_ROUTE = ((66.50, 31.50), (69.20, 31.80), (70.60, 33.20), (71.90, 27.50), (72.10, 22.00))
_BOMBER_SPEED = 230.0
_INTERCEPT_T = 2300.0


def _route(points: Sequence[tuple[float, float]], t0: float, speed: float, alt: float) -> tuple[Waypoint, ...]:
    """Waypoints along ``points`` (lat, lon) at ``speed`` from ``t0``."""
    wps = []
    t = t0
    for (la, lo), nxt in zip(points, (*points[1:], None)):
        wps.append(Waypoint(t, la, lo, alt))
        if nxt is not None:
            _, _, d = _GEOD.inv(lo, la, nxt[1], nxt[0])
            t += d / speed
    return tuple(wps)


def _clip(wps: tuple[Waypoint, ...], t_end: float) -> tuple[Waypoint, ...]:
    """The route cut at ``t_end`` (the position there from the scenario's own interpolation)."""
    track = ScenarioTrack("x", "russia", "air", "", "", "", wps)
    kept = [w for w in wps if w.t_s < t_end]
    lat, lon, alt, _, _ = track.state(t_end)
    return (*kept, Waypoint(t_end, lat, lon, alt))


def _beside(track: ScenarioTrack, times: Sequence[float], side_deg: float, dist_m: float,
            dalt_m: float = 0.0) -> list[Waypoint]:
    """Waypoints ``dist_m`` off ``track`` at ``times``, ``side_deg`` from its course (90: right)."""
    out = []
    for t in times:
        lat, lon, alt, _, course = track.state(t)
        out.append(Waypoint(t, *_go(lat, lon, course + side_deg, dist_m), (alt or 0.0) + dalt_m))
    return out


def _bombers() -> list[ScenarioTrack]:
    first = _clip(_route(_BOMBER_ROUTE, 0.0, _BOMBER_SPEED, 9_000.0), DURATION_S)
    # 8 km behind (an escort of the first: within escort_m, 10 km): on the same route 34.8 s later
    behind = Waypoint(0.0, *_go(66.50, 31.50, 180.0, 8_000.0), 9_000.0)
    second = _clip((behind, *_route(_BOMBER_ROUTE, 8_000.0 / _BOMBER_SPEED, _BOMBER_SPEED, 9_000.0)), DURATION_S)
    tu1 = _plane("icao:151d01", "russia", "RFF9401", "TU95", *first)
    tu2 = _plane("icao:151d02", "russia", "RFF9402", "TU95", *second)
    # the escort: 5 km left of the first bomber from T0 to T0+1200 s, then home (south-east)
    times = [float(t) for t in range(0, 1201, 60)]
    escort = _beside(tu1, times, -90.0, 5_000.0)
    home = Waypoint(1_500.0, *_go(escort[-1].lat_deg, escort[-1].lon_deg, 135.0, 240.0 * 300.0), 9_000.0)
    su27 = _plane("icao:151e07", "russia", "RFF7707", "SU27", *escort, home)
    # the interceptors: from the south-west, each joins a bomber 1.5 km to its right at T0+2300 s
    fighters = []
    for k, (hexid, bomber) in enumerate((("478101", tu1), ("478102", tu2))):
        times = [float(t) for t in range(int(_INTERCEPT_T), DURATION_S + 1, 60)]
        alongside = _beside(bomber, times, 90.0, 1_500.0, 150.0)
        j = alongside[0]
        _, _, _, _, course = bomber.state(_INTERCEPT_T)
        # 300 s before: 72 km behind the join point and 15 km to the right, converging at about 245 m/s
        start = _go(*_go(j.lat_deg, j.lon_deg, course + 180.0, 72_000.0), course + 90.0, 15_000.0)
        fighters.append(_plane(f"icao:{hexid}", "nato", f"NAF{51 + k}", "F35",
                               Waypoint(_INTERCEPT_T - 300.0, *start, 9_150.0), *alongside))
    return [tu1, tu2, su27, *fighters]


# -- far from any border: a Tu-160 over Franz Josef Land
_TU160 = _plane("icao:151d60", "russia", "RFF9460", "T160",
                *_straight(0, DURATION_S, 80.60, 50.00, 90.0, 240.0, 10_000.0))


# -- notified or not: an announced observation flight (Open Skies style), a Tu-214ON west across
#    southern Finland at 9,000 m inside its announced corridor; a notified exercise at Pechenga and
#    activity nobody notified at Alakurtti (the notices feed, _notices)
_OBSERVER = _plane("icao:155e5a", "russia", "RFF9101", "T204",
                   *_straight(300.0, 2_700.0, 61.20, 30.40, 270.0, 200.0, 9_000.0))
FLIGHT_ID = "os-ru-fi-1"
FLIGHT_CORRIDOR_M = 20_000.0
EXERCISES = {
    # id: (lon, lat, radius, notification, declared forces, days issued before T0 or None)
    "northern-fleet-coastal-1": (31.30, 69.45, 10_000.0, "notified", {"troops": 12_000, "battle_tanks": 120}, 60.0),
    "alakurtti-activity": (30.35, 66.95, 10_000.0, "unnotified", {"troops": 9_500}, None),
}
EXERCISE_WINDOW_S = (120.0, 2_880.0)


def _all() -> tuple[ScenarioTrack, ...]:
    return (_DESTROYER, _p8(), _FRIGATE, _agi(), _HESSEN, _tatishchev(), *_CONVOYS, _ferry(), *_bombers(), _TU160,
            _OBSERVER)


TRACKS: tuple[ScenarioTrack, ...] = _all()

AIRCRAFT: dict[str, Aircraft] = {
    t.track_id: Aircraft(t.track_id.split(":", 1)[1], t.callsign, t.type_code, True) for t in TRACKS if t.domain == "air"
}


def _times(track: ScenarioTrack, interval_s: int) -> Iterator[int]:
    t = math.ceil(track.waypoints[0].t_s / interval_s) * interval_s
    while t <= min(track.waypoints[-1].t_s, DURATION_S):
        yield t
        t += interval_s


def _snapshot(t: int) -> dict[str, Any]:
    """An aircraft.json document (readsb README-json.md) of the aircraft flying at ``t``."""
    aircraft = []
    for track in TRACKS:
        if track.domain != "air" or not track.active(t):
            continue
        info = AIRCRAFT[track.track_id]
        lat, lon, alt, speed, course = track.state(t)
        aircraft.append({
            "hex": info.hex, "flight": f"{info.flight:<8}", "t": info.type_code, "dbFlags": 1 if info.military else 0,
            "alt_baro": int(round((alt or 0.0) * FT_PER_M)), "gs": round(speed / MPS_PER_KNOT, 1),
            "track": round(course, 2), "baro_rate": int(round((track.vertical_rate_mps(t) or 0.0) * FT_PER_M * 60.0)),
            "lat": round(lat, 6), "lon": round(lon, 6), "seen_pos": 0.0, "seen": 0.0,
        })
    return {"now": T0_S + t, "messages": t * 40, "aircraft": aircraft}


def _iso(t_s: float) -> str:
    return datetime.fromtimestamp(T0_S + t_s, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _notices() -> dict[str, Any]:
    """The notices feed (exercise-geojson, docs/feeds.md): the two exercises and the announced flight."""
    features: list[dict[str, Any]] = []
    for fid, (lon, lat, radius, notification, declared, issued_days) in EXERCISES.items():
        props: dict[str, Any] = {
            "name": fid.replace("-", " ").capitalize(), "start": _iso(EXERCISE_WINDOW_S[0]),
            "end": _iso(EXERCISE_WINDOW_S[1]), "radius_m": radius, "country": "RU", "side": "russia",
            "notification": notification, "scale": declared,
        }
        if issued_days is not None:
            props["issued"] = _iso(-issued_days * 86_400.0)
        features.append({"type": "Feature", "id": fid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": props})
    a, b = _OBSERVER.waypoints
    features.append({"type": "Feature", "id": FLIGHT_ID,
                     "geometry": {"type": "LineString", "coordinates": [[a.lon_deg, a.lat_deg], [b.lon_deg, b.lat_deg]]},
                     "properties": {"kind": "flight", "name": "Observation flight RU over FI", "start": _iso(0.0),
                                    "end": _iso(DURATION_S), "issued": _iso(-3 * 86_400.0), "country": "RU",
                                    "side": "russia", "corridor_m": FLIGHT_CORRIDOR_M,
                                    "identity": {"icao24": _OBSERVER.track_id.split(":", 1)[1],
                                                 "callsign": _OBSERVER.callsign}}})
    return {"type": "FeatureCollection", "features": features}


def write_scenario(out_dir: Path) -> dict[str, Path]:
    """Write the feeds and a ready configuration into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ais: list[tuple[float, str]] = []
    for index, track in enumerate(TRACKS):
        if track.domain == "sea":
            ais.extend(ais_lines(track, seq_id=index % 10, t0_s=T0_S, duration_s=DURATION_S, station="closewatch-incsea"))
    ais.sort(key=lambda item: item[0])
    paths = {"ais": out_dir / "incsea-ais.nmea", "adsb": out_dir / "incsea-adsb", "config": out_dir / "closewatch.toml",
             "notices": out_dir / "incsea-notices.geojson"}
    paths["ais"].write_text("\r\n".join(line for _, line in ais) + "\r\n", encoding="ascii")
    paths["notices"].write_text(json.dumps(_notices(), indent=1) + "\n", encoding="utf-8")
    paths["adsb"].mkdir(exist_ok=True)
    for old in paths["adsb"].glob("aircraft-*.json"):
        old.unlink()
    for t in range(0, DURATION_S + 1, ADSB_INTERVAL_S):
        (paths["adsb"] / f"aircraft-{t:05d}.json").write_text(json.dumps(_snapshot(t), separators=(",", ":")) + "\n",
                                                              encoding="utf-8")
    paths["config"].write_text(_config(out_dir), encoding="utf-8")
    return paths


def _config(out_dir: Path) -> str:
    return f"""\
# closewatch INCSEA demo configuration, written by closewatch.scenario.incsea.
[[feeds]]
name = "incsea-ais"
format = "ais-nmea"
transport = "file"
path = "{out_dir / 'incsea-ais.nmea'}"

[[feeds]]
name = "incsea-adsb"
format = "aircraft-json"
transport = "file"
path = "{out_dir / 'incsea-adsb'}"

[[feeds]]
name = "incsea-notices"
format = "exercise-geojson"
transport = "file"
path = "{out_dir / 'incsea-notices.geojson'}"

""" + outputs_config(out_dir)


# -- the expected incidents, from the geometry alone ------------------------------------------------
#
# The rules of docs/engine.md with the default settings, applied to the scenario's true kinematics
# (ScenarioTrack.state: geodesics between waypoints) at the engine's ticks (every 5 s) or finer, never
# to the engine's code. Military: AIS ship type 35, or an aircraft flagged in dbFlags.

_ROLES = {"TU95": "bomber", "T160": "bomber", "SU27": "fighter", "F35": "fighter", "P8": "maritime_patrol"}
_MARGIN = 1.1  # 1 + hysteresis_margin


def _military(track: ScenarioTrack) -> bool:
    return track.domain == "air" or track.ship_type == 35


def _angle(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _dist(a: ScenarioTrack, b: ScenarioTrack, t: float) -> float:
    la, lo, *_ = a.state(t)
    lb, lob, *_ = b.state(t)
    return float(_GEOD.inv(lo, la, lob, lb)[2])


def _overlap(a: ScenarioTrack, b: ScenarioTrack) -> tuple[float, float]:
    return max(a.waypoints[0].t_s, b.waypoints[0].t_s), min(a.waypoints[-1].t_s, b.waypoints[-1].t_s, DURATION_S)


def _air_passes(air: ScenarioTrack, ship: ScenarioTrack, limit_m: float = 1_852.0, height_m: float = 300.0,
                step_s: float = 0.5) -> dict[str, Any] | None:
    """unsafe_air_intercept_of_ship: the passes (into the envelope after leaving it beyond the margin),
    the closest one (slant range, when, height, the bearing it came from), when it left for good."""
    start, end = _overlap(air, ship)
    if start > end or min(_dist(air, ship, float(t)) for t in range(int(start), int(end) + 1, 30)) > 30_000.0:
        return None  # never within 30 km at the 30-s samples: 1 NM needs 2 x 30 s x 400 m/s less

    def slant(t: float) -> tuple[float, float]:
        alt = air.state(t)[2] or 0.0
        return math.hypot(_dist(air, ship, t), alt), alt

    t, passes, inside, entry, left = start, 0, False, None, None
    best = (math.inf, math.nan, math.nan)
    while t <= end:
        s, h = slant(t)
        if s <= limit_m and h <= height_m:
            if not inside:
                passes += 1
                entry = entry if entry is not None else t
            inside, left = True, None
            if s < best[0]:
                best = (s, t, h)
        elif s > limit_m * _MARGIN or h > height_m * _MARGIN:
            if inside:
                left = t
            inside = False
        t += step_s
    if passes == 0 or entry is None:
        return None
    from scipy.optimize import minimize_scalar  # the closest point, refined

    t_b = best[1]
    res = minimize_scalar(lambda x: slant(t_b + x)[0], bounds=(-step_s, step_s), method="bounded",
                          options={"xatol": 1e-4})
    t_min = t_b + float(res.x)
    s_min, h_min = slant(t_min)
    ship_course, air_course = ship.state(t_min)[4], air.state(t_min)[4]
    bearing = (air_course + 180.0 - ship_course) % 360.0
    return {"kind": "unsafe_air_intercept_of_ship", "subjects": [air.track_id, ship.track_id],
            "entry_after_t0_s": round(entry, 1), "min_slant_range_m": round(s_min, 2),
            "min_after_t0_s": round(t_min, 2), "height_at_min_m": round(h_min, 1),
            "pass_bearing_deg": round(bearing, 1), "passes": passes,
            "clear_after_t0_s": None if left is None or left + 600.0 > end else round(left + 600.0, 1)}


def _enu(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    az, _, d = _GEOD.inv(lon0, lat0, lon, lat)
    return d * math.sin(math.radians(az)), d * math.cos(math.radians(az))


State = tuple[float, float, "float | None", float, float]  # ScenarioTrack.state: lat, lon, alt, speed, course


def _planar_cpa(a: State, b: State, horizon_s: float = 900.0) -> tuple[float, float]:
    """(CPA, TCPA) of two states (lat, lon, _, speed, course) on a local plane, within the horizon."""
    rx, ry = _enu(a[0], a[1], b[0], b[1])
    vax, vay = a[3] * math.sin(math.radians(a[4])), a[3] * math.cos(math.radians(a[4]))
    vbx, vby = b[3] * math.sin(math.radians(b[4])), b[3] * math.cos(math.radians(b[4]))
    vx, vy = vbx - vax, vby - vay
    vv = vx * vx + vy * vy
    tc = min(max(-(rx * vx + ry * vy) / vv, 0.0), horizon_s) if vv > 1e-12 else 0.0
    return math.hypot(rx + vx * tc, ry + vy * tc), tc


def _manoeuvre(a: ScenarioTrack, b: ScenarioTrack) -> dict[str, Any] | None:
    """unsafe_manoeuvre_at_sea: the first tick with a CPA under 370 m where one ship turned by 15 degrees
    or more since a tick within the last 300 s whose CPA was 740 m or more, the other a warship."""
    start, end = _overlap(a, b)
    t = math.ceil(start / TICK_S) * TICK_S
    history: list[tuple[float, float, float, float]] = []  # (t, cpa, course a, course b)
    while t <= end:
        sa, sb = a.state(t), b.state(t)
        cpa, tcpa = _planar_cpa(sa, sb)
        if cpa < 370.0:
            for t0, cpa0, ca0, cb0 in reversed(history):
                if t - t0 > 300.0:
                    break
                if cpa0 < 740.0:
                    continue
                turned_a, turned_b = _angle(sa[4], ca0) >= 15.0, _angle(sb[4], cb0) >= 15.0
                if not (turned_a or turned_b):
                    continue
                m, w, turn = (a, b, sa[4] - ca0) if turned_a else (b, a, sb[4] - cb0)
                if not _military(w):
                    return None
                return {"kind": "unsafe_manoeuvre_at_sea", "subjects": [m.track_id, w.track_id],
                        "open_after_t0_s": t, "cpa_after_m": round(cpa, 1), "tcpa_s": round(tcpa, 1),
                        "cpa_before_m": round(cpa0, 1), "turn_deg": round((turn + 180.0) % 360.0 - 180.0, 1)}
        history.append((t, cpa, sa[4], sb[4]))
        t += TICK_S
    return None


def _keeping_station(a: ScenarioTrack, b: ScenarioTrack) -> dict[str, Any] | None:
    """shadowing or intercept of an opposing pair of one domain (docs/engine.md), at the ticks."""
    if a.domain != b.domain:
        return None
    air = a.domain == "air"
    lo, hi, hold, vmin = (1_000.0, 30_000.0, 300.0, 40.0) if air else (2_000.0, 20_000.0, 1_200.0, 1.0)
    roles = {_ROLES.get(a.type_code), _ROLES.get(b.type_code)}
    role_pair = air and "fighter" in roles and bool(roles & {"bomber", "isr", "maritime_patrol"})
    start, end = _overlap(a, b)
    t = math.ceil(start / TICK_S) * TICK_S
    since = opened = lost = None
    far = False
    kind = None
    while t <= end:
        sa, sb = a.state(t), b.state(t)
        d = _dist(a, b, t)
        dc, dv, fast = _angle(sa[4], sb[4]), abs(sa[3] - sb[3]), max(sa[3], sb[3])
        same = min(sa[3], sb[3]) >= vmin
        match = same and dc <= 30.0 and dv <= 0.25 * fast
        loose = same and dc <= 30.0 * _MARGIN and dv <= 0.25 * _MARGIN * fast
        far = far or d > 2_000.0 * _MARGIN
        joined = match and role_pair and d <= 2_000.0
        if opened is None:
            if match and lo <= d <= hi or (joined and far):
                since = since if since is not None else t
            elif not (loose and d <= hi * _MARGIN):
                since = None
            if joined and far:
                opened, kind = t, "intercept"
            elif since is not None and match and lo <= d <= hi and t - since >= hold and not role_pair:
                opened, kind = t, "shadowing"
        else:
            if loose and d <= hi * _MARGIN:
                lost = None
            else:
                lost = t if lost is None else lost
                if t - lost >= 120.0:
                    return {"kind": kind, "subjects": sorted([a.track_id, b.track_id]), "since_after_t0_s": since,
                            "open_after_t0_s": opened, "parted_after_t0_s": t}
        t += TICK_S
    if opened is None:
        return None
    return {"kind": kind, "subjects": sorted([a.track_id, b.track_id]), "since_after_t0_s": since,
            "open_after_t0_s": opened, "parted_after_t0_s": None}


def _sortie(bomber: ScenarioTrack, targets: Sequence[tuple[str, Any]], others: Sequence[ScenarioTrack]
            ) -> dict[str, Any] | None:
    """bomber_sortie: within 200 km of a border line or another state's territorial airspace; the closest
    approach to each state's airspace (at the ticks), the escorts and interceptors seen."""
    from proximity.geometry import distance_to_geometry_m

    start, end = bomber.waypoints[0].t_s, min(bomber.waypoints[-1].t_s, DURATION_S)
    t = math.ceil(start / TICK_S) * TICK_S
    opened = None
    closest: dict[str, float] = {}
    escorts: set[str] = set()
    interceptors: set[str] = set()
    while t <= end:
        lat, lon, _, v, c = bomber.state(t)
        dists = [(name, distance_to_geometry_m(lon, lat, geom)) for name, geom in targets]
        near = min(d for _, d in dists)
        if opened is None and near <= 200_000.0:
            opened = t
        if opened is not None:
            for name, d in dists:
                if name and d <= 220_000.0:
                    closest[name] = min(d, closest.get(name, math.inf))
            for o in others:
                if not o.active(t) or o.domain != "air" or o is bomber:
                    continue
                so = o.state(t)
                if _dist(bomber, o, t) <= 10_000.0 and _angle(so[4], c) <= 30.0 and \
                        abs(so[3] - v) <= 0.25 * max(so[3], v):
                    (escorts if o.side == bomber.side else interceptors).add(o.track_id)
        t += TICK_S
    if opened is None:
        return None
    return {"kind": "bomber_sortie", "subjects": [bomber.track_id], "open_after_t0_s": opened,
            "escorts": sorted(escorts), "interceptors": sorted(interceptors),
            "closest_territorial_m": {k.lower(): round(v, 1) for k, v in sorted(closest.items()) if k}}


def _expected_notices(borders: Sequence[Any], zones: Sequence[Any]) -> dict[str, Any]:
    """Notified or not: each exercise area within 50 km of a border (``exercise_near_border``, its
    edge's distance: the centre's less the radius) with the status its notice gives it (notified 60
    days ahead with 12,000 troops; seen with no notice); the observation flight's aircraft inside its
    corridor at every report (its distance to the route, GeographicLib), the zones its path enters."""
    from shapely.geometry import LineString, Point

    from proximity.geometry import distance_to_geometry_m

    lines = list(borders)
    exercises = []
    for fid, (lon, lat, radius, notification, _declared, _days) in EXERCISES.items():
        edge_m = min(distance_to_geometry_m(lon, lat, line) for line in lines) - radius
        if edge_m <= 50_000.0:
            exercises.append({"zone_id": f"exercise:{fid}", "distance_to_border_m": round(edge_m, 1),
                              "status": "notified" if notification == "notified" else "unnotified"})
    a, b = _OBSERVER.waypoints
    route = LineString([(a.lon_deg, a.lat_deg), (b.lon_deg, b.lat_deg)])
    farthest = 0.0
    entered: set[str] = set()
    for t in _times(_OBSERVER, ADSB_INTERVAL_S):
        lat, lon, _alt, _speed, _course = _OBSERVER.state(t)
        farthest = max(farthest, distance_to_geometry_m(lon, lat, route))
        entered |= {z.zone_id for z in zones if "russia" in z.sides and "air" in z.domains
                    and z.geometry.contains(Point(lon, lat))}
    return {
        "exercise_near_border": exercises,
        "flight": {"track_id": _OBSERVER.track_id, "notice_id": f"flight:{FLIGHT_ID}", "corridor_m": FLIGHT_CORRIDOR_M,
                   "farthest_from_route_m": round(farthest, 1), "zones_entered": sorted(entered)},
    }


def expected_incidents(borders: Sequence[Any], zones: Sequence[Any]) -> dict[str, Any]:
    """The incidents of the issue-13 kinds the scenario must raise (``borders``: the border lines given
    to the engine, ``config.zones.load_borders``; ``zones``: the default catalogue)."""
    incidents: list[dict[str, Any]] = []
    opposing = [(a, b) for i, a in enumerate(TRACKS) for b in TRACKS[i + 1:]
                if {a.side, b.side} == {"nato", "russia"}]
    for a, b in opposing:
        civil = not _military(a) or not _military(b)
        if a.domain == b.domain and not (civil and not (_military(a) or _military(b))):
            # shadowing asks for one military or state track and neither civil
            if not civil:
                found = _keeping_station(a, b)
                if found:
                    incidents.append(found)
        if {a.domain, b.domain} == {"air", "sea"}:
            air, ship = (a, b) if a.domain == "air" else (b, a)
            if _military(air) and _military(ship):
                found = _air_passes(air, ship)
                if found:
                    incidents.append(found)
        if a.domain == b.domain == "sea" and (_military(a) or _military(b)):
            found = _manoeuvre(a, b)
            if found:
                incidents.append(found)
    lines = [("", line) for line in borders]
    for bomber in TRACKS:
        if _ROLES.get(bomber.type_code) != "bomber":
            continue
        airspace = [(str((z.properties.get("countries") or [z.zone_id])[0]), z.geometry) for z in zones
                    if z.kind == "territorial" and "air" in z.domains and bomber.side in z.sides]
        found = _sortie(bomber, [*lines, *airspace], TRACKS)
        if found:
            incidents.append(found)
    return {
        "t0": datetime.fromtimestamp(T0_S, tz=timezone.utc).isoformat(),
        "notices": _expected_notices(borders, zones),
        "t0_s": T0_S,
        "report_interval_s": {"ais": AIS_INTERVAL_S, "aircraft_json": ADSB_INTERVAL_S},
        "kinds": ["shadowing", "intercept", "bomber_sortie", "unsafe_air_intercept_of_ship", "unsafe_manoeuvre_at_sea"],
        "incidents": incidents,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("demo-incsea"))
    parser.add_argument("--expected", action="store_true", help="recompute expected_incsea.json beside this file")
    args = parser.parse_args(argv)
    if args.expected:
        from config.settings import ZoneSettings
        from config.zones import load_borders, load_catalogue

        expected = expected_incidents([line for _, line in load_borders()], load_catalogue(ZoneSettings()))
        path = Path(__file__).with_name("expected_incsea.json")
        path.write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
        print(path)
        return 0
    for kind, path in write_scenario(args.out_dir).items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
