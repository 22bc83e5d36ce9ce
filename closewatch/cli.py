"""The ``closewatch`` command line.

Exit codes (documented in the README):

* 0 - success
* 1 - a runtime failure (a feed, the broker, the map server), message on stderr
* 2 - bad usage or an invalid configuration (the message names the key path)
* 3 - a required service could not be reached or started (Kafka, Java, Maven)

Each family of commands lives in its own module with an ``add_parser`` that
registers its sub-commands; the handlers return the exit code.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import sys
from typing import Callable, Sequence

from closewatch import __version__, cmd_archive, cmd_kafka, cmd_map, cmd_notices, cmd_replay, cmd_report, cmd_run, cmd_scale

__all__ = ["EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_SERVICE", "main"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_SERVICE = 3

_COMMAND_MODULES = (cmd_run, cmd_kafka, cmd_map, cmd_replay, cmd_report, cmd_archive, cmd_notices, cmd_scale)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="closewatch",
        description="Watch aircraft, ship and exercise feeds near the NATO/Russia borders "
        "and warn before a close encounter becomes an incident.",
    )
    parser.add_argument("--version", action="version", version=f"closewatch {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more diagnostics on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _COMMAND_MODULES:
        module.add_parser(sub)
    return parser


_OUR_PACKAGES = ("closewatch", "config", "ingest", "proximity", "alerts", "maps")


def _configure_logging(verbose: int) -> None:
    """Our diagnostics at INFO (-v: DEBUG); libraries' at WARNING (-vv: DEBUG too)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose >= 2 else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for name in _OUR_PACKAGES:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    if argv is None:
        # a process of its own (a 24/7 worker): a crash in a C library (GEOS, librdkafka) leaves
        # the Python stack of every thread in the log, not a silent exit
        faulthandler.enable()
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return handler(args)
