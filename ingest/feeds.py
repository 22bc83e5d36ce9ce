"""Open a configured feed: transport + decoder + pacing, one iterator of items.

``open_feed`` yields :class:`config.records.TrackUpdate`, :class:`config.records.Zone`
(exercise areas) and :class:`config.records.DeadLetter` items in feed order.

Pacing (file replay): ``speed`` 0 yields as fast as possible; ``speed`` k sleeps so that
items come out at the original data-time spacing divided by k (the first timed item
sets the origin; an item whose time goes backwards is not delayed). Dead letters are
never delayed.

Time of untimed messages (``FeedSettings.assume_time``): ``None`` gives live transports
the receive wall clock and a replayed file none (such messages are dead letters, "no
timestamp"); ``"receive"`` always the wall clock; an ISO 8601 time that fixed time.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Iterable, Iterator, Protocol, Union

from config.affiliation import Affiliation
from config.records import DeadLetter, TrackUpdate, Zone
from config.settings import FeedSettings, SidesSettings
from ingest._common import Clock
from ingest.ais import AisDecoder
from ingest.errors import FeedConfigError
from ingest.sbs1 import Sbs1Decoder
from ingest.stats import FeedStats, register
from ingest.transports import file_lines

__all__ = ["Decoder", "FeedItem", "make_clock", "make_decoder", "open_feed"]

log = logging.getLogger(__name__)

FeedItem = Union[TrackUpdate, Zone, DeadLetter]

LIVE_TRANSPORTS = frozenset(("follow", "tcp", "udp", "http", "kafka"))


class Decoder(Protocol):
    """What every feed format's decoder offers (one decode path for every transport)."""

    feed: str
    stats: FeedStats
    position: int

    def decode(self, lines: Iterable[bytes], *, final: bool = True) -> Iterator[FeedItem]: ...


def make_clock(feed: FeedSettings) -> Clock | None:
    """The time given to messages without one (see module doc)."""
    if feed.assume_time == "receive":
        return time.time
    fixed = feed.assumed_epoch_s()
    if fixed is not None:
        return lambda: fixed
    if feed.transport in LIVE_TRANSPORTS:
        return time.time
    return None


def make_decoder(
    feed: FeedSettings, affiliation: Affiliation, *, clock: Clock | None = None, stats: FeedStats | None = None
) -> Decoder:
    """The decoder of ``feed.format``."""
    stats = stats if stats is not None else FeedStats(feed.name)
    fmt = feed.format
    if fmt == "ais-nmea":
        return AisDecoder(feed.name, affiliation, clock=clock, stats=stats)
    if fmt == "sbs1":
        return Sbs1Decoder(feed.name, affiliation, clock=clock, stats=stats)
    raise FeedConfigError(f"feed {feed.name}: format {fmt!r} has no decoder")


def _lines(feed: FeedSettings, stop: threading.Event | None) -> Iterator[bytes]:
    if feed.transport == "file":
        assert feed.path is not None  # checked by FeedSettings
        return file_lines(feed.path, stop)
    raise FeedConfigError(f"feed {feed.name}: transport {feed.transport!r} is not available")


def _paced(items: Iterator[FeedItem], speed: float, stop: threading.Event | None) -> Iterator[FeedItem]:
    """Delay items to the original data-time spacing divided by ``speed``."""
    t0: float | None = None
    w0 = 0.0
    wait = stop.wait if stop is not None else time.sleep
    for item in items:
        t = getattr(item, "t_s", None)
        if t is not None:
            if t0 is None:
                t0, w0 = t, time.monotonic()
            else:
                delay = w0 + (t - t0) / speed - time.monotonic()
                if delay > 0:
                    if wait(delay) is True:  # stop was set while waiting
                        return
        if stop is not None and stop.is_set():
            return
        yield item


def open_feed(
    feed: FeedSettings,
    sides: SidesSettings,
    *,
    stop: threading.Event | None = None,
    affiliation: Affiliation | None = None,
) -> Iterator[FeedItem]:
    """Transport + decoding + pacing of one configured feed (see module doc)."""
    aff = affiliation if affiliation is not None else Affiliation(sides)
    stats = register(FeedStats(feed.name))
    decoder = make_decoder(feed, aff, clock=make_clock(feed), stats=stats)
    items = decoder.decode(_lines(feed, stop))
    if feed.transport == "file" and feed.speed > 0:
        items = _paced(items, feed.speed, stop)
    try:
        yield from items
    finally:
        stats.close()
