"""`closewatch run`, `closewatch demo` and `closewatch config check`.

Exit codes of `run` (README, docs/operations.md): 0 the feeds ended, or the run was
stopped by SIGTERM or SIGINT and drained; 1 a runtime failure: a feed given up, every
record rejected, delivery failed for good (a full spool), an unexpected error; 2 bad
usage, an invalid configuration, or a state folder or checkpoint refused; 3 Kafka could
not be reached before the run ended by itself: what it did not take waits in the spool.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import tempfile
import threading
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from closewatch.sinks import (ContextFileSink, FanOut, JsonlSink, MapStoreSink, OutputExistsError, RecorderSink,
                              holds_output)
from config.settings import ConfigError, KafkaSettings, Settings, load_settings, parse_settings

if TYPE_CHECKING:
    from alerts.producer import KafkaSink
    from closewatch.pipeline import RunSummary

__all__ = ["add_parser", "build_sinks", "country_outlines"]

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVICE = 0, 1, 2, 3


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    run = sub.add_parser("run", help="run the pipeline over the feeds of a configuration")
    run.add_argument("-c", "--config", type=Path, help="closewatch.toml (default: embedded defaults)")
    run.add_argument("--speed", type=float, help="replay speed factor for file feeds (0: as fast as possible)")
    run.add_argument("--append", action="store_true",
                     help="add to the JSON Lines files of an earlier run instead of refusing to (Kafka-fed runs always do)")
    run.add_argument("--map", type=Path, help="also write the situation map (HTML) here at the end")
    run.add_argument(
        "--serve-map",
        action="store_true",
        help="serve the live map of this pipeline ([map] host/port) while it runs, and after a replay ends",
    )
    run.add_argument(
        "--explain",
        action="append",
        default=[],
        metavar="TRACK_ID",
        help="write the incidents of this track that the rule profile does not raise as context events "
        "([sinks] context_jsonl, and with [kafka] the context topic); repeatable; adds to [rules] explain",
    )
    run.add_argument("--profile", help="the rule profile (a name in config/data/profiles or a .toml path); "
                     "overrides [rules] profile")
    run.add_argument("--role", choices=("all", "ingest", "engine"),
                     help="run as one worker of several on Kafka (docs/scaling.md): ingest (feeds to the cells "
                          "topic) or engine (cells topic to events); all: the single process; overrides [scale] role")
    run.set_defaults(handler=_run)

    demo = sub.add_parser("demo", help="a demo scenario (the Baltic, or INCSEA): scenario -> pipeline -> Kafka -> map")
    demo.add_argument("--out", type=Path, default=None,
                      help="folder for the demo's files (default: demo-out, or demo-incsea for --scenario incsea)")
    demo.add_argument("--scenario", choices=("baltic", "incsea"), default="baltic",
                      help="baltic: the Gulf of Finland (closewatch/scenario/README.md); incsea: low passes, a "
                           "manoeuvre across a bow, shadowing, a bomber pair intercepted, in the Barents Sea")
    demo.add_argument("--no-kafka", action="store_true", help="events to JSON Lines only, no broker")
    demo.set_defaults(handler=_demo)

    cfg = sub.add_parser("config", help="configuration tools")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = cfg_sub.add_parser("check", help="validate a closewatch.toml; exit 2 naming the bad keys")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=_config_check)


def build_sinks(settings: Settings, stack: ExitStack, *, append: bool = False, kind: str = "run") -> list:
    """Kafka when configured, else the JSON Lines files (the embedded default); and the archive
    (``[archive]``, on by default). ``append``: add to an earlier run's JSON Lines files."""
    sinks: list = []
    if settings.kafka is not None:
        from alerts.producer import KafkaSink

        # Topics are created at the first connection; an unreachable broker means the spool.
        kafka = KafkaSink(settings.kafka)
        stack.callback(kafka.close)
        sinks.append(kafka)
    else:
        sinks.append(_jsonl_sink(settings, stack, append))
    if settings.rules.explain:
        context = ContextFileSink(settings.sinks.context_jsonl)
        stack.callback(context.close)
        sinks.append(context)
    if settings.archive.enabled:  # last: a run refused for its files leaves no run in the archive
        from closewatch.archive import ArchiveSink

        archive = ArchiveSink(settings.archive, run_settings=settings, kind=kind)
        stack.callback(archive.close)
        sinks.append(archive)
    return sinks


