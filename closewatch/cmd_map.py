"""`closewatch map ...` commands: offline assets, the live map server, the replay."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_SERVICE = 0, 1, 2, 3


def _cmd_assets(args: argparse.Namespace) -> int:
    from maps.assets import fetch_assets
    from maps.errors import AssetsError

    try:
        root = fetch_assets(Path(args.dest) if args.dest else None, force=args.force)
    except AssetsError as e:
        print(f"closewatch map assets: {e}", file=sys.stderr)
        return EXIT_SERVICE
    print(root)
    return EXIT_OK


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register `closewatch map assets|serve|replay`."""
    p = sub.add_parser("map", help="map pages: offline assets, live map server, replay")
    msub = p.add_subparsers(dest="map_command", metavar="MAP_COMMAND")
    a = msub.add_parser(
        "assets",
        help="fetch Leaflet and its plugins from the npm registry into the cache (idempotent)",
        description="Install the pinned npm packages of maps/package-lock.json into "
        "$CLOSEWATCH_CACHE/map-assets (default ~/.cache/closewatch/map-assets) with `npm ci`. "
        "Prints the folder. Runs nothing when the pinned versions are already there.",
    )
    a.add_argument("--dest", help="install here instead of the cache")
    a.add_argument("--force", action="store_true", help="reinstall even when present")
    a.set_defaults(handler=_cmd_assets)

    def _usage(_args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=_usage)
