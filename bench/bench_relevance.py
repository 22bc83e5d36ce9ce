"""What the rule profiles raise: incidents per 1,000 track-hours by kind and severity, and the cost.

Run from the repository root::

    .venv/bin/python bench/bench_relevance.py            # every real recording and the synthetic hour
    .venv/bin/python bench/bench_relevance.py --no-synthetic

Inputs: every AIS and ADS-B recording in ``../shared/data/`` (read there, never copied), each
through the pipeline as ``closewatch run`` reads it (the default zone catalogue, the port areas);
and the synthetic hour of Baltic traffic of ``closewatch.scenario.traffic`` (mostly civil, with
military encounters whose outcome is known), straight into the engine.

For each input and each profile (``military``, ``all-traffic``): incidents (distinct event ids)
per 1,000 track-hours, by kind and the highest severity of their revisions; incidents between two civil tracks (the goal: none
under ``military``); on the synthetic hour, which known military encounters were
raised (the goal: all), and the engine's CPU time per report under each profile (the same reports,
the same process, in turn: the ratio is the cost of the profile against raising everything).
A track-hour is an hour between a track's first and last report; a recording whose tracks report
once (a snapshot) has none, and its counts are given as they are.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from closewatch.pipeline import Pipeline  # noqa: E402
from closewatch.rules import build_rules  # noqa: E402
from closewatch.sinks import RecorderSink  # noqa: E402
from config.settings import ProximitySettings, RuleSettings, Settings, load_settings  # noqa: E402
from config.zones import load_borders, load_catalogue  # noqa: E402
from proximity.engine import Engine  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
PROFILES = ("military", "all-traffic")
# Samples without timestamps are replayed at one fixed time (their messages then have no
# track-hours between them: their counts are given as they are).
_UNTIMED = 'assume_time = "2020-01-01T00:00:00Z"\n'
# recording -> (format, extra feed keys)
RECORDINGS: dict[str, tuple[str, str]] = {
    "ais/dma_aisabnormal_ais-sample.txt.gz": ("ais-nmea", ""),
    "ais/dma_aislib_replay_dump.txt": ("ais-nmea", ""),
    "ais/dma_aislib_decode_encode_messages.txt": ("ais-nmea", _UNTIMED),
    "ais/gpsd_ais-18-27.log": ("ais-nmea", _UNTIMED),
    "ais/gpsd_ais-raw-messages.log": ("ais-nmea", _UNTIMED),
    "ais/gpsd_sample.aivdm": ("ais-nmea", _UNTIMED),
    "ais/pyais_nmea_data_sample.txt": ("ais-nmea", _UNTIMED),
    "ais/libais_test.aivdm": ("ais-nmea", _UNTIMED),
    "adsb/node-sbs1_msgs.txt": ("sbs1", _UNTIMED),
    "adsb/billglover_dump1090_aircraft_uk.json": ("aircraft-json", ""),
    "adsb/readsb_trace_full_ac671b.json": ("aircraft-json", ""),
    "adsb/sample_data_adsb.csv": ("modes-raw", ""),
}


def _track_hours(first: dict[str, float], last: dict[str, float]) -> float:
    return sum(last[k] - first[k] for k in first) / 3600.0


_RANK = {"info": 0, "warning": 1, "critical": 2}


def _tally(features: list[dict[str, Any]]) -> tuple[Counter[tuple[str, str]], int, set[str]]:
    """Incidents by (kind, highest severity of their revisions), those between two civil tracks,
    and the ids."""
    worst: dict[str, tuple[str, str]] = {}
    civil: set[str] = set()
    for f in features:
        p = f["properties"]
        eid = p["event_id"]
        known = worst.get(eid)
        if known is None or _RANK[p["severity"]] > _RANK[known[1]]:
            worst[eid] = (p["kind"], p["severity"])
        subj = p["subjects"]
        if len(subj) >= 2 and all(s.get("category") == "civil" for s in subj):
            civil.add(eid)
    return Counter(worst.values()), len(civil), set(worst)


def _real(path: Path, fmt: str, extra: str, profile: str) -> tuple[Counter[tuple[str, str]], int, float, int, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "c.toml"
        cfg.write_text(
            f'[[feeds]]\nname = "rec"\nformat = "{fmt}"\ntransport = "file"\npath = "{path}"\n{extra}'
            f'[rules]\nprofile = "{profile}"\n[sinks]\nevents_jsonl = "{tmp}/e.jsonl"\n'
            f'deadletter_jsonl = "{tmp}/d.jsonl"\n',
            encoding="utf-8",
        )
        settings = load_settings(cfg)
        sink = RecorderSink(max_points_per_track=10**9)
        summary = Pipeline(settings, [sink]).run()
    first = {k: v[0].t_s for k, v in sink.tracks.items()}
    last = {k: v[-1].t_s for k, v in sink.tracks.items()}
    by, civil, _ = _tally(sink.events)
    return by, civil, _track_hours(first, last), summary.updates, summary.suppressed


def _fmt(by: Counter[tuple[str, str]], hours: float) -> str:
    if not by:
        return "none"
    per = (lambda n: f"{n / hours * 1000:.1f}") if hours > 0 else (lambda n: f"{n} (no track-hours)")
    kinds = sorted({k for k, _ in by})
    return "; ".join(
        f"{k}: " + ", ".join(f"{s} {per(by[(k, s)])}" for s in ("critical", "warning", "info") if by[(k, s)])
        for k in kinds
    )


def real_recordings() -> None:
    print("Real recordings (../shared/data), incidents per 1,000 track-hours by kind and highest severity:")
    for rel, (fmt, extra) in RECORDINGS.items():
        path = DATA / rel
        if not path.exists():
            print(f"  {rel}: missing")
            continue
        for profile in PROFILES:
            by, civil, hours, updates, suppressed = _real(path, fmt, extra, profile)
            print(f"  {rel} [{profile}]: {updates} reports, {hours:.2f} track-hours; {sum(by.values())} incidents"
                  f" ({civil} between two civil tracks): {_fmt(by, hours)}")
            if suppressed:
                print(f"      not raised: {', '.join(f'{k} {r}: {n}' for (k, r), n in suppressed.items())}")


def synthetic(rounds: int) -> None:
    from closewatch.scenario.traffic import ENCOUNTERS, baltic_hour

    reports = baltic_hour()
    zones = load_catalogue(Settings().zones)
    borders = [line for _n, line in load_borders()]
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for u in reports:
        first.setdefault(u.track_id, u.t_s)
        last[u.track_id] = u.t_s
    hours = _track_hours(first, last)
    rules = {p: build_rules(Settings(rules=RuleSettings(profile=p))) for p in PROFILES}
    print(f"\nSynthetic hour of Baltic traffic (closewatch.scenario.traffic): {len(first)} tracks, {len(reports):,} reports,"
          f" {hours:.0f} track-hours, {len(ENCOUNTERS)} known military encounters")
    from alerts.codec import event_to_feature

    cpu: dict[str, list[float]] = defaultdict(list)
    for r in range(rounds):
        for p in PROFILES if r % 2 == 0 else PROFILES[::-1]:
            engine = Engine(ProximitySettings(), zones, borders=borders, rules=rules[p], wall_clock=lambda: 0.0)
            gc.collect()
            c0 = time.process_time()
            events = []
            for i in range(0, len(reports), 4096):
                events += engine.process(reports[i : i + 4096])
            events += engine.finish()
            cpu[p].append((time.process_time() - c0) / len(reports) * 1e6)
            if r == 0:
                by, civil, _ = _tally([event_to_feature(e) for e in events])
                pairs = {tuple(sorted(s.track_id for s in e.subjects)) for e in events if e.state == "open"}
                found = [e.name for e in ENCOUNTERS if tuple(sorted((e.a, e.b))) in pairs]
                print(f"  [{p}] {sum(by.values())} incidents ({civil} between two civil tracks): {_fmt(by, hours)}")
                print(f"      known military encounters raised: {len(found)}/{len(ENCOUNTERS)}"
                      f"{'' if len(found) == len(ENCOUNTERS) else ' (missing: ' + ', '.join(e.name for e in ENCOUNTERS if e.name not in found) + ')'}")
                if engine.suppressed:
                    print(f"      not raised: {', '.join(f'{k} {r_}: {n}' for (k, r_), n in engine.suppressed.items())}")
    med = {p: sorted(v)[len(v) // 2] for p, v in cpu.items()}
    print(f"  engine CPU per report, median of {rounds} runs each: "
          + ", ".join(f"{p} {med[p]:.2f} us" for p in PROFILES)
          + f"; military / all-traffic {med['military'] / med['all-traffic']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-synthetic", action="store_true")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="timed runs of the synthetic hour per profile")
    args = ap.parse_args()
    if not args.no_real:
        real_recordings()
    if not args.no_synthetic:
        synthetic(args.rounds)


if __name__ == "__main__":
    main()
