"""The demo scenario: forty minutes over the Gulf of Finland and the Estonia-Russia border.

Deterministic: the same code writes the same bytes. The tracks are written in the
real feed formats (AIS NMEA 0183 with NMEA 4.0 tag blocks, encoded with pyais;
SBS-1 BaseStation lines for aircraft), so the demo exercises the same decoders
as a live feed. What happens, and when (data time, seconds after ``T0``):

* an Il-20 (Russian Air Force) flies west along the Gulf of Finland; a German
  Eurofighter of the Baltic Air Policing mission scrambles from Amari, joins it
  and shadows it 1.5 km to its left, 150 m above, then breaks away: one
  ``close_approach`` (air-air, lateral and vertical minima);
* a Russian Mi-8 helicopter flies west from Pskov to within a few kilometres of
  the Estonian border and turns back: one ``zone_entry`` into the 10 km border
  buffer;
* a Russian patrol ship heading west and a Finnish patrol ship heading east pass
  each other mid-gulf, 780 m apart: one ``close_approach`` (sea-sea);
* a Tallinn-Helsinki ferry crosses the gulf and raises nothing;
* Russia holds a snap exercise (a 15 km circle near Pskov, from T0+600 s to
  T0+2000 s), notified in the exercise feed: one ``exercise_near_border``;
* three corrupted feed lines go to the dead-letter record.

The expected incidents, computed from the scenario geometry (geodesic, not from
the engine), are written beside this file in ``expected.json`` by
``python -m closewatch.scenario.baltic --expected`` and explained in
``README.md`` there.
"""

from __future__ import annotations

import argparse
import json
import math
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import reduce
from pathlib import Path
from typing import Callable, Iterator, Sequence

from pyais import encode_dict
from pyproj import Geod

# What pyais.encode_dict takes.
AisFields = dict[str, str | int | float | bytes | bool]

__all__ = ["T0_S", "DURATION_S", "Waypoint", "ScenarioTrack", "TRACKS", "write_scenario", "expected_incidents"]

_GEOD = Geod(ellps="WGS84")

T0_S = datetime(2026, 3, 10, 10, 0, 0, tzinfo=timezone.utc).timestamp()
DURATION_S = 2400
AIS_INTERVAL_S = 10
SBS_INTERVAL_S = 5
STATIC_INTERVAL_S = 360  # AIS type 5 every 6 minutes (ITU-R M.1371-5, Table 1)
MPS_PER_KNOT = 1852.0 / 3600.0
FT_PER_M = 1.0 / 0.3048


@dataclass(frozen=True, slots=True)
class Waypoint:
    t_s: float  # seconds after T0
    lat_deg: float
    lon_deg: float
    alt_m: float | None = None


@dataclass(frozen=True)
class ScenarioTrack:
    """A track moving along geodesics between timed waypoints."""

    track_id: str
    side: str
    domain: str
    callsign: str
    name: str
    type_code: str
    waypoints: tuple[Waypoint, ...]
    ship_type: int | None = None  # AIS ship and cargo type (ITU-R M.1371-5, Table 53)

    def active(self, t_s: float) -> bool:
        return self.waypoints[0].t_s <= t_s <= self.waypoints[-1].t_s

    def _leg(self, t_s: float) -> tuple[Waypoint, Waypoint]:
        """The leg flown at ``t_s``: at a waypoint, the one that starts there (the last at the end)."""
        wps = self.waypoints
        if not wps[0].t_s <= t_s <= wps[-1].t_s:
            raise ValueError(f"{self.track_id}: t={t_s} outside {wps[0].t_s}..{wps[-1].t_s}")
        for a, b in zip(wps, wps[1:]):
            if a.t_s <= t_s < b.t_s:
                return a, b
        return wps[-2], wps[-1]

    def state(self, t_s: float) -> tuple[float, float, float | None, float, float]:
        """(lat, lon, alt_m, speed_mps, course_deg) at ``t_s`` seconds after T0."""
        a, b = self._leg(t_s)
        az, _back, dist_m = _GEOD.inv(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)
        frac = (t_s - a.t_s) / (b.t_s - a.t_s)
        lon, lat, _ = _GEOD.fwd(a.lon_deg, a.lat_deg, az, dist_m * frac)
        # Course at this point: the forward azimuth of the rest of the leg (at its end,
        # the direction of arrival: the reverse of the azimuth back to its start).
        if frac < 1.0:
            course, _, _ = _GEOD.inv(lon, lat, b.lon_deg, b.lat_deg)
        else:
            towards_start, _, _ = _GEOD.inv(b.lon_deg, b.lat_deg, a.lon_deg, a.lat_deg)
            course = towards_start + 180.0
        alt = None
        if a.alt_m is not None and b.alt_m is not None:
            alt = a.alt_m + (b.alt_m - a.alt_m) * frac
        speed = dist_m / (b.t_s - a.t_s)
        return lat, lon, alt, speed, course % 360.0

    def vertical_rate_mps(self, t_s: float) -> float | None:
        a, b = self._leg(t_s)
        if a.alt_m is None or b.alt_m is None:
            return None
        return (b.alt_m - a.alt_m) / (b.t_s - a.t_s)


