"""`closewatch replay`: the engine re-run over a past window (and `--compare`: what if).

Rules of the window, the lead-in and the end: ``closewatch.replay`` and docs/archive.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from closewatch.cli_args import parse_box, parse_duration, parse_speed, parse_when
from config.settings import ConfigError, Settings, load_settings

__all__ = ["add_parser", "open_input", "print_result"]

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVICE = 0, 1, 2, 3

_DESCRIPTION = """\
Re-run the engine over the data-time window [--from, --to) and report the event revisions
in it: from the archive (default), the Kafka topics of the configuration, or feed recordings
(FORMAT:PATH or PATH). The engine starts from nothing at a lead-in before --from (the longest
staleness plus the prediction horizon, further back to reopen incidents open at --from), so
the revisions are those the live run made, byte for byte but for the detection time.
--bbox keeps the revisions with a position in the box. --compare runs the window with the
configuration of -c and lists the incidents added, removed and changed against those raised
at the time (also as compare.csv). Exit 1 when archive files could not be read (each is
named; the rest is replayed)."""


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    r = sub.add_parser("replay", help="re-run the engine over a past window (archive, Kafka or feed files)",
                       description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--from", dest="start", required=True, help="window start: ISO 8601 with a zone (…Z) or epoch seconds")
    r.add_argument("--to", dest="end", required=True, help="window end (excluded)")
    r.add_argument("--bbox", help="west,south,east,north in degrees: report the revisions with a position inside")
    r.add_argument("--source", nargs="+", default=["archive"], metavar="SOURCE",
                   help="archive (default), kafka, or feed recordings FORMAT:PATH / PATH ...")
    r.add_argument("-c", "--config", type=Path,
                   help="run with this configuration (default: the one the live run recorded in the archive)")
    r.add_argument("--archive", type=Path, help="the archive folder (default: from the configuration, or here)")
    pace = r.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=parse_speed, help="play the window at this many data seconds per second")
    pace.add_argument("--max", action="store_true", help="as fast as possible (the default)")
    r.add_argument("--out", type=Path, help="write events.jsonl, events.csv, carried-in.jsonl, replay.json here")
    r.add_argument("--compare", action="store_true",
                   help="compare with the incidents raised at the time (the configuration of -c: what if)")
    r.add_argument("--max-lead-in", type=parse_duration,
                   help="how far the lead-in may reach back to reopen open incidents (e.g. 6h; default [archive])")
    r.set_defaults(handler=_replay)


def open_input(source: list[str], window: Any, settings: Settings | None, archive_dir: Path | None,
               config: Path | None, max_lead_in_s: float | None) -> Any:
    """The replay input of ``--source`` (raises ReplayError, ArchiveError, ConfigError, FeedFileError)."""
    from closewatch.archive.store import locate_archive
    from closewatch.replay import ReplayError
    from closewatch.replay_inputs import from_archive, from_files, from_kafka

    if source == ["archive"]:
        archive = locate_archive(archive_dir, config)
        return from_archive(archive, window, settings, max_lead_in_s=max_lead_in_s)
    if source == ["kafka"]:
        if settings is None:
            cfg = config or (Path("closewatch.toml") if Path("closewatch.toml").is_file() else None)
            settings = load_settings(cfg)
        return from_kafka(settings, window, max_lead_in_s=max_lead_in_s)
    if "archive" in source or "kafka" in source:
        raise ReplayError("--source is archive, kafka, or feed files; not a mix")
    return from_files(settings or Settings(), source)


def print_result(result: Any, inp: Any) -> None:
    """The replay for people, on stdout."""
    from alerts.codec import event_to_feature
    from alerts.consumer import format_event_line
    from closewatch.incidents import incident_table
    from config.times import format_utc

    w = result.window
    where = "whole area" if w.bbox is None else "W {:.3f} S {:.3f} E {:.3f} N {:.3f}".format(*w.bbox)
    print(f"replay {format_utc(w.from_s)} - {format_utc(w.to_s)} ({where}) from {inp.source}")
    if result.start_s > float("-inf"):
        print(f"lead-in from {format_utc(result.start_s)} ({(w.from_s - result.start_s) / 60:.0f} min before the window)")
    else:
        print("lead-in: the recordings from their start")
    print(f"input: {result.updates:,} track updates, {len(result.zones)} zones watched"
          + ("; the input ended inside the window (open incidents closed at its end)" if result.ended else ""))
    incidents = {e.event_id for e in result.events} | {e.event_id for e in result.carried_in}
    print(f"events in the window: {len(result.events)} revisions of {len(incidents)} incidents "
          f"({len(result.carried_in)} carried in, {len(result.open_at_end)} open at the end)")
    features = [event_to_feature(e) for e in result.carried_in + result.events]
    if features:
        print("\n".join(incident_table(features)))
    for e in result.carried_in:
        print("  carried in: " + format_event_line(event_to_feature(e)))
    for e in sorted(result.events, key=lambda e: e.t_s):
        print("  " + format_event_line(event_to_feature(e)))
    for note in result.notes:
        print(f"note: {note}")


def _write_outputs(out: Path, result: Any, inp: Any) -> None:
    from closewatch.exports import write_events_csv, write_events_jsonl

    write_events_csv(result.events, out / "events.csv")
    write_events_jsonl(result.carried_in, out / "carried-in.jsonl")
    summary = {
        "window": {"from_s": result.window.from_s, "to_s": result.window.to_s, "bbox": result.window.bbox},
        "source": inp.source,
        "lead_in_start_s": result.start_s if result.start_s > float("-inf") else None,
        "updates": result.updates,
        "revisions": len(result.events),
        "carried_in": [e.event_id for e in result.carried_in],
        "open_at_end": [e.event_id for e in result.open_at_end],
        "input_ended": result.ended,
        "notes": result.notes,
        "unreadable_archive_files": [str(e.path) for e in inp.skipped],
        "settings_from": f"run {inp.run.run_id}" if inp.run is not None else "the configuration given or the defaults",
    }
    (out / "replay.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _replay(args: argparse.Namespace) -> int:
    from alerts.errors import AlertsError
    from closewatch.archive.errors import ArchiveError
    from closewatch.feedfiles import FeedFileError
    from closewatch.progress import Progress
    from closewatch.replay import ReplayError, Window, run_replay
    from closewatch.sinks import JsonlSink, OutputExistsError

    try:
        window = Window(parse_when(args.start, "--from"), parse_when(args.end, "--to"),
                        parse_box(args.bbox) if args.bbox else None)
        settings = load_settings(args.config) if args.config else None
        inp = open_input(args.source, window, settings, args.archive, args.config, args.max_lead_in)
    except (ValueError, ConfigError, ReplayError, ArchiveError, FeedFileError) as e:
        print(f"closewatch replay: {e}", file=sys.stderr)
        return EXIT_USAGE
    except AlertsError as e:
        print(f"closewatch replay: Kafka: {e}", file=sys.stderr)
        return EXIT_SERVICE
    if args.compare and inp.recorded is None:
        print("closewatch replay: --compare needs the events raised at the time: --source archive or kafka",
              file=sys.stderr)
        return EXIT_USAGE
    with ExitStack() as stack:
        sinks = []
        if args.out is not None:
            try:
                jsonl = JsonlSink(args.out / "events.jsonl", args.out / "deadletter.jsonl")
            except OutputExistsError as e:
                print(f"closewatch replay: {e}", file=sys.stderr)
                return EXIT_USAGE
            stack.callback(jsonl.close)
            sinks.append(jsonl)
        progress = stack.enter_context(Progress("replay", inp.total, "updates"))
        try:
            result = run_replay(inp.settings, inp.zones, inp.items, window, start_s=inp.start_s, sinks=sinks,
                                speed=None if args.max else args.speed, progress=progress, notes=inp.notes)
        except AlertsError as e:
            print(f"closewatch replay: Kafka: {e}", file=sys.stderr)
            return EXIT_SERVICE
        except (ArchiveError, FeedFileError, OSError) as e:
            print(f"closewatch replay: {e}", file=sys.stderr)
            return EXIT_FAILURE
    print_result(result, inp)
    if args.out is not None:
        _write_outputs(args.out, result, inp)
        print(f"written to {args.out}/")
    if args.compare:
        from closewatch.whatif import compare_incidents, format_changes, write_changes_csv

        assert inp.recorded is not None
        changes = compare_incidents(inp.recorded, result.all_revisions, window)
        print()
        print("\n".join(format_changes(changes)))
        path = write_changes_csv(changes, (args.out or Path(".")) / ("compare.csv" if args.out else
                                                                     "closewatch-compare.csv"))
        print(f"comparison table: {path}")
    for skipped in inp.skipped:
        print(f"closewatch replay: archive file not read: {skipped}", file=sys.stderr)
    if inp.skipped:
        print(f"closewatch replay: replayed without {len(inp.skipped)} unreadable archive file(s) named above",
              file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