def _jsonl_sink(settings: Settings, stack: ExitStack, append: bool = False) -> JsonlSink:
    """The JSON Lines files of ``[sinks]``, closed with ``stack``."""
    s = settings.sinks
    jsonl = JsonlSink(s.events_jsonl, s.deadletter_jsonl, s.tracks_jsonl, append=append, fsync=s.fsync)
    stack.callback(jsonl.close)
    return jsonl


def _load(path: Path | None) -> Settings | None:
    """The settings of ``path`` checked as a run needs them (``closewatch.preflight``: the same
    check for ``run`` and ``config check``), or None after printing why not (exit code 2)."""
    from closewatch.preflight import load_checked

    try:
        return load_checked(path)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return None


def _on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT: the first stops the run after it drained (exit 0); a second one stops
    the draining (KeyboardInterrupt, exit 1)."""

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        print(f"{signal.Signals(signum).name}: draining (finishing the batch, syncing the sinks, "
              "checkpointing); send it again to stop at once", file=sys.stderr, flush=True)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _run(args: argparse.Namespace) -> int:
    from alerts.errors import AlertsError
    from closewatch.checkpoint import CheckpointError
    from closewatch.pipeline import Pipeline

    settings = _load(args.config)
    if settings is None:
        return EXIT_USAGE
    if args.speed is not None:
        settings = settings.model_copy(
            update={"feeds": tuple(f.model_copy(update={"speed": args.speed}) for f in settings.feeds)}
        )
    if args.explain or args.profile:
        rules = settings.rules.model_copy(
            update={
                "explain": (*settings.rules.explain, *args.explain),
                **({"profile": args.profile} if args.profile else {}),
            }
        )
        settings = settings.model_copy(update={"rules": rules})
        if args.profile:
            from closewatch.rules import load_profile

            try:
                load_profile(args.profile)
            except ConfigError as e:
                print(e, file=sys.stderr)
                return EXIT_USAGE
    if args.role is not None:  # validated again: the settings' own checks of the role apply
        try:
            settings = parse_settings({**dict(settings), "scale": settings.scale.model_copy(update={"role": args.role})},
                                      f"--role {args.role}")
        except ConfigError as e:
            print(e, file=sys.stderr)
            return EXIT_USAGE
    if settings.scale.role == "engine":
        return _run_worker(settings)
    if not settings.feeds:
        print("no feeds configured: add [[feeds]] to the configuration (see README)", file=sys.stderr)
        return EXIT_USAGE
    if settings.scale.role == "ingest":
        return _run_worker(settings)
    stop = threading.Event()
    _on_signals(stop)
    from config.zones import ZoneCatalogueError

    with ExitStack() as stack:
        recorder = RecorderSink() if args.map else None
        # A Kafka-fed run resumes from its checkpoint: its files go on.
        append = args.append or any(f.transport == "kafka" for f in settings.feeds)
        try:
            sinks = build_sinks(settings, stack, append=append) + ([recorder] if recorder else [])
            pipeline = Pipeline(settings, sinks)
        except ZoneCatalogueError as e:
            print(f"zones: {e}", file=sys.stderr)
            return EXIT_USAGE
        except OutputExistsError as e:
            print(e, file=sys.stderr)
            return EXIT_USAGE
        except CheckpointError as e:
            print(f"pipeline.state_dir: {e}", file=sys.stderr)
            print("  (a checkpoint closewatch did not write is never read: see docs/operations.md, Checkpoints)",
                  file=sys.stderr)
            return EXIT_USAGE
        server = None
        if args.serve_map:
            from maps.errors import MapsError
            from maps.live import SituationStore
            from maps.server import serve_live_map

            store = SituationStore.from_settings(settings, pipeline.zones)
            try:
                server = serve_live_map(store, settings.map, zones=pipeline.zones, outlines=country_outlines())
            except MapsError as e:
                print(f"map: {e}", file=sys.stderr)
                return EXIT_FAILURE
            stack.callback(server.stop)
            map_sink = MapStoreSink(store)
            pipeline.sinks.append(map_sink)
            pipeline.attach(map_sink)
            print(f"live map at {server.url}", file=sys.stderr, flush=True)
        try:
            summary = pipeline.run(stop)
        except KeyboardInterrupt:
            print("interrupted while draining: what was not yet synced may be missing from the sinks "
                  "(a Kafka-fed run starts again from its last checkpoint)", file=sys.stderr)
            return EXIT_FAILURE
        except AlertsError as e:
            print(f"kafka: {e}", file=sys.stderr)
            return EXIT_FAILURE
        spooled = _close_kafka(sinks)
        if spooled is None:
            return EXIT_FAILURE
        _print_summary(summary, settings)
        code = _outcome(summary, settings, spooled)
        if recorder and args.map:
            _write_map(args.map, settings, recorder)
            print(f"map: {args.map}")
        sys.stdout.flush()
        if server is not None and not stop.is_set():
            print(f"feeds ended; the live map stays at {server.url} until Ctrl-C", file=sys.stderr, flush=True)
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
    return code


def _run_worker(settings: Settings) -> int:
    """``closewatch run --role ingest|engine``: one worker of a deployment on Kafka (closewatch.worker)."""
    from alerts.errors import AlertsError
    from alerts.producer import KafkaSink
    from closewatch.checkpoint import CheckpointError
    from closewatch.worker import EngineWorker, IngestWorker, WorkerError, ensure_worker_topics

    assert settings.kafka is not None, "checked by the settings"
    stop = threading.Event()
    _on_signals(stop)
    role = settings.scale.role
    with ExitStack() as stack:
        try:
            sink = _worker_sink(settings)
        except AlertsError as e:
            print(f"kafka: {e}", file=sys.stderr)
            return EXIT_FAILURE
        stack.callback(sink.close)
        sinks: list[Any] = [sink]
        if settings.archive.enabled:  # ingest: tracks, dead letters, zones; engine: events, its dead letters
            from closewatch.archive import ArchiveSink

            archive = ArchiveSink(settings.archive, run_settings=settings, kind=role)
            stack.callback(archive.close)
            sinks.append(archive)
        try:
            sink.ensure_topics()
            ensure_worker_topics(settings)
            worker = (IngestWorker if role == "ingest" else EngineWorker)(settings, FanOut(*sinks), stop)
            code = worker.run()
        except (WorkerError, CheckpointError) as e:
            print(f"{role} worker: {e}", file=sys.stderr)
            return EXIT_USAGE
        except AlertsError as e:
            print(f"kafka: {e}", file=sys.stderr)
            return EXIT_FAILURE
        if _close_kafka([sink]) is None:
            return EXIT_FAILURE
        if isinstance(worker, IngestWorker):
            print(f"ingest worker: {worker.updates} track updates, {worker.records} records to "
                  f"{settings.scale.cells_topic} ({worker.copies} halo copies, {worker.interest_copies} interest copies), "
                  f"{worker.letters} dead letters, {worker.notices} notified zones sent to every partition")
        else:
            print(f"engine worker: {worker.reports} reports judged, {worker.events} event revisions published, "
                  f"{worker.context_events} context events (--explain), "
                  f"{worker.notified_zones} notified zones taken, {worker.restored} partition states restored")
    return code


def _worker_sink(settings: Settings) -> "KafkaSink":
    """The Kafka sink of a worker, with a spool of its own: ``<spool_dir>/<role>-<k>``, the first
    slot no running worker holds (several workers share a machine; a restarted one takes over a
    free slot and sends what an earlier worker left in it)."""
    from alerts.errors import AlertsError, SpoolInUseError
    from alerts.producer import KafkaSink

    assert settings.kafka is not None
    base = Path(settings.kafka.spool_dir)
    for k in range(256):
        try:
            return KafkaSink(settings.kafka, spool_dir=base / f"{settings.scale.role}-{k}")
        except SpoolInUseError:
            continue
    raise AlertsError(f"kafka.spool_dir {base}: 256 workers of role {settings.scale.role} already hold a spool there")


def _close_kafka(sinks: Sequence[object]) -> int | None:
    """Close the Kafka sink (deliver what it can); the records left in its spool, None on a failure."""
    from alerts.errors import AlertsError
    from alerts.producer import KafkaSink

    left = 0
    for sink in sinks:
        if isinstance(sink, KafkaSink):
            try:
                sink.close(timeout_s=10.0 if sink.mode == "spooling" else 30.0)
            except AlertsError as e:
                print(f"kafka: {e}", file=sys.stderr)
                return None
            left += int(sink.stats()["spool_pending"])
    return left


def _outcome(summary: "RunSummary", settings: Settings, spooled: int) -> int:
    """What went wrong, one line each, and the exit code (module docstring)."""
    _print_health(summary)
    code = EXIT_OK
    if summary.stopped:
        print("stopped on request: drained and synced", file=sys.stderr)
    for feed, error in summary.failed_feeds.items():
        print(f"feed {feed} given up: {error}", file=sys.stderr)
        code = EXIT_FAILURE if not summary.stopped else code
    if summary.all_rejected and not summary.stopped:
        print(f"every record was rejected ({sum(summary.dead_letters.values())} dead letters): nothing reached "
              "the engine; see the dead letters for why", file=sys.stderr)
        code = EXIT_FAILURE
    if spooled and settings.kafka is not None:
        print(f"Kafka at {settings.kafka.bootstrap_servers} unreachable: {spooled} records wait in the spool "
              f"{settings.kafka.spool_dir} and are delivered at the next start with this spool_dir",
              file=sys.stderr)
        if code == EXIT_OK and not summary.stopped:
            code = EXIT_SERVICE
    return code


def _print_health(summary: "RunSummary") -> None:
    """Dead letters past decoding by stage, feed restarts, decoder state evicted."""
    from ingest import stats as feed_stats

    later = {stage: n for stage, n in summary.dead_letters_per_stage.items() if stage != "decode"}
    if later:
        print("records failed after decoding: " + ", ".join(f"{n} at {stage}" for stage, n in sorted(later.items())))
    restarts = {f: h.restarts for f, h in summary.feed_health.items() if h.restarts}
    if restarts:
        print("feeds restarted: " + ", ".join(f"{f} {n} times" for f, n in sorted(restarts.items())))
    evicted = {name: s.evicted for name, s in feed_stats.registry().items() if s.evicted}
    if evicted:
        print("decoder state evicted to stay bounded: " + "; ".join(
            f"{name}: " + ", ".join(f"{n} {what}" for what, n in counts.most_common()) for name, counts in sorted(evicted.items())
        ))


def _print_summary(summary: "RunSummary", settings: Settings) -> None:
    """What the run did, in a few lines whatever the input: dead letters grouped by feed and
    reason with one example each, what the feeds held that is not a track, and what the
    engine set aside."""
    from ingest import stats as feed_stats

    print(f"track updates: {summary.updates} ({', '.join(f'{k}: {v}' for k, v in sorted(summary.updates_per_feed.items()))})")
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(summary.events_per_kind.items())) or "none"
    print(f"event revisions: {summary.events} ({kinds})")
    if summary.profile:
        print(f"rule profile: {summary.profile}")
    dup = sum(summary.duplicates_per_feed.values())
    if summary.suppressed or dup:
        per = ", ".join(f"{kind} {reason}: {n}" for (kind, reason), n in sorted(summary.suppressed.items()))
        per = ", ".join(x for x in (per, f"duplicate reports: {dup}" if dup else "") if x)
        print(f"not raised (incidents by kind and reason): {sum(summary.suppressed.values())} ({per})")
    if summary.context_events:
        where = settings.sinks.context_jsonl
        if settings.kafka is not None:
            where += f" and topic {settings.kafka.context_topic_name}"
        print(f"context events (--explain): {summary.context_events} -> {where}")
    if summary.duplicates_per_feed:
        per_feed = ", ".join(f"{k}: {v}" for k, v in sorted(summary.duplicates_per_feed.items()))
        print(f"duplicates (one message heard by several receivers): {sum(summary.duplicates_per_feed.values())} "
              f"({per_feed})")
    if summary.dead_letters:
        print(f"dead letters: {sum(summary.dead_letters.values())}")
        for (feed, reason), n in sorted(summary.dead_letters.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1])):
            example = summary.dead_letter_examples.get((feed, reason))
            print(f"  {feed}: {n} x {reason}" + (f", e.g. {example}" if example else ""))
    ignored = []
    for feed_settings in settings.feeds:
        counts = feed_stats.get(feed_settings.name)
        if counts is not None and counts.ignored:
            top = ", ".join(f"{n} x {why}" for why, n in counts.ignored.most_common(4))
            more = len(counts.ignored) - 4
            ignored.append(f"  {feed_settings.name}: {top}" + (f" and {more} more kinds" if more > 0 else ""))
    if ignored:
        print("not tracks (read and set aside):")
        print("\n".join(ignored))
    out_of_order = summary.engine_stats.get("out_of_order_dropped", 0)
    if out_of_order:
        print(f"reports older than their track's last one (dropped): {out_of_order}")
    if settings.kafka is not None:
        print(f"events topic: {settings.kafka.events_topic} on {settings.kafka.bootstrap_servers}")
    else:
        print(f"events file: {settings.sinks.events_jsonl}")
        print(f"dead letters file: {settings.sinks.deadletter_jsonl}")


def country_outlines() -> dict | None:  # type: ignore[type-arg]
    """The catalogue's country outlines as a FeatureCollection, for the tile-less base map."""
    from shapely.geometry import mapping

    from config.zones import ZoneCatalogueError, load_country_outlines

    try:
        outlines = load_country_outlines()
    except ZoneCatalogueError as e:
        log.warning("no country outlines for the map: %s", e)
        return None
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": mapping(o.geometry), "properties": {"code": o.code, "name": o.name}}
            for o in outlines
        ],
    }