def _offset(lat: float, lon: float, az_deg: float, dist_m: float) -> tuple[float, float]:
    lon2, lat2, _ = _GEOD.fwd(lon, lat, az_deg, dist_m)
    return lat2, lon2


def _il20() -> ScenarioTrack:
    # West along the international corridor of the Gulf of Finland, back east at the narrows.
    return ScenarioTrack(
        track_id="icao:154a2c",
        side="russia",
        domain="air",
        callsign="RFF7051",
        name="",
        type_code="IL20",
        waypoints=(
            Waypoint(0, 59.98, 28.40, 8500.0),
            Waypoint(900, 59.93, 25.60, 8500.0),
            Waypoint(1200, 59.86, 24.95, 8500.0),
            Waypoint(1500, 59.92, 25.80, 8500.0),
            Waypoint(2400, 59.97, 28.30, 8500.0),
        ),
    )


def _eurofighter(il20: ScenarioTrack) -> ScenarioTrack:
    # Shadowing: 1.5 km south of the Il-20 (on the Estonian side), 150 m above,
    # from T0+1080 s to T0+1560 s, through its turn at T0+1200 s.
    shadow = []
    for t in (1080, 1140, 1200, 1260, 1320, 1380, 1440, 1500, 1560):
        lat, lon, alt, _speed, _course = il20.state(t)
        slat, slon = _offset(lat, lon, 180.0, 1500.0)
        shadow.append(Waypoint(t, slat, slon, (alt or 0.0) + 150.0))
    return ScenarioTrack(
        track_id="icao:3f6b21",
        side="nato",
        domain="air",
        callsign="GAF501",
        name="",
        type_code="EUFI",
        waypoints=(
            Waypoint(480, 59.26, 24.21, 300.0),  # Amari air base, climbing out
            Waypoint(780, 59.55, 24.90, 7000.0),
            Waypoint(960, 59.80, 25.15, 8650.0),
            *shadow,
            Waypoint(1800, 59.55, 25.10, 6000.0),
            Waypoint(2100, 59.27, 24.25, 1500.0),
        ),
    )


def _mi8() -> ScenarioTrack:
    # West from Pskov towards the border near Pechory, then back.
    return ScenarioTrack(
        track_id="icao:1515b7",
        side="russia",
        domain="air",
        callsign="RSD214",
        name="",
        type_code="MI8",
        waypoints=(
            Waypoint(0, 57.80, 28.25, 300.0),
            Waypoint(600, 57.80, 27.78, 300.0),
            Waypoint(900, 57.80, 27.72, 300.0),
            Waypoint(1500, 57.81, 28.25, 300.0),
        ),
    )


