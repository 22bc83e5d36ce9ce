"""Small shared pieces of the decoders: units, checksums, time sanity, and the defences
every decoder puts before parsing hostile input (:class:`Limits`, :func:`load_json`,
:func:`json_number`, :func:`shown`)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import reduce
from operator import xor
from typing import Any, Callable

import numpy as np

from config.affiliation import Affiliation
from config.classification import Classifier
from config.records import MAX_TEXT_CHARS
from config.times import Naive, TimeFormatError, parse_utc
from ingest.stats import FeedStats

__all__ = [
    "DEFAULT_LIMITS",
    "EPOCH_MAX_S",
    "EPOCH_MIN_S",
    "FPM_TO_MPS",
    "FT_TO_M",
    "KNOTS_TO_MPS",
    "NO_TIME_HINT",
    "Clock",
    "DecoderBase",
    "Limits",
    "Rejected",
    "bad_field",
    "iso_epoch_s",
    "json_depth",
    "json_number",
    "json_text",
    "load_json",
    "nmea_checksum",
    "oversized",
    "plausible_epoch",
    "shown",
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


#: Ends every "no timestamp" reason: what the operator can do about it.
NO_TIME_HINT = "set assume_time for this feed (docs/feeds.md, Time)"


class Rejected(ValueError):
    """An input unit (line, record, event, feature) that becomes a dead letter.

    The message is the dead letter's reason and detail, ``"<category>: <detail>"``
    (docs/feeds.md, Dead letters).
    """


def bad_field(detail: str) -> str:
    """The reason of a dead letter for one optional value dropped from a report that is kept."""
    return f"bad field: {detail} (dropped, the rest kept)"


@dataclass(frozen=True, slots=True)
class Limits:
    """What a decoder accepts before it parses anything (``FeedSettings`` of the same names).

    * ``max_line_bytes``: the longest line of a line format, and the longest CoT event;
    * ``max_document_bytes``: the longest document (an ``aircraft.json`` body, an exercise
      GeoJSON file, a NOTAM file);
    * ``max_json_depth``: the deepest nesting of JSON arrays and objects.

    Longer or deeper input is a dead letter (``oversized input``, ``nested too deeply``)
    and the transports never hold more than the cap (plus one byte) of it.
    """

    max_line_bytes: int = 65_536
    max_document_bytes: int = 16 * 1024 * 1024
    max_json_depth: int = 32


DEFAULT_LIMITS = Limits()

_SHOWN_CHARS = 40


def shown(value: object, chars: int = _SHOWN_CHARS) -> str:
    """A value for a dead-letter detail: its repr, cut to about ``chars`` characters."""
    if isinstance(value, (bytes, bytearray, str)):
        return repr(value[:chars]) + "…" if len(value) > chars else repr(value)
    if isinstance(value, (list, dict, tuple)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of {len(str(value)) if value.bit_length() < 14_000 else 'thousands of'} digits"
    text = repr(value)
    return text if len(text) <= chars else text[:chars] + "…"


def oversized(limit: int, what: str, setting: str) -> str:
    """The dead-letter reason for a unit (``what``: line, document, event) longer than ``limit``
    bytes (the setting ``setting``)."""
    return f"oversized input: {what} of more than {limit:,} bytes ({setting})"


# Strings of a JSON text (escapes included), removed before counting brackets.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = np.zeros(256, np.int8)
_BRACKET_STEP[list(b"[{")] = 1
_BRACKET_STEP[list(b"]}")] = -1


def json_depth(raw: bytes, max_depth: int) -> int:
    """How deep the arrays and objects of a JSON text nest (0: a bare value), exactly when
    it may exceed ``max_depth``; a text with at most ``max_depth`` brackets in all returns
    that count at once (linear, C speed either way: the bytes are never parsed)."""
    opened = raw.count(b"[") + raw.count(b"{")
    if opened <= max_depth:
        return opened
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return int(np.cumsum(_BRACKET_STEP[np.frombuffer(brackets, np.uint8)], dtype=np.int64).max())


def load_json(raw: bytes, limits: Limits, what: str) -> Any:
    """A JSON text, parsed only once its nesting is known to be within ``limits``.

    ``what`` names the unit in the reason (``"line"``, ``"document"``). Raises
    :class:`Rejected`: ``malformed <what>: not JSON ...`` or ``nested too deeply: ...``.
    Numbers stay as JSON gives them (a 400-digit integer is a Python ``int``, ``1e400``
    is ``inf``): read them with :func:`json_number`.
    """
    depth = json_depth(raw, limits.max_json_depth)
    if depth > limits.max_json_depth:
        raise Rejected(f"nested too deeply: {depth} levels of arrays and objects, more than {limits.max_json_depth} (max_json_depth)")
    try:
        return json.loads(raw)
    except RecursionError:  # pragma: no cover - the depth was checked
        raise Rejected(f"nested too deeply: more than the parser allows ({what})") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise Rejected(f"malformed {what}: not JSON: {str(e)[:80]}") from None


def json_number(value: Any, key: str, *, from_text: bool = False) -> float:
    """A JSON number (or, ``from_text``, also a number written as text: a CSV cell) as a
    finite float. Raises :class:`Rejected` ("malformed record: ... is not a number" for
    another type, "impossible value: ..." for one a float cannot hold or that is not
    finite: a 400-digit integer, ``1e400``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (isinstance(value, str) and not from_text):
        raise Rejected(f"malformed record: {key}={shown(value)} is not a number")
    try:
        f = float(value)
    except OverflowError:
        raise Rejected(f"impossible value: {key} is an integer of more than 300 digits") from None
    except ValueError:
        raise Rejected(f"malformed record: {key}={shown(value)} is not a number") from None
    if not math.isfinite(f):
        raise Rejected(f"impossible value: {key}={shown(value)} is not finite")
    return f


def json_text(value: Any, key: str, limit: int = MAX_TEXT_CHARS) -> str | None:
    """A JSON string, stripped (None for null or blank), of at most ``limit`` characters.
    Raises :class:`Rejected` ("malformed record: ...") for another type or a longer text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Rejected(f"malformed record: {key} is {shown(value)}, not a string")
    text = value.strip()
    if len(text) > limit:
        raise Rejected(f"malformed record: {key} has {len(text):,} characters, more than {limit}")
    return text or None


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
        raise ValueError(f"impossible timestamp: {what}={shown(value)} is outside 1990-2099")
    return t


class DecoderBase:
    """What every decoder holds: feed name, affiliation, classifier, clock, counters,
    position, limits.

    ``position`` is the 1-based number of the last input unit (line, record) seen since
    the decoder was made; it keeps counting across ``decode`` calls (reconnects), except
    that :meth:`begin_file` starts it again for the next file of a folder.
    ``ref_prefix`` starts every ``raw_ref`` (``"<feed>:"``, or ``"<feed>:<file>:"``).
    """

    def __init__(
        self,
        feed_name: str,
        affiliation: Affiliation | None = None,
        *,
        clock: Clock | None = None,
        stats: FeedStats | None = None,
        limits: Limits = DEFAULT_LIMITS,
        classifier: Classifier | None = None,
    ) -> None:
        self.feed = feed_name
        self.affiliation = affiliation if affiliation is not None else Affiliation()
        self.classifier = classifier if classifier is not None else Classifier()
        self.clock = clock
        self.stats = stats if stats is not None else FeedStats(feed_name)
        self.limits = limits
        self.position = 0
        self.ref_prefix = feed_name + ":"

    def begin_file(self, name: str) -> None:
        """The next units come from file ``name`` of a folder: count positions from 1 in it,
        and name it in ``raw_ref`` and dead letters. State across lines carries over."""
        self.position = 0
        self.stats.file = name
        self.ref_prefix = f"{self.feed}:{name}:"
