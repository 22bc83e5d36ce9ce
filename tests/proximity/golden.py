"""Golden events: what the engine emits for the demo and for every engine scenario of the tests.

The engine's events must not change when its code is reorganised: the same
input gives the same events, byte for byte (``Event.canonical()``, every field
but the detection time, JSON with sorted keys). This harness records them into
``tests/proximity/golden/`` (JSON Lines, xz-compressed) and compares a later run
against that record::

    .venv/bin/python tests/proximity/golden.py check            # every scenario, against the record
    .venv/bin/python tests/proximity/golden.py check demo       # one or more by name
    .venv/bin/python tests/proximity/golden.py check --without shadowing   # leave a kind's events out
    .venv/bin/python tests/proximity/golden.py record           # write the record from this code
    .venv/bin/python tests/proximity/golden.py record --out DIR real   # the real recordings, outside the repo

The scenarios:

* ``demo``: the Baltic demo (``closewatch/scenario/``) through the pipeline, its
  feed files decoded as ``closewatch run`` decodes them;
* ``traffic``: the synthetic traffic of ``bench/bench_engine.py`` (1,000 tracks,
  five minutes, the full zone catalogue and border lines);
* ``tests``: every engine of ``tests/proximity/`` (run in this process with
  pytest; the events of each engine of each test, and its stats at ``finish``;
  ``test_golden.py``, which runs the two above, is left out; a test added after
  the record is named and not compared);
* ``real`` (never stored in the repository: the recordings are not ours to
  copy): the real AIS recording in ``../shared/data/`` through the pipeline, for
  comparing two versions of the code with ``--out``.

A deliberate change of the events is recorded again (``record``) in the commit
that makes it, with the reason in its message.
"""

from __future__ import annotations

import argparse
import difflib
import json
import lzma
import math
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
REAL_AIS = ROOT.parent / "shared" / "data" / "ais" / "dma_aisabnormal_ais-sample.txt.gz"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# The record predates the rule profiles (proximity.rules): an event is compared on the fields the
# record holds. The fields added with the profiles are left out only where they hold what the
# all-traffic profile (today's behaviour) gives: raised by its one rule, nothing suppressed; the
# subjects' category and context and the integrity reasons describe, they change nothing.
_ALL_TRAFFIC_RULE = "all-traffic@1/everything"


def _recorded_fields(d: dict[str, Any]) -> dict[str, Any]:
    if d.get("rule") == _ALL_TRAFFIC_RULE:
        del d["rule"]
    if d.get("suppressed") is None:
        d.pop("suppressed", None)
    if not d.get("cells"):  # area-level kinds only (gnss_interference, after the record)
        d.pop("cells", None)
    d.pop("integrity_reasons", None)
    if d.get("notification") is None:  # events about a notified area only (after the record)
        d.pop("notification", None)
    for s in d["subjects"]:
        for k in ("category", "stationary", "in_port"):
            s.pop(k, None)
    return d


# counters added after the records were made, left out while zero (as they are in every recorded input)
_LATER_COUNTERS = ("suppressed", "far_ahead_held", "far_ahead_released", "far_ahead_set_aside")


def _kept(stats: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in stats.items() if not (k in _LATER_COUNTERS and v == 0)}


def _stats(stats: dict[str, int]) -> str:
    return json.dumps({"stats": _kept(stats)}, sort_keys=True)


def _line(event: Any, **where: Any) -> str:
    return json.dumps({**where, "event": _recorded_fields(event.canonical())}, sort_keys=True)


def _event_sink() -> Any:
    """A recorder sink that keeps the engine's events as they are (``Event`` objects)."""
    from closewatch.sinks import RecorderSink

    class EventSink(RecorderSink):
        def publish_events(self, events: Sequence[Any]) -> None:
            self.engine_events.extend(events)

    sink = EventSink()
    sink.engine_events = []
    return sink


def _pipeline_events(config_text: str | None = None, config_path: Path | None = None) -> list[str]:
    from closewatch.pipeline import Pipeline
    from config.settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        if config_path is None:
            config_path = Path(tmp) / "closewatch.toml"
            config_path.write_text(config_text or "", encoding="utf-8")
        settings = load_settings(config_path)
        # the record is of the behaviour before rule profiles: the all-traffic profile
        settings = settings.model_copy(update={"rules": settings.rules.model_copy(update={"profile": "all-traffic"})})
        sink = _event_sink()
        pipeline = Pipeline(settings, [sink])
        summary = pipeline.run()
        lines = [_line(e) for e in sink.engine_events]
        lines.append(_stats(summary.engine_stats))
    return lines