def _ships() -> list[ScenarioTrack]:
    return [
        ScenarioTrack(
            track_id="ais:273456780",
            side="russia",
            domain="sea",
            callsign="UBRX7",
            name="RUS PATROL 512",
            type_code="35",
            ship_type=35,
            waypoints=(Waypoint(0, 59.950, 26.45), Waypoint(2400, 59.950, 26.14)),
        ),
        ScenarioTrack(
            track_id="ais:230987650",
            side="nato",
            domain="sea",
            callsign="OJBZ",
            name="FIN PATROL 84",
            type_code="35",
            ship_type=35,
            waypoints=(Waypoint(0, 59.943, 26.02), Waypoint(2400, 59.943, 26.29)),
        ),
        ScenarioTrack(
            track_id="ais:276543210",
            side="nato",
            domain="sea",
            callsign="ESKB",
            name="BALTIC FERRY",
            type_code="60",
            ship_type=60,
            waypoints=(Waypoint(0, 59.47, 24.78), Waypoint(2400, 59.69, 24.85)),
        ),
    ]


def _all_tracks() -> tuple[ScenarioTrack, ...]:
    il20 = _il20()
    return (il20, _eurofighter(il20), _mi8(), *_ships())


TRACKS: tuple[ScenarioTrack, ...] = _all_tracks()


def _report_times(track: ScenarioTrack, interval_s: int, duration_s: float | None = None) -> Iterator[int]:
    first = math.ceil(track.waypoints[0].t_s / interval_s) * interval_s
    t = first
    while t <= min(track.waypoints[-1].t_s, DURATION_S if duration_s is None else duration_s):
        yield t
        t += interval_s


def _nmea_checksum(body: str) -> str:
    return f"{reduce(lambda acc, ch: acc ^ ord(ch), body, 0):02X}"


def _tag_block(t_s: float, station: str = "closewatch-demo") -> str:
    """NMEA 4.0 tag block: ``s:`` source station, ``c:`` UNIX time of reception."""
    body = f"s:{station},c:{int(t_s)}"
    return f"\\{body}*{_nmea_checksum(body)}\\"


def ais_lines(track: ScenarioTrack, seq_id: int, t0_s: float | None = None, duration_s: float | None = None,
              station: str = "closewatch-demo") -> Iterator[tuple[float, str]]:
    """AIS type 5 (static) and type 1 (position) reports (ITU-R M.1371-5, 3.3.2 and 3.3.1) of a scenario
    track starting at ``t0_s`` (UNIX time; None: this module's ``T0_S`` when called, which tests shift),
    each behind an NMEA 4.0 tag block naming ``station``."""
    mmsi = int(track.track_id.split(":", 1)[1])
    start_s = T0_S if t0_s is None else t0_s
    for t in _report_times(track, AIS_INTERVAL_S, duration_s):
        t_abs = start_s + t
        if t % STATIC_INTERVAL_S == 0:
            static: AisFields = {
                "msg_type": 5,
                "mmsi": mmsi,
                "callsign": track.callsign,
                "shipname": track.name,
                "ship_type": track.ship_type or 0,  # 0: not available (ITU-R M.1371-5, Table 53)
                "to_bow": 60,
                "to_stern": 40,
                "to_port": 7,
                "to_starboard": 7,
                "destination": "PATROL",
            }
            for sentence in encode_dict(static, talker_id="AI", sentence_type="VDM", radio_channel="A", seq_id=seq_id):
                yield t_abs, _tag_block(t_abs, station) + sentence
        lat, lon, _alt, speed_mps, course = track.state(t)
        position: AisFields = {
            "msg_type": 1,
            "mmsi": mmsi,
            "status": 0,
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "speed": round(speed_mps / MPS_PER_KNOT, 1),
            "course": round(course, 1),
            "heading": int(round(course)) % 360,
            "second": int(t_abs) % 60,
            "accuracy": True,
        }
        for sentence in encode_dict(position, talker_id="AI", sentence_type="VDM", radio_channel="B"):
            yield t_abs, _tag_block(t_abs, station) + sentence


