"""Values on the command line of ``replay``, ``report`` and ``archive``: times, durations, boxes, speeds."""

from __future__ import annotations

import argparse
import math
import re

from alerts.consumer import parse_bbox
from alerts.errors import AlertsError
from config.times import TimeFormatError, parse_utc

__all__ = ["parse_box", "parse_duration", "parse_speed", "parse_when"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(s|m|min|h|d)?\s*$")
_UNIT_S = {"s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_when(text: str, option: str) -> float:
    """An ISO 8601 time with its zone (``2026-03-10T10:15:00Z``) or epoch seconds (ValueError naming ``option``)."""
    try:
        t_s = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(t_s):
            raise ValueError(f"{option}: {text!r} is not a time")
        return t_s
    try:
        return parse_utc(text, option)
    except TimeFormatError as e:
        raise ValueError(str(e)) from e


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` as seconds (ValueError otherwise)."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration (e.g. 90s, 15m, 2h, 1d)")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def parse_speed(text: str) -> float:
    """``--speed``: data seconds per wall second, a finite number above 0 (argparse's error otherwise)."""
    try:
        speed = float(text)
    except ValueError:
        speed = math.nan
    if not (math.isfinite(speed) and speed > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed (data seconds per second, above 0)")
    return speed


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``west,south,east,north`` in degrees (ValueError otherwise)."""
    try:
        return parse_bbox(text)
    except AlertsError as e:
        raise ValueError(str(e)) from e
