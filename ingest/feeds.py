"""Open configured feeds: transport + decoder + pacing, as iterators of items.

``open_feed`` yields :class:`config.records.TrackUpdate`, :class:`config.records.Notice`
(notified areas: exercises, NOTAMs) and :class:`config.records.DeadLetter` items in feed
order; ``open_feeds`` runs several feeds at once (one thread each) and merges their
items in arrival order as ``(feed name, item)`` pairs.

Pacing (file replay): ``speed`` 0 yields as fast as possible; ``speed`` k sleeps so that
items come out at the original data-time spacing divided by k (the first timed item
sets the origin; an item whose time goes backwards is not delayed). Dead letters are
never delayed. Live transports are never paced: data arrive when they arrive.

Time of untimed messages (``FeedSettings.assume_time``): ``None`` gives live transports
the receive wall clock and a replayed file none (such messages are dead letters, "no
timestamp"); ``"receive"`` always the wall clock; an ISO 8601 time that fixed time.

One guard for every decoder (:func:`guarded_decode`): whatever a decoder raises while it
handles one unit (a bug, ``RecursionError`` or ``MemoryError`` on hostile input, a
``ValueError`` from ``int()`` of a 400-digit number) becomes a dead letter of that unit
(reason ``decoder failure: <exception>``, counted per reason like every dead letter) and
the decoder goes on with the next unit, its state kept. The transport's own failures
are not the unit's: they end the feed, and :func:`open_feeds` restarts a live feed with
backoff (docs/operations.md).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Protocol, Sequence, Union

from config.affiliation import Affiliation
from config.classification import Classifier
from config.records import DeadLetter, FeedHealth, Notice, TrackUpdate
from config.kafka_clients import kafka_client_settings
from config.settings import ClassificationSettings, ConfigError, FeedSettings, KafkaSettings, SidesSettings
from ingest._common import DEFAULT_LIMITS, Clock, Limits
from ingest.aircraft_json import AircraftJsonDecoder
from ingest.ais import AisDecoder
from ingest.cot import CotDecoder
from ingest.errors import FeedConfigError, IngestError
from ingest.exercise import ExerciseGeoJsonDecoder, NotamDecoder
from ingest.folders import read_folder
from ingest.modes import ModeSDecoder
from ingest.positions import KafkaPositions
from ingest.sbs1 import Sbs1Decoder
from ingest.stats import FeedStats, register
from ingest.tracks import TracksCsvDecoder, TracksJsonlDecoder
from ingest.transports import (
    Backoff,
    Framing,
    file_units,
    follow_units,
    http_units,
    kafka_units,
    tcp_units,
    udp_units,
)

__all__ = [
    "DECODERS",
    "Decoder",
    "FeedItem",
    "guarded_decode",
    "make_clock",
    "make_decoder",
    "open_feed",
    "open_feeds",
]

log = logging.getLogger(__name__)

FeedItem = Union[TrackUpdate, Notice, DeadLetter]

LIVE_TRANSPORTS = frozenset(("follow", "tcp", "udp", "http", "kafka"))

DECODERS: dict[str, type] = {
    "ais-nmea": AisDecoder,
    "sbs1": Sbs1Decoder,
    "aircraft-json": AircraftJsonDecoder,
    "modes-raw": ModeSDecoder,
    "cot": CotDecoder,
    "exercise-geojson": ExerciseGeoJsonDecoder,
    "notam": NotamDecoder,
    "tracks-jsonl": TracksJsonlDecoder,
    "tracks-csv": TracksCsvDecoder,
}


class Decoder(Protocol):
    """What every feed format's decoder offers (one decode path for every transport)."""

    feed: str
    stats: FeedStats
    position: int
    framing: Framing
    limits: Limits
    classifier: Classifier

    def decode(self, units: Iterable[bytes], *, final: bool = True) -> Iterator[Any]: ...

    def begin_file(self, name: str) -> None: ...


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
    feed: FeedSettings,
    affiliation: Affiliation,
    *,
    clock: Clock | None = None,
    stats: FeedStats | None = None,
    classifier: Classifier | None = None,
) -> Decoder:
    """The decoder of ``feed.format``."""
    cls = DECODERS.get(feed.format)
    if cls is None:
        raise FeedConfigError(f"feed {feed.name}: format {feed.format!r} has no decoder")
    limits = Limits(feed.max_line_bytes, feed.max_document_bytes, feed.max_json_depth)
    extra = {"dedup_window_s": feed.dedup_window_s} if cls is AisDecoder else {}
    decoder: Decoder = cls(feed.name, affiliation, clock=clock, stats=stats or FeedStats(feed.name), limits=limits,
                           classifier=classifier, **extra)
    return decoder


