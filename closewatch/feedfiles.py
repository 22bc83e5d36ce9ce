"""Feed recordings named on the command line (``archive import``, ``replay --source FILES``).

A file is named as ``FORMAT:PATH`` (``ais-nmea:recording.nmea``), or by a path that a
``[[feeds]]`` entry of the configuration names (that feed's settings are used), or by
its path alone: then its format is recognised from its first line (AIS NMEA with or
without tag blocks and ``$PGHP``, SBS-1, Cursor on Target, aircraft.json, the exercise
GeoJSON, the generic track formats). The recordings are decoded by the feeds' own
decoders and merged by data time exactly as ``closewatch run`` merges file feeds, so a
replay of the files is the run over them.
"""

from __future__ import annotations

import gzip
import heapq
import itertools
import json
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Sequence

from config.affiliation import Affiliation
from config.records import DeadLetter, Notice, TrackUpdate
from config.settings import FeedSettings, Settings
from ingest.feeds import DECODERS, make_clock, make_decoder
from ingest.transports import file_units

__all__ = ["FeedFileError", "feed_for", "merged_items", "sniff_format", "unit_count"]

Item = TrackUpdate | Notice | DeadLetter

_SBS_TYPES = (b"MSG,", b"SEL,", b"ID,", b"AIR,", b"STA,", b"CLK,")


class FeedFileError(ValueError):
    """A recording named on the command line cannot be used (missing, or of no known format)."""


def _first_line(path: Path) -> bytes:
    try:
        with _open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    return bytes(line[:4096])
    except (OSError, EOFError) as e:
        raise FeedFileError(f"{path}: cannot read: {e}") from e
    return b""


def sniff_format(path: Path) -> str:
    """The feed format of a recording, from its first non-empty line (FeedFileError if unknown)."""
    line = _first_line(path)
    if not line:
        raise FeedFileError(f"{path}: empty, no format to recognise (name it as FORMAT:{path})")
    if line[:1] in (b"!", b"$") or line.startswith(b"\\"):
        return "ais-nmea"
    if line.startswith(_SBS_TYPES):
        return "sbs1"
    if line.startswith(b"<"):
        return "cot"
    if line.startswith(b"{"):
        try:
            whole = json.loads(path.read_bytes()) if path.stat().st_size < 64 << 20 else None
        except (ValueError, OSError):
            whole = None
        if isinstance(whole, dict) and whole.get("type") == "FeatureCollection":
            return "exercise-geojson"
        if isinstance(whole, dict) and "aircraft" in whole:
            return "aircraft-json"
        return "tracks-jsonl"
    if b"track_id" in line and b"," in line:
        return "tracks-csv"
    raise FeedFileError(
        f"{path}: format not recognised from its first line {line[:60]!r}; name it as FORMAT:PATH "
        f"(formats: {', '.join(sorted(DECODERS))})"
    )


def feed_for(spec: str, settings: Settings) -> FeedSettings:
    """The feed settings of one ``FORMAT:PATH`` or ``PATH`` argument (module doc)."""
    fmt, sep, rest = spec.partition(":")
    if sep and fmt in DECODERS:
        path = Path(rest)
        if not path.exists():
            raise FeedFileError(f"{path}: no such file")
        return FeedSettings(name=path.name, format=fmt, transport="file", path=str(path))  # type: ignore[arg-type]
    path = Path(spec)
    if not path.exists():
        raise FeedFileError(f"{path}: no such file")
    for feed in settings.feeds:
        if feed.path is not None and Path(feed.path).resolve() == path.resolve():
            return feed.model_copy(update={"transport": "file", "speed": 0.0})
    return FeedSettings(name=path.name, format=sniff_format(path), transport="file", path=str(path))  # type: ignore[arg-type]


def _timed(order_base: int, items: Iterable[Item]) -> Iterator[tuple[float, int, Item]]:
    """Merge key of each item: its data time; a notice or dead letter takes the last seen in its stream."""
    last_t = float("-inf")
    for n, item in zip(itertools.count(order_base), items):
        if isinstance(item, TrackUpdate):
            last_t = item.t_s
        yield last_t, n, item


def _open(path: Path) -> BinaryIO:
    """A recording's bytes (``.gz`` decompressed)."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # type: ignore[return-value]


def unit_count(feed: FeedSettings) -> int:
    """How many units (lines, or documents) the recording of ``feed`` holds: a progress bar's total."""
    path = Path(feed.path or "")
    files = sorted(c for c in path.iterdir() if c.is_file()) if path.is_dir() else [path]
    if make_decoder(feed, Affiliation(Settings().sides)).framing != "lines":
        return len(files)
    n = 0
    for f in files:
        with _open(f) as fh:
            last = b"\n"
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                n += chunk.count(b"\n")
                last = chunk[-1:]
            n += last != b"\n"
    return n


def merged_items(
    feeds: Sequence[FeedSettings], settings: Settings, *, on_unit: Callable[[], None] | None = None
) -> Iterator[tuple[str, Item]]:
    """``(feed name, item)`` of every recording, merged by data time (ties: stream order, then the
    feeds' order), as ``closewatch run`` merges file feeds. ``on_unit`` is called for each line
    (or document) read."""
    affiliation = Affiliation(settings.sides)

    def units(feed: FeedSettings, framing: str) -> Iterator[bytes]:
        for unit in file_units(feed.path or "", framing):  # type: ignore[arg-type]
            if on_unit is not None:
                on_unit()
            yield unit

    streams = []
    for k, feed in enumerate(feeds):
        decoder = make_decoder(feed, affiliation, clock=make_clock(feed))
        items = decoder.decode(units(feed, decoder.framing))
        streams.append(((t, k, n, feed.name, item) for t, n, item in _timed(0, items)))
    for _t, _k, _n, name, item in heapq.merge(*streams, key=lambda e: e[0]):
        yield name, item
