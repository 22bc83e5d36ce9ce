"""Benchmark of the proximity engine: throughput, a naive baseline in the same run, memory, scaling.

Run from the repository root (one core is enough; the figures are per core)::

    .venv/bin/python bench/bench_engine.py             # everything (about 4-5 minutes)
    .venv/bin/python bench/bench_engine.py --quick     # 10,000 tracks only, no 100,000 run
    .venv/bin/python bench/bench_engine.py --compare /tmp/base --rounds 8   # against another checkout
    .venv/bin/python bench/bench_engine.py --compare /tmp/base --same-process --tracks 1000
    .venv/bin/python bench/bench_engine.py --without shadowing,intercept --rounds 3   # what kinds cost

``--compare TREE`` runs the same measurement with the engine of another checkout
of the repository (``git worktree add /tmp/base main``) and with this one, in
turn, and prints the ratio of their CPU time per report round by round (the
CPU time of the process, which other work on a shared machine disturbs far less
than the wall clock); only this script's traffic and timing are used for both.
With ``--same-process`` both engines live in one process (the other checkout's
``proximity`` and ``config`` loaded beside this one's) and take the same
two-second chunks of reports in turn: the two share every disturbance, and the
ratio is steadier still.

``CLOSEWATCH_BENCH_ZONE_FILES`` (paths separated by ``:``) adds GeoJSON zone
files to the catalogue, as custom zones of the configuration would.
``CLOSEWATCH_BENCH_MILITARY_SHARE`` (default 0: every track of unknown category and
type) makes that share of the tracks military, their aircraft typed (F16, SU27 35 %
each, IL20, P8 10 %, TU95, B52 5 %): the traffic the shadowing, intercept and
bomber_sortie families work on (drawn last: the rest of the traffic is the same).
``CLOSEWATCH_BENCH_GNSS=1`` gives every aircraft report an ADS-B position quality, degraded
(NIC 0, NACp 0) within 250 km of a jammer near Kaliningrad (20.5 E, 54.7 N) and near Pskov
(28.3 E, 57.8 N): the traffic ``gnss_interference`` works on (the positions are the same).

Traffic: synthetic tracks on straight courses over the region of the zone
catalogue (the NATO/Russia borders from the Barents Sea to Belarus): 40 %
aircraft (120-250 m/s, three quarters at 7,600-12,500 m, the rest at 300-3,000 m,
a report every 2 s), 55 % ships (0-12 m/s, every 6 s), 5 % land (every 10 s);
sides 45 % NATO (western two thirds of the area), 20 % Russia (eastern half),
35 % other or unknown (anywhere). The area grows with the number of tracks so that the density stays
that of 10,000 tracks over the region. Reports are generated before timing
(decoding is not measured); the engine gets them in batches of 4,096, the
pipeline's default, after a warm-up of one full reporting cycle (the initial
zone entries).

Two baselines, measured in the same run on the same reports, after the same
warm-up (every track's position known):

* the competent one (the headline ratio): the best simple design, vectorised and
  indexed, per micro-batch of 4,096 reports as the engine gets them: an STRtree
  of the prepared zones gives each report the zones whose box holds it, and
  ``shapely.contains_xy`` decides those, vectorised per zone; a ``cKDTree`` of
  the opposing side's last positions (unit vectors on the sphere) keeps the
  pairs within the close-approach threshold (9,260 m, with a margin), and only
  those go to ``pyproj.Geod.inv`` (vectorised over the pairs); then the batch's
  positions are stored. It runs on every timed report.
* the naive one: per report, ``shapely.contains_xy`` of the point against each
  zone (prepared geometries), then ``pyproj.Geod.inv`` from the point to every
  live opposing track (vectorised over those tracks), then the track's position
  is stored. It runs on the timed reports in order for at most a minute; the
  number it took is printed (its cost per report is that of those reports, not
  extrapolated to the rest).

Both do less than the engine (no borders, altitudes, predictions, incidents):
they are the floor of what a checker of zones and pairs costs. The ratios are
of CPU time per report (the process's): on a shared machine the wall clock
counts the other processes' work too.

Memory: the resident set (VmRSS) of a fresh process before the engine is built
and after the timed run (reports are generated and fed two seconds of data at a
time, so the process holds little beyond the engine); and tracemalloc's count of
the Python allocations a fresh engine holds after taking one report of every
track (the reports are made before tracing starts; the engine keeps the latest
one of each track, which the RSS figure includes).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from scipy.spatial import cKDTree

from config.records import TrackUpdate, Zone
from config.settings import ProximitySettings, ZoneSettings
from config.zones import available_border_bands_m, load_borders, load_catalogue
from proximity.engine import Engine

T0 = 1_700_000_000.0
BATCH = 4_096
REGION = (19.0, 51.0, 33.0, 71.0)  # lon/lat box around the catalogue's borders
REFERENCE_TRACKS = 10_000
EARTH_RADIUS_M = 6_371_008.8
PAIR_THRESHOLD_M = 9_260.0  # the widest close-approach threshold of the default settings (5 NM)
NAIVE_BUDGET_S = 60.0


EXTRA_ZONE_FILES: tuple[str, ...] = tuple(
    p for p in os.environ.get("CLOSEWATCH_BENCH_ZONE_FILES", "").split(os.pathsep) if p
)


def catalogue() -> tuple[list[Zone], list, str]:
    """The full default catalogue: every border band, and the territorial zones if derived."""
    bands = available_border_bands_m()
    band_names = ", ".join(f"{b / 1000:g} km" for b in bands)
    try:
        zones = load_catalogue(ZoneSettings(border_buffers_m=bands, territorial=True, custom=EXTRA_ZONE_FILES))
        what = f"border bands {band_names} and territorial zones"
    except Exception as e:  # the territorial file is derived separately
        zones = load_catalogue(ZoneSettings(border_buffers_m=bands, territorial=False, custom=EXTRA_ZONE_FILES))
        what = f"border bands {band_names} (territorial zones unavailable: {e})"
    if EXTRA_ZONE_FILES:
        what += f", plus {', '.join(EXTRA_ZONE_FILES)}"
    borders = [line for _name, line in load_borders()]
    return zones, borders, what


@dataclass
class Traffic:
    ids: list[str]
    lon: np.ndarray
    lat: np.ndarray
    course: np.ndarray
    speed: np.ndarray
    alt: np.ndarray
    domain: np.ndarray  # 0 air, 1 sea, 2 land
    side: np.ndarray
    period_s: np.ndarray
    phase_s: np.ndarray
    # who operates each track (a generator of its own, so the traffic is the same with or without)
    category: np.ndarray | None = None
    type_code: list[str | None] | None = None  # None: no type


# CLOSEWATCH_BENCH_MILITARY_SHARE: the share of tracks that are military with a type (default 0: the
# categories below, no type); their aircraft are, in turn, fighters, ISR aircraft and bombers (1 in
# 20), their ships warships.
MILITARY_SHARE = float(os.environ.get("CLOSEWATCH_BENCH_MILITARY_SHARE", "0"))
# CLOSEWATCH_BENCH_GNSS=1: aircraft report a position quality, degraded near two jammers
GNSS = os.environ.get("CLOSEWATCH_BENCH_GNSS", "") == "1"
_JAMMERS = ((20.5, 54.7), (28.3, 57.8))
_JAM_RADIUS_M = 250_000.0


def make_traffic(n: int, seed: int = 1) -> Traffic:
    rng = np.random.default_rng(seed)
    lon0, lat0, lon1, lat1 = REGION
    # constant density: the box grows (around its centre) with the number of tracks
    scale = np.sqrt(n / REFERENCE_TRACKS)
    clon, clat = (lon0 + lon1) / 2, (lat0 + lat1) / 2
    half_lon, half_lat = (lon1 - lon0) / 2 * scale, min((lat1 - lat0) / 2 * scale, 30.0)
    lat = rng.uniform(max(clat - half_lat, -80), min(clat + half_lat, 80), n)
    side = rng.choice(np.array(["nato", "russia", "other", "unknown"]), n, p=[0.45, 0.20, 0.25, 0.10])
    # NATO tracks in the western two thirds, Russian ones in the eastern half: they mix
    # in a band a sixth of the box wide, as they do along the borders
    west = np.where(side == "russia", clon, clon - half_lon)
    east = np.where(side == "nato", clon + half_lon / 3, clon + half_lon)
    lon = (rng.uniform(west, east) + 180.0) % 360.0 - 180.0
    domain = rng.choice(3, n, p=[0.40, 0.55, 0.05])
    speed = np.select([domain == 0, domain == 1], [rng.uniform(120, 250, n), rng.uniform(0, 12, n)], rng.uniform(0, 25, n))
    # three quarters of the aircraft at cruise levels, the rest low
    cruise = rng.random(n) < 0.75
    alt = np.where(domain == 0, np.where(cruise, rng.uniform(7_600, 12_500, n), rng.uniform(300, 3_000, n)), np.nan)
    period = np.select([domain == 0, domain == 1], [2.0, 6.0], 10.0)
    phase = rng.uniform(0, 1, n) * period
    prefix = np.array(["icao", "ais", "ext"])[domain]
    ids = [f"{p}:{k:08x}" for p, k in zip(prefix.tolist(), range(n))]
    crng = np.random.default_rng(seed + 1_000)
    category = crng.choice(np.array(["military", "state", "civil", "unknown"]), n, p=[0.05, 0.02, 0.80, 0.13])
    tr = Traffic(ids, lon, lat, rng.uniform(0, 360, n), speed, alt, domain, side, period, phase, category)
    if MILITARY_SHARE > 0:  # drawn last: the traffic above is the same with or without it
        mil = rng.random(n) < MILITARY_SHARE
        kinds = rng.choice(np.array(["F16", "SU27", "IL20", "P8", "TU95", "B52"]), n, p=[0.35, 0.35, 0.1, 0.1, 0.05, 0.05])
        tr.category = np.where(mil, "military", category)
        tr.type_code = [str(k) if m and d == 0 else None for k, m, d in zip(kinds.tolist(), mil.tolist(), domain.tolist())]
    return tr


def reports(tr: Traffic, t_from_s: float, t_to_s: float) -> list[TrackUpdate]:
    """Every report made in [t_from, t_to), in time order, positions by spherical dead reckoning."""
    out: list[tuple[float, int]] = []
    first = np.ceil((t_from_s - tr.phase_s) / tr.period_s)
    last = np.ceil((t_to_s - tr.phase_s) / tr.period_s)
    counts = np.maximum(last - first, 0).astype(np.int64)
    owner = np.repeat(np.arange(len(tr.ids)), counts)
    starts = np.cumsum(counts) - counts
    k = first[owner] + (np.arange(owner.size) - np.repeat(starts, counts))
    t = tr.phase_s[owner] + k * tr.period_s[owner]
    order = np.lexsort((owner, t))
    owner, t = owner[order], t[order]
    # great-circle dead reckoning on a sphere
    lat, lon, crs = np.radians(tr.lat[owner]), np.radians(tr.lon[owner]), np.radians(tr.course[owner])
    d = tr.speed[owner] * t / EARTH_RADIUS_M
    lat2 = np.arcsin(np.sin(lat) * np.cos(d) + np.cos(lat) * np.sin(d) * np.cos(crs))
    lon2 = lon + np.arctan2(np.sin(crs) * np.sin(d) * np.cos(lat), np.cos(d) - np.sin(lat) * np.sin(lat2))
    lat2 = np.degrees(lat2)
    lon2 = (np.degrees(lon2) + 180.0) % 360.0 - 180.0
    # course at the new position (the great circle turns)
    y = np.sin(lon - np.radians(lon2)) * np.cos(lat)
    x = np.cos(np.radians(lat2)) * np.sin(lat) - np.sin(np.radians(lat2)) * np.cos(lat) * np.cos(lon - np.radians(lon2))
    crs2 = (np.degrees(np.arctan2(y, x)) + 180.0) % 360.0
    domains = ("air", "sea", "land")
    quality: list[Any] = [None] * owner.size
    if GNSS:
        from config.records import position_quality

        good = position_quality(adsb_version=2, nic=8, nac_p=10, sil=3)
        bad = position_quality(adsb_version=2, nic=0, nac_p=0, sil=3)
        jammed = np.zeros(owner.size, bool)
        for jlon, jlat in _JAMMERS:
            p1, p2 = np.radians(jlat), np.radians(lat2)
            a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - jlon) / 2) ** 2
            jammed |= 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a)) < _JAM_RADIUS_M
        air = tr.domain[owner] == 0
        quality = [(bad if j else good) if a else None for a, j in zip(air.tolist(), jammed.tolist())]
    ups = []
    for o, ti, la, lo, c, q in zip(owner.tolist(), t.tolist(), lat2.tolist(), lon2.tolist(), crs2.tolist(), quality):
        dom = domains[tr.domain[o]]
        ups.append(
            TrackUpdate(
                track_id=tr.ids[o],
                source="bench",
                t_s=T0 + ti,
                lat_deg=la,
                lon_deg=lo,
                domain=dom,  # type: ignore[arg-type]
                side=tr.side[o],
                alt_m=None if dom != "air" else float(tr.alt[o]),
                speed_mps=float(tr.speed[o]),
                course_deg=c,
                category="unknown" if tr.category is None else tr.category[o],
                type_code=None if tr.type_code is None else tr.type_code[o],
                quality=q,
            )
        )
    return ups


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def run_engine(
    engine: Engine, tr: Traffic, t_from_s: float, t_to_s: float, chunk_s: float = 2.0
) -> tuple[float, float, int, int]:
    """Feed the reports of [t_from, t_to) made chunk by chunk; time only the engine.

    Returns (engine seconds, engine CPU seconds of the process, events, reports).
    """
    spent = 0.0
    cpu = 0.0
    n_events = 0
    n_reports = 0
    t = t_from_s
    while t < t_to_s:
        ups = reports(tr, t, min(t + chunk_s, t_to_s))
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(ups), BATCH):
            n_events += len(engine.process(ups[i : i + BATCH]))
        spent += time.perf_counter() - t0
        cpu += time.process_time() - c0
        n_reports += len(ups)
        t += chunk_s
    return spent, cpu, n_events, n_reports


class _Positions:
    """The last position of every track, as both baselines keep it."""

    def __init__(self, tr: Traffic, warm: list[TrackUpdate]) -> None:
        self.index = {tid: k for k, tid in enumerate(tr.ids)}
        self.lon = np.full(len(tr.ids), np.nan)
        self.lat = np.full(len(tr.ids), np.nan)
        for u in warm:
            self.store(u)
        known = ~np.isnan(self.lon)
        self.opposing = {
            "nato": np.nonzero((tr.side == "russia") & known)[0],
            "russia": np.nonzero((tr.side == "nato") & known)[0],
        }

    def store(self, u: TrackUpdate) -> None:
        k = self.index[u.track_id]
        self.lon[k], self.lat[k] = u.lon_deg, u.lat_deg


def _unit_vectors(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def naive_baseline(
    zones: list[Zone], tr: Traffic, warm: list[TrackUpdate], timed: list[TrackUpdate], budget_s: float = NAIVE_BUDGET_S
) -> tuple[float, float, int, int, int]:
    """The naive method (see the module docstring) on the timed reports in order, for at most ``budget_s``.

    Returns (seconds per report, CPU seconds per report, reports taken, zone hits, close pairs).
    """
    geod = Geod(ellps="WGS84")
    geoms = [z.geometry for z in zones]
    shapely.prepare(geoms)
    pos = _Positions(tr, warm)
    inside = close = taken = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for u in timed:
        for g in geoms:
            inside += bool(shapely.contains_xy(g, u.lon_deg, u.lat_deg))
        other = pos.opposing.get(u.side)
        if other is not None and other.size:
            _, _, d = geod.inv(
                np.full(other.size, u.lon_deg), np.full(other.size, u.lat_deg), pos.lon[other], pos.lat[other]
            )
            close += int((d < PAIR_THRESHOLD_M).sum())
        pos.store(u)
        taken += 1
        if taken % 64 == 0 and time.perf_counter() - t0 > budget_s:
            break
    return (time.perf_counter() - t0) / taken, (time.process_time() - c0) / taken, taken, inside, close


def competent_baseline(
    zones: list[Zone], tr: Traffic, warm: list[TrackUpdate], timed: list[TrackUpdate]
) -> tuple[float, float, int, int]:
    """The indexed, vectorised method (see the module docstring), per micro-batch of ``BATCH`` reports.

    Returns (seconds per report, CPU seconds per report, zone hits, close pairs).
    """
    geod = Geod(ellps="WGS84")
    geoms = np.array([z.geometry for z in zones], dtype=object)
    shapely.prepare(geoms)
    tree = shapely.STRtree(geoms)
    pos = _Positions(tr, warm)
    # chord of the threshold on the unit sphere, with a margin for the ellipsoid
    radius = 2.0 * np.sin(PAIR_THRESHOLD_M * 1.01 / (2.0 * 6_356_000.0))
    inside = close = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(timed), BATCH):
        batch = timed[i : i + BATCH]
        lon = np.fromiter((u.lon_deg for u in batch), float, len(batch))
        lat = np.fromiter((u.lat_deg for u in batch), float, len(batch))
        side = np.array([u.side for u in batch])
        # zones: the boxes from the tree, then the exact test vectorised per zone
        pt, zk = tree.query(shapely.points(lon, lat))
        if pt.size:
            order = np.argsort(zk, kind="stable")
            pt, zk = pt[order], zk[order]
            cuts = np.flatnonzero(np.diff(zk)) + 1
            for p_idx, z in zip(np.split(pt, cuts), zk[np.r_[0, cuts]]):
                inside += int(shapely.contains_xy(geoms[z], lon[p_idx], lat[p_idx]).sum())
        # pairs: a KD-tree of the opposing side's positions, the geodesic on the candidates only
        for mine, other in pos.opposing.items():
            sel = np.flatnonzero(side == mine)
            if not sel.size or not other.size:
                continue
            kd = cKDTree(_unit_vectors(pos.lon[other], pos.lat[other]))
            hits = kd.query_ball_point(_unit_vectors(lon[sel], lat[sel]), radius)
            counts = np.fromiter((len(h) for h in hits), np.int64, len(hits))
            if counts.sum():
                a = np.repeat(sel, counts)
                b = other[np.concatenate([np.asarray(h, dtype=np.int64) for h in hits if h])]
                _, _, d = geod.inv(lon[a], lat[a], pos.lon[b], pos.lat[b])
                close += int((d < PAIR_THRESHOLD_M).sum())
        for u in batch:
            pos.store(u)
    n = len(timed)
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n, inside, close


def measure(n: int, *, data_s: float, with_baseline: bool, memory: bool) -> dict[str, float | int | str]:
    """One configuration, in this process."""
    zones, borders, what = catalogue()
    tr = make_traffic(n)
    cycle = float(tr.period_s.max())
    out: dict[str, float | int | str] = {
        "tracks": n,
        "zones": len(zones),
        "zone_vertices": int(sum(shapely.get_num_coordinates(z.geometry) for z in zones)),
        "catalogue": what,
        "timed_data_s": data_s,
    }
    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    engine = Engine(ProximitySettings(), zones, borders=borders)
    out["engine_build_s"] = time.perf_counter() - t
    if memory:
        # the engine's own allocations while it takes one report of every track
        first = reports(tr, 0.0, cycle)
        seen: dict[str, TrackUpdate] = {}
        for u in first:
            seen.setdefault(u.track_id, u)
        one_each = sorted(seen.values(), key=lambda u: u.t_s)
        del first, seen
        probe = Engine(ProximitySettings(), zones, borders=borders)
        tracemalloc.start()
        for i in range(0, len(one_each), BATCH):
            probe.process(one_each[i : i + BATCH])
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["traced_engine_mb"] = current / 2**20
        out["traced_peak_mb"] = peak / 2**20
        del probe, one_each
        gc.collect()
    _, _, ev_warm, n_warm = run_engine(engine, tr, 0.0, cycle)
    out["warmup_reports"] = n_warm
    out["warmup_events"] = ev_warm
    dt, cpu, n_events, n_timed = run_engine(engine, tr, cycle, cycle + data_s)
    out["timed_reports"] = n_timed
    out["engine_s"] = dt
    out["engine_reports_per_s"] = n_timed / dt
    out["engine_us_per_report"] = dt / n_timed * 1e6
    out["engine_cpu_us_per_report"] = cpu / n_timed * 1e6
    out["events"] = n_events
    out["live_tracks"] = engine.stats["live_tracks"]
    out["open_incidents"] = engine.stats["open_incidents"]
    gc.collect()
    out["rss_before_mb"] = rss0
    out["rss_engine_mb"] = rss_mb()
    if with_baseline:
        warm = reports(tr, 0.0, cycle)
        timed = reports(tr, cycle, cycle + data_s)
        gc.collect()
        per_c, cpu_c, in_c, close_c = competent_baseline(zones, tr, warm, timed)
        gc.collect()
        per_n, cpu_n, taken, in_n, close_n = naive_baseline(zones, tr, warm, timed)
        out["competent_us_per_report"] = per_c * 1e6
        out["competent_cpu_us_per_report"] = cpu_c * 1e6
        out["naive_cpu_us_per_report"] = cpu_n * 1e6
        out["competent_reports_per_s"] = 1.0 / per_c
        out["competent_reports"] = len(timed)
        out["competent_zone_hits"] = in_c
        out["competent_close_pairs"] = close_c
        out["naive_reports"] = taken
        out["naive_us_per_report"] = per_n * 1e6
        out["naive_reports_per_s"] = 1.0 / per_n
        out["naive_zone_hits"] = in_n
        out["naive_close_pairs"] = close_n
        # on CPU time: the wall clock of a shared machine counts the other processes' work too
        out["speedup_competent"] = cpu_c / (cpu / n_timed)
        out["speedup_naive"] = cpu_n / (cpu / n_timed)
        out["speedup_competent_wall"] = per_c / (dt / n_timed)
    return out


def child(
    n: int, data_s: float, with_baseline: bool, memory: bool, tree: str | None = None
) -> dict[str, float | int | str]:
    """The same measurement in a fresh process (clean RSS, no state shared between sizes),
    with the packages of the checkout ``tree`` when given."""
    cmd = [sys.executable, __file__, "--child", str(n), "--data-s", str(data_s)]
    if with_baseline:
        cmd.append("--baseline")
    if memory:
        cmd.append("--memory")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tree, os.environ.get("PYTHONPATH")) if p)
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _other_checkout(tree: str) -> tuple[Any, Any, list[Zone], list]:
    """The ``Engine`` class, ``ProximitySettings`` and catalogue of another checkout, loaded beside ours."""
    if not os.path.isfile(os.path.join(tree, "proximity", "engine.py")):
        raise SystemExit(f"--compare {tree}: not a checkout of closewatch (no proximity/engine.py)")
    mine = ("config", "proximity")
    ours = {k: m for k, m in sys.modules.items() if k.split(".")[0] in mine}
    for k in ours:
        del sys.modules[k]
    sys.path.insert(0, tree)
    try:
        engine = importlib.import_module("proximity.engine").Engine
        settings = importlib.import_module("config.settings")
        zones_mod = importlib.import_module("config.zones")
        bands = zones_mod.available_border_bands_m()
        try:
            zones = zones_mod.load_catalogue(settings.ZoneSettings(border_buffers_m=bands, territorial=True))
        except Exception:
            zones = zones_mod.load_catalogue(settings.ZoneSettings(border_buffers_m=bands, territorial=False))
        borders = [line for _name, line in zones_mod.load_borders()]
    finally:
        sys.path.remove(tree)
        for k in [k for k in sys.modules if k.split(".")[0] in mine]:
            del sys.modules[k]
        sys.modules.update(ours)
    return engine, settings.ProximitySettings, zones, borders


def _without(kinds: frozenset[str]) -> tuple[Any, Any, list[Zone], list]:
    """This checkout's engine without the families of ``kinds``: what they cost on today's engine."""
    import proximity.engine as engine_module

    unknown = kinds - {f.spec.kind for f in engine_module.FAMILIES}
    if unknown:
        raise SystemExit(f"--without: no such event kind: {', '.join(sorted(unknown))}")
    zones, borders, _ = catalogue()
    kept = tuple(f for f in engine_module.FAMILIES if f.spec.kind not in kinds)

    def make(settings: Any, zones: list[Zone], borders: list) -> Engine:
        everything = engine_module.FAMILIES
        engine_module.FAMILIES = kept  # the engine reads its families at construction only
        try:
            return Engine(settings, zones, borders=borders)
        finally:
            engine_module.FAMILIES = everything

    return make, ProximitySettings, zones, borders


def paired(tree: str | None, n: int, rounds: int, data_s: float = 60.0, profile: str | None = None,
           without: frozenset[str] = frozenset()) -> None:
    """This checkout's engine and ``tree``'s in one process, fed the same chunks in turn; with no
    ``tree``, this checkout's engine without the families of the kinds ``without``.

    ``profile``: this checkout's engine judges incidents with that rule profile (the other
    engine, older, raises everything).
    """
    zones, borders, _ = catalogue()
    rules = None
    if profile is not None:
        from closewatch.rules import build_rules
        from config.settings import RuleSettings, Settings

        rules = build_rules(Settings(rules=RuleSettings(profile=profile)))
    other = _other_checkout(tree) if tree is not None else _without(without)
    tree = tree if tree is not None else f"this engine without {', '.join(sorted(without))}"
    tr = make_traffic(n)
    cycle = float(tr.period_s.max())
    chunks = [(t >= cycle, reports(tr, t, min(t + 2.0, cycle + data_s))) for t in np.arange(0.0, cycle + data_s, 2.0)]
    n_timed = sum(len(c) for timed, c in chunks if timed)
    print(f"this engine (profile {profile or 'all-traffic'}) and {tree}'s in one process: {n:,} tracks,"
          f" {data_s:.0f} s of data, CPU time per report")
    ratios = []
    for r in range(rounds):
        engines = [Engine(ProximitySettings(), zones, borders=borders, rules=rules),
                   other[0](other[1](), other[2], borders=other[3])]
        cpu = [0.0, 0.0]
        events = [0, 0]
        for k, (timed, ups) in enumerate(chunks):
            for j in (0, 1) if (k + r) % 2 == 0 else (1, 0):
                gc.collect()
                c0 = time.process_time()
                for i in range(0, len(ups), BATCH):
                    events[j] += len(engines[j].process(ups[i : i + BATCH]))
                if timed:
                    cpu[j] += time.process_time() - c0
        this, that = (c / n_timed * 1e6 for c in cpu)
        ratios.append(this / that)
        print(
            f"  round {r + 1}: this {this:.3f} us/report CPU, other {that:.3f};"
            f" this/other {ratios[-1]:.3f}; events {events}"
        )
    print(f"  this/other CPU per report: median {statistics.median(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}")


def compare(tree: str, n: int, rounds: int) -> None:
    """This checkout's engine against the one of ``tree``, in turn, ``rounds`` times."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"engine of {here} (this) against {tree} (other): {n:,} tracks, 60 s of data, CPU time per report")
    ratios = []
    for r in range(rounds):
        runs = {}
        for name in ("this", "other") if r % 2 == 0 else ("other", "this"):
            runs[name] = child(n, 60.0, False, False, here if name == "this" else tree)
        this, other = runs["this"], runs["other"]
        ratios.append(float(this["engine_cpu_us_per_report"]) / float(other["engine_cpu_us_per_report"]))
        print(
            f"  round {r + 1}: this {this['engine_cpu_us_per_report']:.3f} us/report CPU"
            f" ({this['engine_us_per_report']:.2f} wall), other {other['engine_cpu_us_per_report']:.3f}"
            f" ({other['engine_us_per_report']:.2f} wall); this/other {ratios[-1]:.3f};"
            f" events {this['events']} / {other['events']}"
        )
    print(f"  this/other CPU per report: median {statistics.median(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 tracks only")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--data-s", type=float, default=60.0, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--compare", metavar="TREE", help="another checkout's engine, run in turn with this one")
    ap.add_argument("--rounds", type=int, default=6, help="with --compare: runs of each (default 6)")
    ap.add_argument("--tracks", type=int, default=REFERENCE_TRACKS, help="with --compare: live tracks")
    ap.add_argument("--same-process", action="store_true", help="with --compare: both engines in one process")
    ap.add_argument("--without", metavar="KINDS", help="this engine against itself without the families of these"
                    " event kinds (comma-separated), in one process: what those kinds cost")
    ap.add_argument("--profile", help="with --same-process: this engine's rule profile (military, all-traffic, ...;"
                    " default: the engine's, all-traffic), with the port areas")
    args, _ = ap.parse_known_args()  # run by bench/__main__.py, argv holds its own arguments
    if args.child:
        print(json.dumps(measure(args.child, data_s=args.data_s, with_baseline=args.baseline, memory=args.memory)))
        return
    if args.without:
        paired(None, args.tracks, args.rounds, profile=args.profile,
               without=frozenset(k.strip() for k in args.without.split(",")))
        return
    if args.compare:
        if args.same_process:
            paired(args.compare, args.tracks, args.rounds, profile=args.profile)
        else:
            compare(args.compare, args.tracks, args.rounds)
        return

    print("closewatch proximity engine benchmark (one process per size, one core)")
    main_run = child(REFERENCE_TRACKS, 60.0, True, False)
    print(f"catalogue: {main_run['zones']} zones, {main_run['zone_vertices']:,} vertices: {main_run['catalogue']}")
    print(
        f"\n{REFERENCE_TRACKS:,} live tracks, {main_run['timed_reports']:,} reports over "
        f"{main_run['timed_data_s']:.0f} s of data time, batches of {BATCH}:"
    )
    print(
        f"  engine:   {main_run['engine_reports_per_s']:>12,.0f} reports/s  ({main_run['engine_us_per_report']:.2f} us/report;"
        f" CPU {main_run['engine_cpu_us_per_report']:.2f} us/report)"
    )
    print(
        f"  competent baseline (STRtree + contains_xy, cKDTree + Geod.inv, per batch):"
        f" {main_run['competent_reports_per_s']:,.0f} reports/s ({main_run['competent_us_per_report']:.2f} us/report;"
        f" CPU {main_run['competent_cpu_us_per_report']:.2f} us/report; all {main_run['competent_reports']:,} reports)"
    )
    print(
        f"  naive baseline (every zone, every opposing track, per report):"
        f" {main_run['naive_reports_per_s']:,.0f} reports/s ({main_run['naive_us_per_report']:.1f} us/report;"
        f" CPU {main_run['naive_cpu_us_per_report']:.1f} us/report;"
        f" measured on the first {main_run['naive_reports']:,} reports, at most {NAIVE_BUDGET_S:.0f} s)"
    )
    print(
        f"  CPU time per report, baseline/engine: competent {main_run['speedup_competent']:.2f}x (the headline;"
        f" wall clock {main_run['speedup_competent_wall']:.2f}x), naive {main_run['speedup_naive']:.0f}x"
    )
    print(
        f"  events in the timed part: {main_run['events']:,} ({main_run['open_incidents']:,} incidents open at the end);"
        f" engine built in {main_run['engine_build_s']:.2f} s"
    )
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    print("\nscaling (constant density: the area grows with the number of tracks):")
    print(f"  {'tracks':>8} {'reports/s':>12} {'us/report':>10} {'events':>8} {'RSS MB':>8} {'traced MB':>10}")
    for n in sizes:
        r = child(n, 60.0 if n < 100_000 else 20.0, False, n == sizes[-1])
        traced = f"{r['traced_engine_mb']:.0f}" if "traced_engine_mb" in r else "-"
        print(
            f"  {n:>8,} {r['engine_reports_per_s']:>12,.0f} {r['engine_us_per_report']:>10.2f}"
            f" {r['events']:>8,} {r['rss_engine_mb']:>8.0f} {traced:>10}"
        )
        if n == sizes[-1]:
            print(
                f"\nmemory with {n:,} live tracks: RSS {r['rss_engine_mb']:.0f} MB for the whole process"
                f" after {r['timed_data_s']:.0f} s of data (before the engine: {r['rss_before_mb']:.0f} MB);"
                f" Python allocations held by a fresh engine after one report of every track:"
                f" {r['traced_engine_mb']:.0f} MB (peak while taking them {r['traced_peak_mb']:.0f} MB)"
            )


if __name__ == "__main__":
    main()