def _sbs_time(t_abs: float) -> tuple[str, str]:
    dt = datetime.fromtimestamp(t_abs, tz=timezone.utc)
    return dt.strftime("%Y/%m/%d"), dt.strftime("%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


def _sbs_lines(track: ScenarioTrack) -> Iterator[tuple[float, str]]:
    """SBS-1 BaseStation ``MSG`` lines: 1 identity, 3 airborne position, 4 airborne velocity."""
    hexid = track.track_id.split(":", 1)[1].upper()
    for i, t in enumerate(_report_times(track, SBS_INTERVAL_S)):
        t_abs = T0_S + t
        d, tm = _sbs_time(t_abs)
        lat, lon, alt_m, speed_mps, course = track.state(t)
        alt_ft = int(round((alt_m or 0.0) * FT_PER_M))
        vrate_fpm = int(round((track.vertical_rate_mps(t) or 0.0) * FT_PER_M * 60.0))
        head = f"1,1,{hexid},1,{d},{tm},{d},{tm}"
        if i % 6 == 0:
            yield t_abs, f"MSG,1,{head},{track.callsign},,,,,,,,,,,0"
        yield t_abs, f"MSG,3,{head},,{alt_ft},,,{lat:.5f},{lon:.5f},,,0,0,0,0"
        yield t_abs, f"MSG,4,{head},,,{speed_mps / MPS_PER_KNOT:.1f},{course:.1f},,,{vrate_fpm},,,,,0"


def _corrupt_ais_lines() -> tuple[str, ...]:
    """Deliberately broken AIS lines, each with the fault a reader must report."""
    t_abs = T0_S + 300
    position: AisFields = {"msg_type": 1, "mmsi": 273456780, "lat": 59.95, "lon": 26.4, "speed": 14.0, "course": 270.0}
    good = encode_dict(position, talker_id="AI", sentence_type="VDM", radio_channel="B")[0]
    body, checksum = good.rsplit("*", 1)
    bad_checksum = f"{body}*{(int(checksum, 16) ^ 0x11):02X}"
    static: AisFields = {"msg_type": 5, "mmsi": 273456780, "shipname": "RUS PATROL 512", "ship_type": 35}
    first_of_two = encode_dict(static, talker_id="AI", sentence_type="VDM", radio_channel="A", seq_id=7)[0]
    return (
        _tag_block(t_abs) + bad_checksum,  # NMEA checksum does not match
        _tag_block(t_abs + 300) + first_of_two,  # the second sentence never comes
    )


CORRUPT_AIS = _corrupt_ais_lines()

# A snap exercise near Pskov, as the exercise feed notifies it (docs/feeds.md, exercise-geojson).
EXERCISE_ID = "pskov-snap-1"
EXERCISE_CENTRE = (28.40, 57.85)  # lon, lat
EXERCISE_RADIUS_M = 15_000.0
EXERCISE_WINDOW_S = (600, 2000)


def _exercise_feature() -> dict[str, object]:
    start, end = (datetime.fromtimestamp(T0_S + t, tz=timezone.utc).isoformat() for t in EXERCISE_WINDOW_S)
    return {
        "type": "Feature",
        "id": EXERCISE_ID,
        "geometry": {"type": "Point", "coordinates": list(EXERCISE_CENTRE)},
        "properties": {
            "name": "Airborne snap exercise, Pskov",
            "start": start,
            "end": end,
            "radius_m": EXERCISE_RADIUS_M,
            "country": "RU",
            "side": "russia",
            "scale": {"troops": 3500, "aircraft": 12, "ships": 0},
            "notification": "snap",
        },
    }
# A position line whose latitude is not a number.
CORRUPT_SBS = ("MSG,3,1,1,154A2C,1,2026/03/10,10:05:00.000,2026/03/10,10:05:00.000,,8500,,,not-a-lat,28.1,,,0,0,0,0",)


def write_scenario(out_dir: Path) -> dict[str, Path]:
    """Write the feeds and a ready configuration into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ais: list[tuple[float, str]] = []
    sbs: list[tuple[float, str]] = []
    for index, track in enumerate(TRACKS):
        if track.domain == "sea":
            ais.extend(ais_lines(track, seq_id=index % 10))
        else:
            sbs.extend(_sbs_lines(track))
    # A stable sort by time keeps each track's lines (and multi-sentence parts) in order.
    ais.sort(key=lambda item: item[0])
    sbs.sort(key=lambda item: item[0])
    ais_text = [line for _, line in ais]
    sbs_text = [line for _, line in sbs]
    ais_text.insert(len(ais_text) // 4, CORRUPT_AIS[0])
    ais_text.insert(len(ais_text) // 2, CORRUPT_AIS[1])
    sbs_text.insert(len(sbs_text) // 3, CORRUPT_SBS[0])
    paths = {
        "ais": out_dir / "baltic-ais.nmea",
        "sbs": out_dir / "baltic-sbs1.txt",
        "exercises": out_dir / "baltic-exercises.geojson",
        "config": out_dir / "closewatch.toml",
    }
    exercises = {"type": "FeatureCollection", "features": [_exercise_feature()]}
    paths["exercises"].write_text(json.dumps(exercises, indent=1) + "\n", encoding="utf-8")
    paths["ais"].write_text("\r\n".join(ais_text) + "\r\n", encoding="ascii")
    paths["sbs"].write_text("\r\n".join(sbs_text) + "\r\n", encoding="ascii")
    paths["config"].write_text(_demo_config(out_dir), encoding="utf-8")
    return paths


def _demo_config(out_dir: Path) -> str:
    return f"""\
# closewatch demo configuration, written by closewatch.scenario.baltic.
[[feeds]]
name = "baltic-ais"
format = "ais-nmea"
transport = "file"
path = "{out_dir / 'baltic-ais.nmea'}"

[[feeds]]
name = "baltic-adsb"
format = "sbs1"
transport = "file"
path = "{out_dir / 'baltic-sbs1.txt'}"

[[feeds]]
name = "exercise-notices"
format = "exercise-geojson"
transport = "file"
path = "{out_dir / 'baltic-exercises.geojson'}"

""" + outputs_config(out_dir)


def outputs_config(out_dir: Path) -> str:
    """The ``[sinks]``, ``[map]`` and ``[archive]`` of a demo configuration: every output in ``out_dir``."""
    return f"""\
[sinks]
events_jsonl = "{out_dir / 'events.jsonl'}"
deadletter_jsonl = "{out_dir / 'deadletter.jsonl'}"
tracks_jsonl = "{out_dir / 'tracks.jsonl'}"

[map]
output = "{out_dir / 'map.html'}"

[archive]
path = "{out_dir / 'archive'}"
"""


def _pair_distance_m(a: ScenarioTrack, b: ScenarioTrack, t: float) -> tuple[float, float | None]:
    la, lo, alt_a, _, _ = a.state(t)
    lb, lob, alt_b, _, _ = b.state(t)
    _, _, d = _GEOD.inv(lo, la, lob, lb)
    vsep = abs(alt_a - alt_b) if alt_a is not None and alt_b is not None else None
    return d, vsep


def _close_approach(
    a: ScenarioTrack, b: ScenarioTrack, interval_s: int, lateral_m: float, vertical_m: float | None
) -> dict[str, object]:
    """First report time below the minima, the minimum distance, the first time clear again."""
    start = max(a.waypoints[0].t_s, b.waypoints[0].t_s)
    end = min(a.waypoints[-1].t_s, b.waypoints[-1].t_s, DURATION_S)
    open_t = None
    clear_t = None
    min_d = math.inf
    t = math.ceil(start / interval_s) * interval_s
    while t <= end:
        d, vsep = _pair_distance_m(a, b, t)
        close = d < lateral_m and (vertical_m is None or vsep is None or vsep < vertical_m)
        if close:
            min_d = min(min_d, d)
            if open_t is None:
                open_t = t
            clear_t = None
        elif open_t is not None and clear_t is None:
            clear_t = t
        t += interval_s
    return {
        "kind": "close_approach",
        "subjects": sorted([a.track_id, b.track_id]),
        "open_after_t0_s": open_t,
        "min_distance_m": round(min_d, 1),
        "separated_after_t0_s": clear_t,
    }


def _shadowing(a: ScenarioTrack, b: ScenarioTrack, interval_s: int, band_m: tuple[float, float], hold_s: float,
               part_s: float, course_deg: float = 30.0, speed_frac: float = 0.25, margin: float = 0.1,
               min_speed_mps: float = 40.0) -> dict[str, object] | None:
    """A shadowing from the scenario's kinematics: the band and a matching course and speed held since
    ``since`` for ``hold_s`` (opens), then lost (with the margin) for ``part_s`` (parted)."""

    def judge(t: float, m: float) -> tuple[float, bool]:
        la, lo, _, va, ca = a.state(t)
        lb, lob, _, vb, cb = b.state(t)
        _, _, d = _GEOD.inv(lo, la, lob, lb)
        dc = abs((ca - cb + 180.0) % 360.0 - 180.0)
        ok = min(va, vb) >= min_speed_mps and dc <= course_deg * m and abs(va - vb) <= speed_frac * m * max(va, vb)
        return d, ok

    start = max(a.waypoints[0].t_s, b.waypoints[0].t_s)
    end = min(a.waypoints[-1].t_s, b.waypoints[-1].t_s, DURATION_S)
    t = math.ceil(start / interval_s) * interval_s
    since = open_t = lost = parted = None
    while t <= end:
        d, ok = judge(t, 1.0)
        if open_t is None:
            in_band = ok and band_m[0] <= d <= band_m[1]
            since = (since if since is not None else t) if in_band else None
            if since is not None and t - since >= hold_s:
                open_t = t
        else:
            d, ok = judge(t, 1.0 + margin)
            if ok and d <= band_m[1] * (1.0 + margin):
                lost = None
            else:
                lost = t if lost is None else lost
                if t - lost >= part_s:
                    parted = t
                    break
        t += interval_s
    if open_t is None:
        return None
    return {"kind": "shadowing", "subjects": sorted([a.track_id, b.track_id]), "since_after_t0_s": since,
            "open_after_t0_s": open_t, "parted_after_t0_s": parted}


def _enu_m(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """East/north metres of (lat, lon) from (lat0, lon0), from the geodesic azimuth and distance."""
    az, _, d = _GEOD.inv(lon0, lat0, lon, lat)
    return d * math.sin(math.radians(az)), d * math.cos(math.radians(az))


def _velocity(speed_mps: float, course_deg: float) -> tuple[float, float]:
    return speed_mps * math.sin(math.radians(course_deg)), speed_mps * math.cos(math.radians(course_deg))


def _prediction_times(track_id: str, start_s: float, end_s: float, interval_s: float, slices: int) -> Iterator[float]:
    """Times after T0 from ``start_s`` to ``end_s`` at which the engine predicts ``track_id``: the
    middle of the slice its id falls into (CRC-32 modulo ``slices``) of every ``interval_s``
    (``ProximitySettings.predict_slices``)."""
    slice_s = interval_s / slices
    j = math.ceil((T0_S + start_s) / slice_s - 0.5)  # the first slice from start_s on
    j += (zlib.crc32(track_id.encode()) - j) % slices
    while (t := (j + 0.5) * slice_s - T0_S) <= end_s:
        yield t
        j += slices


def _predicted_close_approach(
    a: ScenarioTrack,
    b: ScenarioTrack,
    lateral_m: float,
    vertical_m: float | None,
    open_t: int | None,
    tick_s: int,
    slices: int,
    horizon_s: float,
) -> dict[str, object] | None:
    """First prediction before the close approach with CPA under the minima within the horizon
    (a pair is predicted in its NATO track's slices).

    Straight-line motion at the tracks' current course, speed and vertical rate, in a
    local east/north plane centred on the first track: an independent check of the
    engine's CPA.
    """
    start = max(a.waypoints[0].t_s, b.waypoints[0].t_s)
    end = min(a.waypoints[-1].t_s, b.waypoints[-1].t_s)
    nato = a if a.side == "nato" else b
    for t in _prediction_times(nato.track_id, start, end, tick_s, slices):
        if open_t is not None and t >= open_t:
            break
        lat_a, lon_a, _, v_a, c_a = a.state(t)
        lat_b, lon_b, _, v_b, c_b = b.state(t)
        rx, ry = _enu_m(lat_a, lon_a, lat_b, lon_b)
        (vax, vay), (vbx, vby) = _velocity(v_a, c_a), _velocity(v_b, c_b)
        vx, vy = vbx - vax, vby - vay
        tcpa = -(rx * vx + ry * vy) / (vx * vx + vy * vy) if vx or vy else 0.0
        cpa = math.hypot(rx + vx * tcpa, ry + vy * tcpa)
        vertical_ok = True
        if vertical_m is not None:
            alt_a, alt_b = a.state(t)[2], b.state(t)[2]
            if alt_a is not None and alt_b is not None:
                rate = (b.vertical_rate_mps(t) or 0.0) - (a.vertical_rate_mps(t) or 0.0)
                vertical_ok = abs(alt_b - alt_a + rate * tcpa) < vertical_m
        if 0.0 < tcpa <= horizon_s and cpa < lateral_m and vertical_ok:
            return {
                "kind": "predicted_close_approach",
                "subjects": sorted([a.track_id, b.track_id]),
                "open_after_t0_s": t,
                "cpa_m": round(cpa, 1),
                "tcpa_s": round(tcpa, 1),
            }
    return None


def _predicted_zone_entries(
    track: ScenarioTrack, zones: Sequence[tuple[str, object]], tick_s: int, slices: int, horizon_s: float,
    step_s: float = 10.0,
) -> list[dict[str, object]]:
    """Per zone, the first prediction at which dead reckoning enters it within the horizon.

    ``zones`` are (zone_id, shapely area) pairs that concern this track. The track
    is moved along the geodesic of its current course at its current speed.
    """
    import shapely

    out: list[dict[str, object]] = []
    seen: set[str] = set()
    end = min(track.waypoints[-1].t_s, DURATION_S)
    for t in _prediction_times(track.track_id, track.waypoints[0].t_s, end, tick_s, slices):
        lat, lon, _, speed, course = track.state(t)
        inside_now = {zid for zid, area in zones if shapely.contains_xy(area, lon, lat)}
        seen |= inside_now
        for zid, area in zones:
            if zid in seen:
                continue
            dt = step_s
            while dt <= horizon_s:
                lon2, lat2, _ = _GEOD.fwd(lon, lat, course, speed * dt)
                if shapely.contains_xy(area, lon2, lat2):
                    out.append({
                        "kind": "predicted_zone_entry",
                        "subjects": [track.track_id],
                        "zone_id": zid,
                        "open_after_t0_s": t,
                        "predicted_entry_after_t0_s": round(t + dt),
                    })
                    seen.add(zid)
                    break
                dt += step_s
    return out


def expected_incidents(
    distance_to_border_m: Callable[[float, float], float],
    buffer_m: float,
    zones: Sequence[object] = (),
    *,
    predict_tick_s: int = 30,
    predict_slices: int = 30,
    horizon_s: float = 900.0,
) -> dict[str, object]:
    """The incidents the demo must raise, from the scenario geometry alone.

    ``distance_to_border_m(lon, lat)`` is the geodesic distance to the border line;
    ``zones`` the default catalogue (``config.records.Zone``), for predicted entries.
    Thresholds are the documented defaults (config.settings.ThresholdSettings).
    """
    by_id = {t.track_id: t for t in TRACKS}
    il20, eufi = by_id["icao:154a2c"], by_id["icao:3f6b21"]
    rus, fin = by_id["ais:273456780"], by_id["ais:230987650"]
    air = _close_approach(il20, eufi, SBS_INTERVAL_S, 9_260.0, 305.0)
    sea = _close_approach(rus, fin, AIS_INTERVAL_S, 1_852.0, None)
    # The Eurofighter joins the Il-20 and keeps station on it: a shadowing (SBS-1 carries no aircraft
    # type, so the engine cannot know a fighter and an ISR aircraft: no intercept). The defaults of
    # config.settings.ShadowingSettings: 1-30 km, 5 minutes, 30 degrees, 25 %, 120 s to part.
    shadow = _shadowing(eufi, il20, SBS_INTERVAL_S, (1_000.0, 30_000.0), 300.0, 120.0)
    mi8 = by_id["icao:1515b7"]
    entry_t = exit_t = None
    min_border_m = math.inf
    for t in _report_times(mi8, SBS_INTERVAL_S):
        lat, lon, *_ = mi8.state(t)
        d = distance_to_border_m(lon, lat)
        min_border_m = min(min_border_m, d)
        if d <= buffer_m and entry_t is None:
            entry_t = t
        if d > buffer_m and entry_t is not None and exit_t is None:
            exit_t = t
    zone = {
        "kind": "zone_entry",
        "subjects": [mi8.track_id],
        "zone_id": "border:RU-EE:10km",
        "buffer_m": buffer_m,
        "open_after_t0_s": entry_t,
        "outside_again_after_t0_s": exit_t,
        "min_distance_to_border_m": round(min_border_m, 1),
    }
    predicted: list[dict[str, object]] = []
    for a, b, lateral, vertical, opened in ((il20, eufi, 9_260.0, 305.0, air), (rus, fin, 1_852.0, None, sea)):
        p = _predicted_close_approach(
            a, b, lateral, vertical, opened["open_after_t0_s"],  # type: ignore[arg-type]
            predict_tick_s, predict_slices, horizon_s,
        )
        if p is not None:
            predicted.append(p)
    for track in TRACKS:
        concerned = [
            (z.zone_id, z.geometry)  # type: ignore[attr-defined]
            for z in zones
            if track.side in z.sides and track.domain in z.domains  # type: ignore[attr-defined]
        ]
        predicted.extend(_predicted_zone_entries(track, concerned, predict_tick_s, predict_slices, horizon_s))
    lon_c, lat_c = EXERCISE_CENTRE
    exercise = {
        "kind": "exercise_near_border",
        "subjects": [],
        "zone_id": f"exercise:{EXERCISE_ID}",
        "open_after_t0_s": EXERCISE_WINDOW_S[0],
        "closed_after_t0_s": EXERCISE_WINDOW_S[1],
        "distance_to_border_m": round(distance_to_border_m(lon_c, lat_c) - EXERCISE_RADIUS_M, 1),
    }
    return {
        "t0": datetime.fromtimestamp(T0_S, tz=timezone.utc).isoformat(),
        "t0_s": T0_S,
        "report_interval_s": {"ais": AIS_INTERVAL_S, "sbs1": SBS_INTERVAL_S},
        "predict_interval_s": predict_tick_s,
        "predict_slices": predict_slices,
        "incidents": [air, sea, zone, exercise, *([shadow] if shadow else []), *predicted],
        "dead_letters": {"baltic-ais": len(CORRUPT_AIS), "baltic-adsb": len(CORRUPT_SBS)},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("demo-out"))
    parser.add_argument("--expected", action="store_true", help="recompute expected.json beside this file")
    args = parser.parse_args(argv)
    if args.expected:
        from closewatch.scenario.border import border_distance_function
        from config.settings import ZoneSettings
        from config.zones import load_catalogue

        distance, buffer_m = border_distance_function()
        expected = expected_incidents(distance, buffer_m, load_catalogue(ZoneSettings()))
        path = Path(__file__).with_name("expected.json")
        path.write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
        print(path)
        return 0
    for kind, path in write_scenario(args.out_dir).items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