def _write_map(path: Path, settings: Settings, recorder: RecorderSink) -> None:
    from maps.render import render_situation_map

    render_situation_map(
        path,
        zones=recorder.zones,
        tracks=recorder.tracks,
        events=recorder.events,
        outlines=country_outlines(),
        title="closewatch situation",
        tile_url=settings.map.tile_url,
    )


def _write_replay(path: Path, settings: Settings, recorder: RecorderSink) -> None:
    from maps.replay import render_replay

    render_replay(
        path,
        recorder.tracks,
        recorder.events,
        zones=recorder.zones,
        outlines=country_outlines(),
        title="closewatch demo: incident replay",
        tile_url=settings.map.tile_url,
        stale_after_s={str(k): v for k, v in settings.proximity.stale_after_s.items()},
    )


def _demo(args: argparse.Namespace) -> int:
    from alerts.broker import BrokerError, LocalBroker, running_broker_bootstrap
    from closewatch.pipeline import Pipeline
    from closewatch.scenario import baltic, incsea

    scenario = getattr(args, "scenario", "baltic")
    out: Path = (args.out or Path("demo-incsea" if scenario == "incsea" else "demo-out")).resolve()
    paths = incsea.write_scenario(out) if scenario == "incsea" else baltic.write_scenario(out)
    settings = load_settings(paths["config"])
    for p in (settings.sinks.events_jsonl, settings.sinks.deadletter_jsonl, settings.sinks.tracks_jsonl):
        if p:
            Path(p).unlink(missing_ok=True)
    if settings.archive.enabled and (Path(settings.archive.path) / "runs").is_dir():
        shutil.rmtree(settings.archive.path)  # the demo's own archive, in its own folder: a fresh one
    feeds = ", ".join(f"{k}: {p.name}" for k, p in paths.items() if k != "config")
    print(f"{scenario} scenario written to {out} ({feeds})")
    with ExitStack() as stack:
        bootstrap = None
        if not args.no_kafka:
            bootstrap = running_broker_bootstrap(Path(".closewatch/kafka"))
            if bootstrap:
                print(f"using the broker started by `closewatch kafka up` at {bootstrap}")
            else:
                work = stack.enter_context(tempfile.TemporaryDirectory(prefix="closewatch-demo-kafka-"))
                broker = LocalBroker(Path(work))
                try:
                    print("starting a local Apache Kafka broker for the demo ...", flush=True)
                    broker.start()
                except (BrokerError, OSError) as e:
                    # The demo stands without Kafka: one line says why and how to get it.
                    reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    print(f"Kafka skipped: {reason}; the demo goes on without it.", file=sys.stderr, flush=True)
                else:
                    stack.callback(broker.stop)
                    bootstrap = broker.bootstrap_servers
                    print(f"broker up at {bootstrap}")
        if bootstrap:
            settings = settings.model_copy(update={"kafka": KafkaSettings(bootstrap_servers=bootstrap)})
        with ExitStack() as sink_stack:
            sinks = build_sinks(settings, sink_stack, kind="demo")
            if settings.kafka is not None:
                sinks.append(_jsonl_sink(settings, sink_stack))  # the demo also leaves the events in a file
            recorder = RecorderSink()
            sinks.append(recorder)
            summary = Pipeline(settings, sinks).run()
        _print_summary(summary, settings)
        map_path = Path(settings.map.output)
        _write_map(map_path, settings, recorder)
        replay_path = out / "replay.html"
        _write_replay(replay_path, settings, recorder)
        print(f"\nmap: {map_path}  (open it in a browser; it works offline)")
        print(f"incident replay: {replay_path}  (time slider and the table of events)")
        print(f"events file: {settings.sinks.events_jsonl}, tracks file: {settings.sinks.tracks_jsonl}")
        _print_incidents(settings, recorder)
        if settings.kafka is not None:
            print(
                "\nto read them yourself: `closewatch kafka up`, then `closewatch demo`, then "
                "`closewatch tail --from-beginning` (add --json for scripts); `closewatch kafka down` to stop."
            )
    return EXIT_OK


