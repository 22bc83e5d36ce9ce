"""UTC times as text: the one parser and the one formatter of closewatch.

Inside closewatch every time is UTC epoch seconds (``t_s``). Text times come in
from configuration files, zone files, feeds and the command line, and go out on
the Kafka topics and the map pages; all of them pass through here.

The rule for reading (:func:`parse_utc`): an ISO 8601 date-time with a zone
designator (``Z``) or a UTC offset (``+02:00``). A time without one is an error
naming the value and where it was, unless the caller reads a format whose
documentation defines its times as UTC (``naive="utc"``: Cursor on Target, whose
times are Zulu time; ``closewatch tail --since``). A time is never read as the
machine's local time.

Writing (:func:`format_utc`): ISO 8601 in UTC with ``Z``, to the second (maps,
messages), to the millisecond (the Kafka values, ``2024-05-01T12:00:00.123Z``), or
as precise as the value (zone files).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Literal

import numpy as np

__all__ = ["Naive", "TimeFormatError", "TimeSpec", "format_utc", "format_utc_many", "parse_utc"]

Naive = Literal["error", "utc"]
TimeSpec = Literal["seconds", "milliseconds", "auto"]

_SHOWN_CHARS = 40  # of a bad value, in a message
_EPOCH_10000_S = 253_402_300_800.0  # 10000-01-01T00:00:00Z: datetime's range ends before


class TimeFormatError(ValueError):
    """A text time that cannot be read, or an epoch time that cannot be written.

    The message names the value and where it was (``where=value``); each room
    wraps it in its own error type.
    """


def _shown(value: object) -> str:
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return repr(value[:_SHOWN_CHARS] + "…")
    return repr(value)


def parse_utc(value: object, where: str, *, naive: Naive = "error") -> float:
    """An ISO 8601 date-time (``2024-05-01T12:00:00Z``, ``2024-05-01T14:00:00.5+02:00``)
    as UTC epoch seconds.

    ``where`` names the value in the error (a key path, a feed field, an option).
    Without a zone designator or offset the time is an error, unless ``naive="utc"``
    (only for formats documented to carry UTC times). Raises :class:`TimeFormatError`.
    """
    if not isinstance(value, str) or not value.strip():
        raise TimeFormatError(f"{where}={_shown(value)} is not an ISO 8601 time")
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise TimeFormatError(f"{where}={_shown(value)} is not an ISO 8601 time") from None
    if dt.tzinfo is None:
        if naive != "utc":
            raise TimeFormatError(f"{where}={_shown(value)} has no UTC offset (write …Z for UTC)")
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def format_utc(t_s: float, timespec: TimeSpec = "seconds") -> str:
    """Epoch seconds as ISO 8601 UTC: ``2024-05-01T12:00:00Z`` (``seconds``, cut, not rounded),
    ``2024-05-01T12:00:00.123Z`` (``milliseconds``, cut), or to the microsecond when the
    time has a fraction (``auto``). Raises :class:`TimeFormatError` for a time that is not
    finite or outside the years 1 to 9999."""
    if not math.isfinite(t_s):
        raise TimeFormatError(f"time {t_s!r} is not a finite epoch")
    try:
        dt = datetime.fromtimestamp(t_s, tz=timezone.utc)
    except (OverflowError, OSError, ValueError) as e:
        raise TimeFormatError(f"time {t_s!r} is out of range: {e}") from e
    return dt.isoformat(timespec=timespec).replace("+00:00", "Z")


def format_utc_many(t_s: np.ndarray) -> list[str] | None:
    """:func:`format_utc` of many times to the millisecond, in one numpy call: the same
    strings; ``None`` if a time is not finite or outside 1970 to 9999 (then format each).

    As ``datetime.fromtimestamp``: the fraction of the second rounded half-even to a
    microsecond (``modf``, times 10**6, rint), then cut to milliseconds.
    """
    if t_s.size == 0:
        return []
    if not (np.isfinite(t_s).all() and t_s.min() >= 0.0 and t_s.max() < _EPOCH_10000_S):
        return None
    frac, whole = np.modf(t_s)
    us = np.rint(frac * 1e6)
    carry = us >= 1e6
    whole = whole + carry
    us = np.where(carry, us - 1e6, us)
    ms = whole.astype(np.int64) * 1000 + (us.astype(np.int64) // 1000)
    text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms")
    return [t + "Z" for t in text.tolist()]