def demo() -> list[str]:
    """The Baltic demo, as ``closewatch run`` processes it."""
    from closewatch.scenario.baltic import write_scenario

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_scenario(Path(tmp))
        return _pipeline_events(config_path=paths["config"])


def traffic(n_tracks: int = 1_000, data_s: float = 300.0) -> list[str]:
    """The benchmark's synthetic traffic over the full catalogue, in the benchmark's batches."""
    from bench.bench_engine import BATCH, catalogue, make_traffic, reports
    from config.settings import ProximitySettings
    from proximity.engine import Engine

    zones, borders, _ = catalogue()
    tr = make_traffic(n_tracks, seed=5)
    engine = Engine(ProximitySettings(), zones, borders=borders, wall_clock=lambda: 0.0)
    lines: list[str] = []
    t = 0.0
    while t < data_s:
        ups = reports(tr, t, t + 2.0)
        for i in range(0, len(ups), BATCH):
            lines.extend(_line(e) for e in engine.process(ups[i : i + BATCH]))
        t += 2.0
    lines.extend(_line(e) for e in engine.finish())
    lines.append(_stats(engine.stats))
    return lines


class _Recorder:
    """A pytest plugin: the events of every engine of every test, in the order they are returned."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.test = ""
        self.failed: list[str] = []

    def pytest_configure(self, config: Any) -> None:
        from proximity.engine import Engine

        recorder = self
        original = {name: getattr(Engine, name) for name in ("__init__", "process", "add_zones", "finish")}

        def init(engine: Any, *args: Any, **kwargs: Any) -> None:
            recorder._count = getattr(recorder, "_count", {})
            n = recorder._count.get(recorder.test, 0)
            recorder._count[recorder.test] = n + 1
            engine.__dict__["_golden_no"] = n
            original["__init__"](engine, *args, **kwargs)

        def wrap(name: str) -> Callable[..., Any]:
            def call(engine: Any, *args: Any, **kwargs: Any) -> Any:
                events = original[name](engine, *args, **kwargs)
                where = {"test": recorder.test, "engine": engine.__dict__.get("_golden_no", -1), "call": name}
                recorder.lines.extend(_line(e, **where) for e in events)
                if name == "finish":
                    stats = _kept(engine.stats)
                    recorder.lines.append(json.dumps({**where, "stats": stats}, sort_keys=True))
                return events

            return call

        Engine.__init__ = init  # type: ignore[method-assign]
        for name in ("process", "add_zones", "finish"):
            setattr(Engine, name, wrap(name))

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.test = nodeid

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.failed.append(report.nodeid)


def tests() -> list[str]:
    """Every engine scenario of ``tests/proximity/`` (the tests must pass)."""
    import pytest

    recorder = _Recorder()
    here = ROOT / "tests" / "proximity"
    # the test that reads the record itself makes no engine: left out, so a new kind can be recorded;
    # so are the tests on the real recordings (their events are the recordings' data: not ours to store)
    args = ["-q", "-p", "no:cacheprovider", f"--ignore={here / 'test_golden.py'}", "-m", "not realdata",
            "-k", "not test_a_kind_closes_only_for_the_reasons_it_declares", str(here)]
    code = pytest.main(args, plugins=[recorder])
    if code != 0 or recorder.failed:
        raise SystemExit(f"the proximity tests failed ({recorder.failed}): no golden comparison")
    return recorder.lines


def real() -> list[str]:
    """The real DMA AIS recording (Danish straits, five minutes) with the default catalogue."""
    if not REAL_AIS.exists():
        raise SystemExit(f"{REAL_AIS} is not there")
    config = f'[[feeds]]\nname = "dma"\nformat = "ais-nmea"\ntransport = "file"\npath = "{REAL_AIS}"\n'
    return _pipeline_events(config_text=config)


SCENARIOS: dict[str, Callable[[], list[str]]] = {"demo": demo, "traffic": traffic, "tests": tests, "real": real}
STORED = ("demo", "traffic", "tests")


# Floating-point libraries differ in their last bits between releases (numpy's vectorised
# trigonometry, PROJ, GEOS): numbers of a line may differ by this much, relative; nothing else may.
REL_TOL = 1e-9


def same(a: str, b: str) -> bool:
    """Two record lines are the same: equal, or equal but for numbers within ``REL_TOL``."""
    if a == b:
        return True
    try:
        return _close(json.loads(a), json.loads(b))
    except ValueError:
        return False


def _close(x: Any, y: Any) -> bool:
    if isinstance(x, float) or isinstance(y, float):
        return (isinstance(x, (int, float)) and isinstance(y, (int, float))
                and math.isclose(x, y, rel_tol=REL_TOL, abs_tol=REL_TOL))
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(_close(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return isinstance(y, list) and len(x) == len(y) and all(_close(u, v) for u, v in zip(x, y))
    return bool(x == y)


def compare(name: str, expected: Sequence[str], got: Sequence[str]) -> bool:
    """Print where two records part; True when they are the same (:func:`same`, line by line)."""
    if list(expected) == list(got):
        print(f"{name}: {len(got)} lines, identical")
        return True
    if len(expected) == len(got) and all(same(a, b) for a, b in zip(expected, got)):
        differing = sum(a != b for a, b in zip(expected, got))
        print(f"{name}: {len(got)} lines, the same ({differing} with numbers within {REL_TOL:g} relative)")
        return True
    print(f"{name}: DIFFERENT ({len(expected)} lines recorded, {len(got)} now)")
    shown = 0
    for line in difflib.unified_diff(list(expected), list(got), "recorded", "now", n=0, lineterm=""):
        print("  " + line[:600])
        shown += 1
        if shown > 40:
            print("  ...")
            break
    return False


def _common_tests(expected: Sequence[str], got: Sequence[str]) -> tuple[list[str], list[str]]:
    """The lines of the tests in the record (a test added since is named, not compared)."""

    def test_of(line: str) -> str:
        return str(json.loads(line)["test"])

    recorded_tests = {test_of(line) for line in expected}
    new = sorted({test_of(line) for line in got} - recorded_tests)
    if new:
        print(f"tests: not in the record (not compared): {', '.join(new)}")
    return list(expected), [line for line in got if test_of(line) in recorded_tests]


def _without(lines: Sequence[str], kinds: set[str]) -> list[str]:
    """The lines but those of events of ``kinds``."""
    return [line for line in lines if json.loads(line).get("event", {}).get("kind") not in kinds]


def _write(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lzma.compress("".join(line + "\n" for line in lines).encode(), preset=9))


def recorded(name: str, where: Path = GOLDEN) -> list[str]:
    """The recorded lines of one scenario."""
    return lzma.decompress((where / f"{name}.jsonl.xz").read_bytes()).decode().splitlines()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("record", "check"))
    ap.add_argument("scenarios", nargs="*", help=f"of {', '.join(SCENARIOS)} (default: {', '.join(STORED)})")
    ap.add_argument("--out", type=Path, default=GOLDEN, help="where records are (default: tests/proximity/golden)")
    ap.add_argument("--without", nargs="+", default=[], metavar="KIND",
                    help="check: leave the events of these kinds out of both sides (a new kind leaves the others alone)")
    args = ap.parse_intermixed_args(argv)
    names = args.scenarios or list(STORED)
    for name in names:
        if name not in SCENARIOS:
            ap.error(f"no scenario {name!r}: one of {', '.join(SCENARIOS)}")
    if args.out.resolve() == GOLDEN and "real" in names:
        ap.error("the real recordings' events are not stored in the repository: give --out")
    ok = True
    for name in names:
        lines = SCENARIOS[name]()
        if args.action == "record":
            path = args.out / f"{name}.jsonl.xz"
            _write(path, lines)
            print(f"{name}: {len(lines)} lines written to {path}")
        else:
            expected = recorded(name, args.out)
            if args.without:
                expected, lines = _without(expected, set(args.without)), _without(lines, set(args.without))
            if name == "tests":
                expected, lines = _common_tests(expected, lines)
            ok &= compare(name, expected, lines)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
