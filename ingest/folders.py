"""A file feed whose ``path`` is a folder: its files in data-time order, each named.

Recorders cut their output into many files (hourly, daily, per receiver) whose names need
not sort in time (``ais-receiver-b.nmea`` before ``ais-receiver-a.nmea``; a day number
without its leading zero). Read in name order such a folder would hand the engine a week
of reports and then the week before it: every report of the second file older than its
track's last one, and incidents closed as stale a week late. So a folder feed:

* lists its regular files (names starting with ``.`` are skipped, as are folders);
* finds each file's *first data time*: the time of the first track report a fresh
  decoder of the feed's format reads from it (a file with none sorts first, by name);
* reads the files in that order with the feed's one decoder, so what one file says
  carries into the next (AIS static data, SBS-1 callsigns), and counts positions and
  names ``raw_ref`` and dead letters per file: ``<feed>:<file>:<line>``
  (:meth:`ingest._common.DecoderBase.begin_file`);
* a file that cannot be read to its end (a truncated gzip member, a file that vanished
  or is not readable) is a dead letter ``unreadable file`` at the position after its
  last unit read; what it gave before stands and the next file is read.

Files that overlap in time are not interleaved: the reports of the later-starting file
that are older than what the engine already has are dropped and counted
(``out_of_order_dropped``, in the run's summary). Compressed files (gzip, Zstandard) are
read like the others (:func:`ingest.transports.open_recording`).
"""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from config.records import TrackUpdate
from ingest.errors import IngestError, TransportError
from ingest.transports import file_units, folder_files

__all__ = ["first_data_time", "in_data_time_order", "read_folder"]

log = logging.getLogger(__name__)

#: Runs a decoder on units: ``decode(decoder, units, final)``.
Decode = Callable[[Any, Iterable[bytes], bool], Iterator[Any]]

# How many units of a file are read at most to find its first report.
_PROBE_UNITS = 100_000


def _plain(decoder: Any, units: Iterable[bytes], final: bool) -> Iterator[Any]:
    return decoder.decode(units, final=final)  # type: ignore[no-any-return]


def first_data_time(path: Path, decoder: Any, decode: Decode = _plain) -> float | None:
    """The ``t_s`` of the first track report ``decoder`` (fresh, of the feed's format)
    reads from ``path`` within its first units; None when there is none or it cannot
    be read. ``decode(decoder, units, final)`` runs the decoder (the feed's guard)."""
    units = file_units(path, decoder.framing, limits=decoder.limits)
    try:
        for item in decode(decoder, _first(units, _PROBE_UNITS), False):
            if isinstance(item, TrackUpdate):
                return item.t_s
    except IngestError as e:
        log.warning("%s: cannot look for its first report: %s", path, e)
    finally:
        units.close()  # type: ignore[attr-defined]
    return None


def _first(units: Iterator[bytes], n: int) -> Iterator[bytes]:
    for i, unit in enumerate(units):
        if i >= n:
            return
        yield unit


def in_data_time_order(files: list[Path], probe: Callable[[], Any], decode: Decode = _plain) -> list[Path]:
    """``files`` sorted by first data time (:func:`first_data_time` with a decoder from
    ``probe``), then name: deterministic for the same files."""
    keyed = []
    for f in files:
        t = first_data_time(f, probe(), decode)
        keyed.append((-math.inf if t is None else t, f.name, f))
    keyed.sort(key=lambda k: (k[0], k[1]))
    order = [f for _, _, f in keyed]
    if order != files:
        log.info("folder %s: files read in data-time order, not name order", files[0].parent)
    return order


def read_folder(
    path: Path, decoder: Any, probe: Callable[[], Any], stop: threading.Event | None = None, decode: Decode = _plain
) -> Iterator[Any]:
    """The items of every file of ``path`` in data-time order, decoded by ``decoder``
    (whose state carries across files); ``probe`` makes fresh decoders of the same
    format to find each file's first data time. ``decode(decoder, units, final)`` runs
    a decoder on units (:func:`ingest.feeds.guarded_decode` in a feed)."""
    files = folder_files(path)
    if len(files) > 1:
        files = in_data_time_order(files, probe, decode)
    for f in files:
        if stop is not None and stop.is_set():
            return
        decoder.begin_file(f.name)
        failed: list[TransportError] = []
        yield from decode(decoder, _until_unreadable(file_units(f, decoder.framing, stop, decoder.limits), failed), False)
        if failed:
            # One unreadable file (a truncated gzip, a file gone or unreadable) is one bad
            # input of the folder, not the end of the feed: what it gave before stands.
            log.warning("feed %s: %s; going on with the next file", decoder.feed, failed[0])
            yield decoder.stats.dead_letter(decoder.position + 1, b"", f"unreadable file: {failed[0]}")
    yield from decode(decoder, [], True)


def _until_unreadable(units: Iterator[bytes], failed: list[TransportError]) -> Iterator[bytes]:
    """``units`` until the file cannot be read further; the error is put in ``failed``
    (the decoder still decodes every unit read before it)."""
    try:
        yield from units
    except TransportError as e:
        failed.append(e)