def _print_incidents(settings: Settings, recorder: RecorderSink) -> None:
    """The table of incidents, then every revision in time order, as `closewatch tail` prints them:
    read back from the Kafka topic when there is one, else the run's own events."""
    from alerts.consumer import format_event_line, subscribe
    from closewatch.incidents import in_time_order, incident_table

    if settings.kafka is not None:
        topic = settings.kafka.events_topic
        features = [r.feature for r in subscribe(settings.kafka, topic, from_beginning=True, timeout_s=5.0)]
        source = f"on Kafka topic {topic}, read back"
    else:
        features = list(recorder.events)  # already the topic's values
        source = f"in {settings.sinks.events_jsonl}"
    print()
    print("\n".join(incident_table(features)))
    print(f"\nthe events {source}, in time order (as `closewatch tail` prints them):")
    emitted = [(e["properties"]["event_id"], e["properties"]["seq"]) for e in recorder.events]
    for feature in in_time_order(features, emitted):
        print("  " + format_event_line(feature))


def _config_check(args: argparse.Namespace) -> int:
    """Everything `run` checks before it opens a feed (the same function), without side effects."""
    settings = _load(args.file)
    if settings is None:
        return EXIT_USAGE
    print(f"{args.file}: valid ({len(settings.feeds)} feeds, kafka: {'yes' if settings.kafka else 'no, JSON Lines'})")
    if not settings.feeds:
        print(f"{args.file}: note: no [[feeds]]: `closewatch run` has nothing to read "
              "(fine for `closewatch map serve`)", file=sys.stderr)
    if settings.kafka is None and not any(f.transport == "kafka" for f in settings.feeds):
        for key in ("events_jsonl", "deadletter_jsonl", "tracks_jsonl"):
            path = getattr(settings.sinks, key)
            if path and holds_output(path):
                print(f"{args.file}: note: sinks.{key}: {path} holds an earlier run's output: `closewatch run` "
                      "refuses to add to it without --append", file=sys.stderr)
    return EXIT_OK