def _decoded(
    feed: FeedSettings,
    decoder: Decoder,
    affiliation: Affiliation,
    stop: threading.Event | None,
    kafka: KafkaSettings | None,
    positions: KafkaPositions | None,
) -> Iterator[FeedItem]:
    """The decoder's items from the feed's transport; a file feed on a folder reads its
    files in data-time order (:mod:`ingest.folders`)."""
    if feed.transport == "file" and feed.path is not None and Path(feed.path).is_dir():
        probe_stats = f"{feed.name} (looking for the first data time of a file)"
        return read_folder(
            Path(feed.path),
            decoder,
            lambda: make_decoder(feed, affiliation, clock=make_clock(feed), stats=FeedStats(probe_stats),
                                 classifier=decoder.classifier),
            stop,
            guarded_decode,
        )
    return guarded_decode(decoder, _units(feed, decoder.framing, stop, kafka, positions, decoder.limits))


def _units(
    feed: FeedSettings,
    framing: Framing,
    stop: threading.Event | None,
    kafka: KafkaSettings | None,
    positions: KafkaPositions | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Iterator[bytes]:
    t = feed.transport
    if t == "file":
        assert feed.path is not None  # FeedSettings checks what each transport needs
        return file_units(feed.path, framing, stop, limits)
    if t == "follow":
        assert feed.path is not None
        return follow_units(feed.path, framing, stop, from_start=feed.from_start, limits=limits)
    if t == "tcp":
        assert feed.host is not None and feed.port is not None
        return tcp_units(feed.host, feed.port, framing, stop, read_timeout_s=feed.read_timeout_s, limits=limits)
    if t == "udp":
        assert feed.port is not None
        return udp_units(feed.port, framing, stop, host=feed.host or "127.0.0.1")
    if t == "http":
        assert feed.url is not None
        return http_units(feed.url, feed.poll_interval_s, stop, limits=limits)
    if t == "kafka":
        assert feed.topic is not None
        bootstrap = feed.bootstrap_servers or (kafka.bootstrap_servers if kafka is not None else None)
        if not bootstrap:
            raise FeedConfigError(f"feed {feed.name}: kafka transport needs bootstrap_servers (or a [kafka] section)")
        return kafka_units(
            feed.topic,
            framing,
            stop,
            bootstrap_servers=bootstrap,
            group_id=feed.group_id,
            start_from=feed.start_from,
            client_config=_kafka_client_config(feed, kafka) if kafka is not None and not feed.bootstrap_servers else None,
            positions=positions,
        )
    raise FeedConfigError(f"feed {feed.name}: transport {t!r} is not available")


def _kafka_client_config(feed: FeedSettings, kafka: KafkaSettings) -> dict[str, object]:
    """The ``[kafka]`` cluster, TLS and SASL settings for the feed's consumer (kafka-python)."""
    try:
        cfg = kafka_client_settings(kafka, "kafka-python")
    except ConfigError as e:
        raise FeedConfigError(f"feed {feed.name}: {e}") from e
    return {**cfg, "client_id": kafka.client_id}


_MAX_DETAIL_CHARS = 300


class _TransportFailure(BaseException):
    """Raised through a decoder for a failure of the transport (not of the unit it handles)."""


def guarded_decode(decoder: Decoder, units: Iterable[bytes], final: bool = True) -> Iterator[Any]:
    """``decoder.decode(units, final=final)``, a unit whose handling raises made a dead
    letter (module doc).

    The decoder is resumed on the units after it (``decode`` again: its state, and its
    position count, carry over as they do across reconnects).
    """
    it = iter(units)
    current: list[bytes] = [b""]

    def tap() -> Iterator[bytes]:
        while True:
            try:
                unit = next(it)
            except StopIteration:
                return
            except BaseException as e:  # noqa: BLE001 - the transport's failure: raised past the decoder
                raise _TransportFailure() from e
            current[0] = unit
            yield unit

    while True:
        try:
            yield from decoder.decode(tap(), final=final)
            return
        except _TransportFailure as e:
            assert e.__cause__ is not None
            raise e.__cause__ from None
        except Exception as e:  # noqa: BLE001 - RecursionError, MemoryError, any bug: one unit fails
            text = " ".join(str(e).split())
            if len(text) > _MAX_DETAIL_CHARS:
                text = text[: _MAX_DETAIL_CHARS - 1] + "…"
            log.warning("feed %s: the %s decoder failed on unit %d (%s: %s); going on with the next",
                        decoder.feed, type(decoder).__name__, decoder.position, type(e).__name__, text[:120])
            reason = f"decoder failure: {type(e).__name__}" + (f": {text}" if text else "")
            yield decoder.stats.dead_letter(decoder.position, current[0], reason)


def _paced(items: Iterator[FeedItem], speed: float, stop: threading.Event | None) -> Iterator[FeedItem]:
    """Delay items to the original data-time spacing divided by ``speed``."""
    t0: float | None = None
    w0 = 0.0
    for item in items:
        t = getattr(item, "t_s", None)
        if t is not None:
            if t0 is None:
                t0, w0 = t, time.monotonic()
            else:
                delay = w0 + (t - t0) / speed - time.monotonic()
                if delay > 0:
                    if stop is not None:
                        if stop.wait(delay):
                            return
                    else:
                        time.sleep(delay)
        if stop is not None and stop.is_set():
            return
        yield item


def open_feed(
    feed: FeedSettings,
    sides: SidesSettings,
    *,
    stop: threading.Event | None = None,
    affiliation: Affiliation | None = None,
    kafka: KafkaSettings | None = None,
    positions: KafkaPositions | None = None,
    classification: ClassificationSettings | None = None,
    classifier: Classifier | None = None,
) -> Iterator[FeedItem]:
    """Transport + decoding + pacing of one configured feed (see module doc).

    ``kafka`` supplies the cluster and security settings for a kafka transport whose
    feed does not name ``bootstrap_servers`` itself. ``positions`` (kafka transport
    only) lets a pipeline commit offsets only after its sinks acknowledged
    (:mod:`ingest.positions`). ``classification`` (or a ready ``classifier``) overrides
    the category tables (``[classification]``).
    """
    aff = affiliation if affiliation is not None else Affiliation(sides)
    who = classifier if classifier is not None else Classifier(classification)
    stats = register(FeedStats(feed.name))
    decoder = make_decoder(feed, aff, clock=make_clock(feed), stats=stats, classifier=who)
    items: Iterator[FeedItem] = _decoded(feed, decoder, aff, stop, kafka, positions)
    if feed.transport == "file" and feed.speed > 0:
        items = _paced(items, feed.speed, stop)
    try:
        if positions is None:
            yield from items
        else:
            for item in items:
                positions.item_yielded()
                yield item
    finally:
        stats.close()


_DONE = object()


def open_feeds(
    feeds: Sequence[FeedSettings],
    sides: SidesSettings,
    stop: threading.Event | None = None,
    *,
    kafka: KafkaSettings | None = None,
    queue_size: int = 10_000,
    idle_s: float | None = None,
    positions: Mapping[str, KafkaPositions] | None = None,
    classification: ClassificationSettings | None = None,
    backoff_initial_s: float = 1.0,
    backoff_max_s: float = 60.0,
) -> Iterator[tuple[str, FeedItem | FeedHealth] | None]:
    """Several feeds at once: one thread per feed, merged through a bounded queue.

    Items of one feed keep their order; feeds interleave in arrival order. The iterator
    ends when every feed has ended (files at EOF; live feeds when ``stop`` is set). Setting
    ``stop`` or closing the iterator ends every feed thread. With ``idle_s``, ``None`` is
    yielded whenever nothing arrived for that long, so a consumer batching the items can
    hand on what it holds. ``positions`` maps the names of Kafka-fed feeds to their
    position books (:mod:`ingest.positions`).

    A feed that fails is reported and, if it can be, restarted (docs/operations.md): a
    live feed (follow, tcp, udp, http, kafka) after ``backoff_initial_s``, doubling up to
    ``backoff_max_s`` (back to the start once it ran for ``backoff_max_s``), as long as
    the run lasts; a replayed file, or a feed whose settings cannot work
    (:class:`FeedConfigError`), is given up. Each change is a :class:`FeedHealth` item
    among the feed's items (``running`` when it starts, ``restarting`` with the error,
    ``failed``), and a log line (WARNING for a restart, ERROR for a feed given up).
    """
    outer = stop
    stop = threading.Event()  # ours: set on close without touching the caller's event
    if outer is not None:

        def relay() -> None:
            while not stop.is_set():
                if outer.wait(0.2):
                    stop.set()

        threading.Thread(target=relay, name="feeds-stop-relay", daemon=True).start()
    affiliation = Affiliation(sides)
    classifier = Classifier(classification)
    q: queue.Queue[Any] = queue.Queue(maxsize=queue_size)

    def put(entry: Any) -> bool:
        while True:
            try:
                q.put(entry, timeout=0.2)
                return True
            except queue.Full:
                if stop.is_set():
                    return False

    def run(feed: FeedSettings) -> None:
        book = (positions or {}).get(feed.name)
        backoff = Backoff(backoff_initial_s, backoff_max_s)
        restarts = 0
        last_data_s: float | None = None

        def health(state: Any, error: str | None = None) -> bool:
            return put((feed.name, FeedHealth(feed.name, state, time.time(), last_data_s, error, restarts)))

        try:
            while not stop.is_set():
                started = time.monotonic()
                if not health("running"):
                    return
                try:
                    for item in open_feed(feed, sides, stop=stop, affiliation=affiliation, kafka=kafka, positions=book,
                                          classifier=classifier):
                        last_data_s = time.time()
                        if not put((feed.name, item)):
                            return
                    return  # a file at its end, a live feed stopped
                except Exception as e:  # noqa: BLE001 - whatever ended it: report, and restart if it can be
                    if stop.is_set():
                        return
                    error = _one_line(e)
                    if isinstance(e, FeedConfigError) or feed.transport not in LIVE_TRANSPORTS:
                        log.error("feed %s failed and is given up: %s", feed.name, error)
                        health("failed", error)
                        return
                    if time.monotonic() - started >= backoff_max_s:
                        backoff.reset()
                    delay = backoff.step()
                    restarts += 1
                    log.warning("feed %s failed (%s): restart %d in %.1f s", feed.name, error, restarts, delay)
                    if not health("restarting", error):
                        return
                    if book is not None:
                        book.restarted()
                    if stop.wait(delay):
                        return
        finally:
            put(_DONE)

    threads = [threading.Thread(target=run, args=(f,), name=f"feed-{f.name}", daemon=True) for f in feeds]
    for th in threads:
        th.start()
    running = len(threads)
    try:
        while running:
            try:
                entry = q.get(timeout=idle_s)
            except queue.Empty:
                yield None
                continue
            if entry is _DONE:
                running -= 1
                continue
            yield entry
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=5.0)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    if not isinstance(e, (IngestError, OSError)):
        text = f"{type(e).__name__}: {text}"
    return text if len(text) <= 500 else text[:499] + "…"
