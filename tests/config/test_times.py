"""The one reader and writer of text times: zones required, UTC out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.times import TimeFormatError, format_utc, format_utc_many, parse_utc

T0_S = 1_714_564_800.0  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(
    ("text", "t_s"),
    [
        ("2024-05-01T12:00:00Z", T0_S),
        ("2024-05-01T12:00:00.250Z", T0_S + 0.25),
        ("2024-05-01T14:00:00+02:00", T0_S),
        ("2024-05-01T07:30:00-04:30", T0_S),
        ("  2024-05-01T12:00:00Z\n", T0_S),
        ("2024-05-01 12:00:00+00:00", T0_S),
    ],
)
def test_times_with_a_zone_are_read(text: str, t_s: float) -> None:
    assert parse_utc(text, "x") == t_s


@pytest.mark.parametrize("text", ["2024-05-01T12:00:00", "2024-05-01", "2024-05-01T12:00:00.5"])
def test_a_time_without_a_zone_is_an_error_naming_value_and_place(text: str) -> None:
    with pytest.raises(TimeFormatError, match=rf"^feeds\.0\.assume_time={text!r} has no UTC offset"):
        parse_utc(text, "feeds.0.assume_time")


def test_a_format_defined_as_utc_reads_a_time_without_a_zone_as_utc() -> None:
    assert parse_utc("2024-05-01T12:00:00", "cot time", naive="utc") == T0_S
    assert parse_utc("2024-05-01T14:00:00+02:00", "cot time", naive="utc") == T0_S  # an offset still counts


@pytest.mark.parametrize("value", ["yesterday", "", "   ", None, 1714564800, "2024-13-01T00:00:00Z"])
def test_what_is_not_iso_8601_is_named(value: object) -> None:
    with pytest.raises(TimeFormatError, match=r"^where=.* is not an ISO 8601 time$"):
        parse_utc(value, "where")


def test_long_values_are_cut_in_the_message() -> None:
    with pytest.raises(TimeFormatError) as err:
        parse_utc("x" * 500, "time")
    assert len(str(err.value)) < 80


def test_format_utc_to_the_second_millisecond_or_as_precise_as_the_value() -> None:
    assert format_utc(T0_S) == "2024-05-01T12:00:00Z"
    assert format_utc(T0_S + 0.9999) == "2024-05-01T12:00:00Z"  # cut, not rounded
    assert format_utc(T0_S + 0.1234, "milliseconds") == "2024-05-01T12:00:00.123Z"
    assert format_utc(T0_S, "milliseconds") == "2024-05-01T12:00:00.000Z"
    assert format_utc(T0_S, "auto") == "2024-05-01T12:00:00Z"
    assert format_utc(T0_S + 0.5, "auto") == "2024-05-01T12:00:00.500000Z"


@pytest.mark.parametrize("t_s", [math.nan, math.inf, -math.inf, 1e20])
def test_format_utc_refuses_what_is_no_time(t_s: float) -> None:
    with pytest.raises(TimeFormatError, match="time"):
        format_utc(t_s)


@given(st.floats(min_value=-1e10, max_value=3e11, allow_nan=False, allow_infinity=False))
def test_written_times_read_back(t_s: float) -> None:
    if -62_135_596_800.0 <= t_s < 253_402_300_800.0:  # years 1 to 9999
        text = format_utc(t_s, "auto")
        assert parse_utc(text, "t") == pytest.approx(t_s, abs=1e-6)


@given(st.lists(st.one_of(st.floats(min_value=0, max_value=253_402_300_799.999),
                          st.integers(1_714_564_800_000, 1_714_564_900_000).map(lambda ms: ms / 1000 + 0.0005)),
                max_size=30))
def test_many_at_once_are_the_strings_of_one_by_one(times: list[float]) -> None:
    assert format_utc_many(np.array(times, dtype=float)) == [format_utc(t, "milliseconds") for t in times]


def test_many_at_once_leaves_what_it_cannot_write_to_one_by_one() -> None:
    assert format_utc_many(np.array([T0_S, math.nan])) is None
    assert format_utc_many(np.array([-1.0])) is None
