"""Small shared pieces of the decoders: units, checksums, time sanity."""

from __future__ import annotations

from functools import reduce
from operator import xor
from typing import Callable

from config.affiliation import Affiliation
from config.classification import Classifier
from config.times import Naive, TimeFormatError, parse_utc
from ingest.stats import FeedStats

__all__ = [
    "Clock",
    "DecoderBase",
    "EPOCH_MAX_S",
    "EPOCH_MIN_S",
    "FPM_TO_MPS",
    "FT_TO_M",
    "KNOTS_TO_MPS",
    "Rejected",
    "nmea_checksum",
    "iso_epoch_s",
    "plausible_epoch",
]

KNOTS_TO_MPS = 1852.0 / 3600.0  # international nautical mile per hour
FT_TO_M = 0.3048  # international foot
FPM_TO_MPS = FT_TO_M / 60.0  # feet per minute

# Data times outside [1990-01-01, 2100-01-01) are impossible for these feeds.
EPOCH_MIN_S = 631_152_000.0
EPOCH_MAX_S = 4_102_444_800.0

# A clock gives the time of a message that carries none (receive wall clock, or a
# fixed assumed time); None means such a message is dead-lettered ("no timestamp").
Clock = Callable[[], float]


class Rejected(ValueError):
    """An input unit (line, record, event, feature) that becomes a dead letter.

    The message is the dead letter's reason, ``"<category>: <detail>"`` (docs/feeds.md).
    """


def plausible_epoch(t_s: float) -> bool:
    return EPOCH_MIN_S <= t_s < EPOCH_MAX_S


def nmea_checksum(body: bytes) -> int:
    """XOR of the bytes between the start delimiter and ``*`` (NMEA 0183, 5.2.1)."""
    return reduce(xor, body, 0)


def iso_epoch_s(value: object, what: str, *, naive: Naive = "error") -> float:
    """An ISO 8601 time with a zone (``2020-02-08T18:11:31.863Z``) -> UTC epoch seconds
    (:func:`config.times.parse_utc`; ``naive="utc"`` only for formats whose times are UTC
    by definition).

    Raises ValueError whose message is a dead-letter reason ("unparseable timestamp: ...",
    "impossible timestamp: ...").
    """
    try:
        t = parse_utc(value, what, naive=naive)
    except TimeFormatError as e:
        raise ValueError(f"unparseable timestamp: {e}") from None
    if not plausible_epoch(t):
        raise ValueError(f"impossible timestamp: {what}={str(value).strip()[:40]}")
    return t


class DecoderBase:
    """What every decoder holds: feed name, affiliation, classifier, clock, counters, position.

    ``position`` is the 1-based number of the last input unit (line, record) seen since
    the decoder was made; it keeps counting across ``decode`` calls (reconnects).
    """

    def __init__(
        self,
        feed_name: str,
        affiliation: Affiliation | None = None,
        *,
        clock: Clock | None = None,
        stats: FeedStats | None = None,
        classifier: Classifier | None = None,
    ) -> None:
        self.feed = feed_name
        self.affiliation = affiliation if affiliation is not None else Affiliation()
        self.classifier = classifier if classifier is not None else Classifier()
        self.clock = clock
        self.stats = stats if stats is not None else FeedStats(feed_name)
        self.position = 0
