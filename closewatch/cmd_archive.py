"""`closewatch archive import|info`: fill the archive from recordings, JSON Lines files or Kafka; say what is in it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from closewatch.cli_args import parse_when
from config.settings import ConfigError, Settings, load_settings

__all__ = ["add_parser"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVICE = 0, 1, 2, 3


def _settings(config: Path | None) -> Settings:
    if config is None and Path("closewatch.toml").is_file():
        config = Path("closewatch.toml")
    return load_settings(config)


def _import(args: argparse.Namespace) -> int:
    from alerts.errors import AlertsError
    from closewatch.archive import ArchiveError, ArchiveSink
    from closewatch.archive.importer import import_kafka, import_recordings
    from closewatch.feedfiles import FeedFileError

    try:
        settings = _settings(args.config)
        if args.archive is not None:
            settings = settings.model_copy(update={"archive": settings.archive.model_copy(update={"path": str(args.archive)})})
        start = parse_when(args.start, "--from") if args.start else None
        end = parse_when(args.end, "--to") if args.end else None
        if not args.sources and not args.kafka:
            raise ValueError("name recordings or JSON Lines files to import, or --kafka")
        if args.sources and args.kafka:
            raise ValueError("import files or --kafka, one at a time")
        if (start is not None or end is not None) and not args.kafka:
            raise ValueError("--from/--to select a time range of the Kafka topics (files are imported whole)")
    except (ValueError, ConfigError) as e:
        print(f"closewatch archive import: {e}", file=sys.stderr)
        return EXIT_USAGE
    sink = ArchiveSink(settings.archive, run_settings=settings, kind="import")
    try:
        try:
            counts = (import_kafka(settings, start, end, sink) if args.kafka
                      else import_recordings(args.sources, settings, sink))
        finally:
            sink.close()
    except FeedFileError as e:
        print(f"closewatch archive import: {e}", file=sys.stderr)
        return EXIT_USAGE
    except AlertsError as e:
        print(f"closewatch archive import: Kafka: {e}", file=sys.stderr)
        return EXIT_SERVICE
    except (ArchiveError, OSError) as e:
        print(f"closewatch archive import: {e}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"imported into {settings.archive.path} (run {sink.run_id}): {counts.line()}")
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    from closewatch.archive import ArchiveError
    from closewatch.archive.store import HOURLY, hour_key, locate_archive
    from config.times import format_utc

    try:
        archive = locate_archive(args.archive, args.config)
    except (ArchiveError, ConfigError) as e:
        print(f"closewatch archive info: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"archive {archive.root}")
    for name in HOURLY:
        hours = archive.hours(name)
        files = archive.part_files(name)
        size = sum(f.stat().st_size for f in files)
        span = f"{hour_key(hours[0])} .. {hour_key(hours[-1])}" if hours else "empty"
        print(f"  {name:<12} {len(hours):>5} hours  {len(files):>6} files  {size / 1e6:>10.1f} MB  {span}")
    data = archive.data_range()
    if data is not None:
        print(f"  track data from {format_utc(data[0])} to {format_utc(data[1])}")
    runs = archive.runs()
    print(f"  runs: {len(runs)}" + (f" (last {runs[-1].run_id}, {runs[-1].kind})" if runs else ""))
    return EXIT_OK


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register `closewatch archive import|info`."""
    p = sub.add_parser("archive", help="the archive: import recordings, JSON Lines files or Kafka; what it holds")
    asub = p.add_subparsers(dest="archive_command", metavar="ACTION", required=True)
    imp = asub.add_parser(
        "import", help="fill the archive from feed recordings, JSON Lines sink files or the Kafka topics",
        description="Decode feed recordings (FORMAT:PATH or PATH; the format of a bare path is recognised, or "
        "taken from the [[feeds]] entry naming it) with the feeds' decoders, no engine, merged by data time; "
        "take closewatch's own JSON Lines files (events, tracks, dead letters) as they are; or, with --kafka, "
        "read the [kafka] tracks, events and dead-letter topics from --from to before --to (data time). "
        "A progress bar on a terminal, log lines otherwise.",
    )
    imp.add_argument("sources", nargs="*", metavar="FILE", help="feed recordings or closewatch JSON Lines files")
    imp.add_argument("--kafka", action="store_true", help="import the [kafka] topics instead of files")
    imp.add_argument("--from", dest="start", help="with --kafka: from this data time (ISO 8601 with a zone, or epoch s)")
    imp.add_argument("--to", dest="end", help="with --kafka: to before this data time")
    imp.add_argument("-c", "--config", type=Path, help="closewatch.toml (default: ./closewatch.toml, else the defaults)")
    imp.add_argument("--archive", type=Path, help="the archive folder (default: [archive] path)")
    imp.set_defaults(handler=_import)
    info = asub.add_parser("info", help="hours, files and sizes of each table, the span of the data, the runs")
    info.add_argument("-c", "--config", type=Path)
    info.add_argument("--archive", type=Path)
    info.set_defaults(handler=_info)
