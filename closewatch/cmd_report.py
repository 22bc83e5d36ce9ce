"""`closewatch report`: an incident report folder; `report keygen`; `report verify`.

    closewatch report EVENT_ID [--pad 15m] [--archive DIR] [--out DIR] [--sign KEY]
    closewatch report --from T --to T [--bbox W,S,E,N] [--archive DIR] [--out DIR] [--sign KEY]
    closewatch report keygen [--out DIR]
    closewatch report verify DIR [--public-key KEY.pub]

The archive is found as for ``replay``: ``--archive``, else the ``[archive] path`` of ``-c`` or
of ``./closewatch.toml``, else ``closewatch-archive/`` or ``archive/`` here. So ``closewatch demo
--out d`` and then ``closewatch report ID`` inside ``d`` just works. The folder's contents:
``closewatch.report``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from closewatch.cli_args import parse_box, parse_duration, parse_when
from config.settings import ConfigError, load_settings

__all__ = ["add_parser"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVICE = 0, 1, 2, 3

_USAGE = """\
closewatch report EVENT_ID [--pad 15m] [--archive DIR] [--out DIR] [--sign KEY] [-c FILE]
closewatch report --from T --to T [--bbox W,S,E,N] [--archive DIR] [--out DIR] [--sign KEY] [-c FILE]
closewatch report keygen [--out DIR]
closewatch report verify DIR [--public-key KEY.pub]"""


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", metavar="EVENT_ID|keygen|verify",
                   help="the incident (event_id); or keygen; or verify DIR")
    p.add_argument("folder", nargs="?", type=Path, help="verify: the report folder")
    p.add_argument("--pad", type=parse_duration, default=900.0, help="time before and after the incident (15m)")
    p.add_argument("--from", dest="start", help="window start (ISO 8601 with a zone, or epoch seconds)")
    p.add_argument("--to", dest="end", help="window end")
    p.add_argument("--bbox", help="west,south,east,north: the revisions with a position inside")
    p.add_argument("--archive", type=Path, help="the archive folder (default: from the configuration, or here)")
    p.add_argument("-c", "--config", type=Path,
                   help="run with this configuration (default: the one the live run recorded); also finds the archive")
    p.add_argument("--out", type=Path,
                   help="the report folder (default: report-EVENT_ID); keygen: the folder for the keys (default: here)")
    p.add_argument("--sign", type=Path, metavar="KEY", help="sign the manifest with this Ed25519 private key")
    p.add_argument("--max-lead-in", type=parse_duration, help="how far the lead-in may reach back (e.g. 6h)")
    p.add_argument("--public-key", type=Path, help="verify: the signer's public key you trust (PEM)")
    p.add_argument("--name", default="closewatch-report", help="keygen: file name stem (NAME.key, NAME.pub)")


def _report(args: argparse.Namespace) -> int:
    from closewatch.archive import ArchiveError
    from closewatch.archive.store import locate_archive
    from closewatch.replay import ReplayError, Window
    from closewatch.report import ReportError, build_report

    args.event_id = args.target
    try:
        if args.folder is not None:
            raise ValueError(f"unexpected argument {args.folder}")
        if args.event_id and (args.start or args.end):
            raise ValueError("give an EVENT_ID or --from/--to, not both")
        window = None
        if not args.event_id:
            if not (args.start and args.end):
                raise ValueError("give an EVENT_ID, or --from and --to")
            window = Window(parse_when(args.start, "--from"), parse_when(args.end, "--to"),
                            parse_box(args.bbox) if args.bbox else None)
        archive = locate_archive(args.archive, args.config)
        settings = load_settings(args.config) if args.config else None
        name = args.event_id or f"{args.start}".replace(":", "")
        out = args.out or Path(f"report-{name}")
        summary = build_report(archive, out, event_id=args.event_id, window=window, pad_s=args.pad,
                               settings=settings, sign_key=args.sign, max_lead_in_s=args.max_lead_in)
    except (ValueError, ConfigError, ReplayError, ReportError, ArchiveError) as e:
        print(f"closewatch report: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"report: {summary.folder}/index.html")
    print(f"  {summary.revisions} revisions of {summary.incidents} incidents from {summary.updates:,} track updates;"
          f" figures: {', '.join(summary.figures) or 'none'}")
    print(f"  manifest: {summary.folder}/manifest.json" + (f", signed by {summary.signed_by}" if summary.signed_by else
                                                           " (not signed: --sign KEY)"))
    for note in summary.notes:
        print(f"  note: {note}")
    if summary.skipped:
        print(f"closewatch report: written without {len(summary.skipped)} unreadable archive file(s): "
              + ", ".join(summary.skipped), file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _keygen(args: argparse.Namespace) -> int:
    from closewatch.report import ReportError, keygen

    args.out = args.out or Path(".")
    args.out.mkdir(parents=True, exist_ok=True)
    private, public = args.out / f"{args.name}.key", args.out / f"{args.name}.pub"
    try:
        fp = keygen(private, public)
    except ReportError as e:
        print(f"closewatch report keygen: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"private key: {private} (keep it; readable by you only)")
    print(f"public key: {public} (hand it to whoever checks your reports)")
    print(f"fingerprint: {fp}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from closewatch.report import VerificationError, verify_report

    if args.folder is None:
        print("closewatch report verify: name the report folder", file=sys.stderr)
        return EXIT_USAGE
    if not (args.folder / "manifest.json").is_file():
        print(f"closewatch report verify: {args.folder}: not a report (no manifest.json)", file=sys.stderr)
        return EXIT_USAGE
    try:
        lines = verify_report(args.folder, args.public_key)
    except VerificationError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return EXIT_FAILURE
    print("\n".join(lines))
    print(f"{args.folder}: verified")
    return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    if args.target == "keygen":
        return _keygen(args)
    if args.target == "verify":
        return _verify(args)
    return _report(args)


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    r = sub.add_parser("report", help="an incident report folder to hand over; report keygen; report verify",
                       usage=_USAGE, description="Write an incident report folder, make a signing key, or verify a "
                       "report (docs/archive.md, 'Report'). verify exits 1 naming what fails.")
    _add_options(r)
    r.set_defaults(handler=_dispatch)
