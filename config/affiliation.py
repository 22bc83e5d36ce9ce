r"""Whose side a track is on: country and side from identifiers.

Order of precedence (first match wins for the *side*; the country always comes from
the tables when they know it):

1. explicit configuration (:class:`config.settings.SidesSettings`): MMSI lists,
   ICAO address lists, callsign patterns;
2. a side the feed itself asserts (Cursor on Target affiliation ``a-f``/``a-h``,
   passed in by the caller as ``asserted``);
3. the tables in ``config/data/affiliation/`` (see PROVENANCE.md there): the AIS
   maritime identification digits (ITU-R M.585) and the ICAO 24-bit address blocks
   (ICAO Annex 10 Vol III, Chapter 9), mapped to a side by NATO membership
   (``nato_members.csv``), Russia, and Belarus as configured.

NATO membership is judged at the report's data time ``t_s``: a state is ``nato`` from
the day it joined (``nato_members.csv``: Finland 2023-04-04, Sweden 2024-03-07...) and
``other`` before, so a 2010 recording is judged by 2010 membership. Without a time
(``t_s=None``) today's membership applies. The time costs one comparison per lookup:
what an identifier resolves to is cached with the time its side switches.

Callsign patterns are regular expressions matched case-insensitively against the whole
callsign (``RFF\d+``, ``RSD\d{3}``); the settings refuse a malformed one (``SidesSettings``).

Lookups are cached per identifier: feeds repeat the same few thousand ships and
aircraft millions of times.
"""

from __future__ import annotations

import bisect
import calendar
import datetime
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from config._tables import csv_rows
from config.records import Side
from config.settings import SidesSettings

__all__ = [
    "DATA_DIR",
    "Affiliation",
    "AffiliationError",
    "country_of_location",
    "icao_blocks",
    "location_prefixes",
    "mid_of_mmsi",
    "mid_table",
    "nato_accession_s",
    "nato_members",
]

DATA_DIR = Path(__file__).resolve().parent / "data" / "affiliation"


class AffiliationError(ValueError):
    """An affiliation table or a configured pattern is invalid."""


def _rows(name: str) -> list[dict[str, str]]:
    return csv_rows(DATA_DIR / name, AffiliationError, "affiliation")


@lru_cache(maxsize=1)
def nato_accession_s() -> dict[str, float]:
    """ISO 3166-1 alpha-2 code -> the UTC epoch second (00:00 of the day) the state joined
    NATO, from ``nato_members.csv``."""
    joined: dict[str, float] = {}
    for i, r in enumerate(_rows("nato_members.csv"), start=1):
        try:
            day = datetime.date.fromisoformat(r["joined"])
            if day < datetime.date(1949, 8, 24):
                raise ValueError("before the treaty entered into force")
        except (AttributeError, TypeError, ValueError) as e:
            raise AffiliationError(f"nato_members.csv row {i}: joined {r.get('joined')!r} is not a date "
                                   f"yyyy-mm-dd on or after 1949-08-24") from e
        joined[r["country"]] = float(calendar.timegm(day.timetuple()))
    if len(joined) != 32:
        raise AffiliationError(f"nato_members.csv lists {len(joined)} states, expected 32")
    return joined


def nato_members() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes of the NATO member states today (``nato_members.csv``)."""
    return frozenset(nato_accession_s())


@lru_cache(maxsize=1)
def mid_table() -> dict[int, tuple[str, str]]:
    """MID -> (territory ISO code, sovereign ISO code), from ``mid.csv``."""
    table: dict[int, tuple[str, str]] = {}
    for i, r in enumerate(_rows("mid.csv"), start=1):
        try:
            mid = int(r["mid"])
        except (TypeError, ValueError) as e:
            raise AffiliationError(f"mid.csv row {i}: bad MID {r.get('mid')!r}") from e
        if not 201 <= mid <= 775 or mid in table:
            raise AffiliationError(f"mid.csv row {i}: MID {mid} out of range or repeated")
        table[mid] = (r["country"], r["sovereign"])
    return table


@lru_cache(maxsize=1)
def icao_blocks() -> tuple[tuple[int, int, str], ...]:
    """Sorted, non-overlapping (start, end, ISO code) address blocks from ``icao_blocks.csv``."""
    blocks: list[tuple[int, int, str]] = []
    for i, r in enumerate(_rows("icao_blocks.csv"), start=1):
        try:
            start, end = int(r["start"], 16), int(r["end"], 16)
        except (TypeError, ValueError) as e:
            raise AffiliationError(f"icao_blocks.csv row {i}: bad hex range") from e
        if not 0 <= start <= end <= 0xFFFFFF:
            raise AffiliationError(f"icao_blocks.csv row {i}: range {r['start']}-{r['end']} invalid")
        blocks.append((start, end, r["country"]))
    blocks.sort()
    for (s0, e0, c0), (s1, _e1, c1) in zip(blocks, blocks[1:]):
        if s1 <= e0:
            raise AffiliationError(f"icao_blocks.csv: {c0} block {s0:06X}-{e0:06X} overlaps {c1}")
    return tuple(blocks)


@lru_cache(maxsize=1)
def location_prefixes() -> tuple[tuple[str, str], ...]:
    """(prefix, ISO code) of ICAO location indicators, longest prefix first."""
    rows = [(r["prefix"].strip().upper(), r["country"]) for r in _rows("icao_location_prefixes.csv")]
    if any(not p.isalpha() or not 1 <= len(p) <= 4 for p, _ in rows):
        raise AffiliationError("icao_location_prefixes.csv: a prefix is not 1-4 letters")
    return tuple(sorted(rows, key=lambda r: -len(r[0])))


def country_of_location(indicator: str) -> str | None:
    """State (ISO code) of an ICAO location indicator or FIR (``EFIN`` -> FI), or None."""
    ind = indicator.strip().upper()
    for prefix, country in location_prefixes():
        if ind.startswith(prefix):
            return country
    return None


def mid_of_mmsi(mmsi: int) -> int | None:
    """The maritime identification digits inside an MMSI (ITU-R M.585 Annex 1), or None.

    Ship stations ``MIDxxxxxx``; group ``00MIDxxxx``; coast ``0MIDxxxxx``; SAR aircraft
    ``111MIDxxx``; handheld VHF ``8MIDxxxxx``; auxiliary craft ``98MIDxxxx``; aids to
    navigation ``99MIDxxxx``. SART/MOB/EPIRB (``970``/``972``/``974``) carry no MID.
    """
    if not 0 < mmsi <= 999_999_999:
        return None
    s = f"{mmsi:09d}"
    head = s[0]
    if "2" <= head <= "7":
        return int(s[:3])
    if s.startswith("111"):
        return int(s[3:6])
    if s.startswith("00"):
        return int(s[2:5])
    if head == "0":
        return int(s[1:4])
    if s.startswith("98") or s.startswith("99"):
        return int(s[2:5])
    if head == "8":
        return int(s[1:4])
    return None


# What an identifier resolves to: (country, side before, switch time, side from then on).
_Resolved = tuple[str | None, Side, float, Side]
_NEVER = -math.inf  # a side that never switches holds from the start of time
_TODAY = math.inf  # no data time: today's membership


class Affiliation:
    """Country and side for MMSIs, ICAO addresses and callsigns (see module doc)."""

    def __init__(self, sides: SidesSettings | None = None) -> None:
        sides = sides if sides is not None else SidesSettings()
        self._sides = sides
        self._joined = nato_accession_s()
        self._mid = mid_table()
        blocks = icao_blocks()
        self._block_starts = [b[0] for b in blocks]
        self._blocks = blocks
        self._nato_mmsi = frozenset(sides.nato_mmsi)
        self._russia_mmsi = frozenset(sides.russia_mmsi)
        # SidesSettings has checked and normalised them (six lower-case hex digits, patterns that compile)
        self._nato_icao = frozenset(sides.nato_icao)
        self._russia_icao = frozenset(sides.russia_icao)
        self._nato_cs = sides.callsign_pattern("nato")
        self._russia_cs = sides.callsign_pattern("russia")
        self._has_cs = self._nato_cs is not None or self._russia_cs is not None
        self._mmsi_cache: dict[int, _Resolved] = {}
        self._icao_cache: dict[str, _Resolved] = {}
        self._cs_cache: dict[str, Side | None] = {}

    # -- country -> side -------------------------------------------------------------

    def _country_sides(self, country: str | None) -> tuple[Side, float, Side]:
        """(side before, switch time, side from then on) of a sovereign state."""
        if not country:
            return "unknown", _NEVER, "unknown"
        c = country.upper()
        joined = self._joined.get(c)
        if joined is not None:
            return "other", joined, "nato"
        if c == "RU":
            return "russia", _NEVER, "russia"
        if c == "BY":
            return self._sides.belarus, _NEVER, self._sides.belarus
        return "other", _NEVER, "other"

    def side_of_country(self, country: str | None, t_s: float | None = None) -> Side:
        """Side of a sovereign state (ISO 3166-1 alpha-2) at data time ``t_s`` (None: today):
        nato (a member by then), russia, other or unknown."""
        before, switch_s, after = self._country_sides(country)
        return after if (_TODAY if t_s is None else t_s) >= switch_s else before

    # -- per identifier --------------------------------------------------------------

    def for_callsign(self, callsign: str | None) -> Side | None:
        """The side the configured callsign patterns give, or None when none matches."""
        if not callsign or (self._nato_cs is None and self._russia_cs is None):
            return None
        hit = self._cs_cache.get(callsign)
        if hit is not None or callsign in self._cs_cache:
            return hit
        cs = callsign.strip().upper()
        side: Side | None = None
        if self._nato_cs is not None and self._nato_cs.fullmatch(cs):
            side = "nato"
        elif self._russia_cs is not None and self._russia_cs.fullmatch(cs):
            side = "russia"
        if len(self._cs_cache) > 100_000:
            self._cs_cache.clear()
        self._cs_cache[callsign] = side
        return side

    def _resolved(
        self,
        country: str | None,
        listed_nato: bool,
        listed_russia: bool,
        callsign: str | None,
        asserted: Side | None,
        sovereign: str | None,
    ) -> _Resolved:
        """Precedence: config lists, callsign patterns, the feed's own claim, the tables."""
        side: Side | None
        if listed_nato:
            side = "nato"
        elif listed_russia:
            side = "russia"
        else:
            side = self.for_callsign(callsign) or asserted
        if side is not None:
            return country, side, _NEVER, side
        before, switch_s, after = self._country_sides(sovereign)
        return country, before, switch_s, after

    _CACHE_MAX = 500_000

    def _cached(
        self,
        cache: dict[Any, _Resolved],
        key: Any,
        callsign: str | None,
        asserted: Side | None,
        t_s: float | None,
        resolve: Callable[[Any, str | None, Side | None], _Resolved],
    ) -> tuple[str | None, Side]:
        """``resolve(key, callsign, asserted)`` at ``t_s``, remembered per identifier when only
        the identifier decides (no claim by the feed, and no callsign patterns to match)."""
        if asserted is not None or (callsign is not None and self._has_cs):
            hit = resolve(key, callsign, asserted)
        else:
            hit = cache.get(key)  # type: ignore[assignment]
            if hit is None:
                hit = resolve(key, callsign, None)
                if len(cache) >= self._CACHE_MAX:
                    cache.clear()
                cache[key] = hit
        country, before, switch_s, after = hit
        return country, after if (_TODAY if t_s is None else t_s) >= switch_s else before

    def for_mmsi(
        self, mmsi: int, callsign: str | None = None, asserted: Side | None = None, t_s: float | None = None
    ) -> tuple[str | None, Side]:
        """(flag ISO code or None, side at ``t_s``) of an AIS station; see the module doc."""
        return self._cached(self._mmsi_cache, mmsi, callsign, asserted, t_s, self._resolve_mmsi)

    def _resolve_mmsi(self, mmsi: int, callsign: str | None, asserted: Side | None) -> _Resolved:
        country, sovereign = None, None
        mid = mid_of_mmsi(mmsi)
        if mid is not None:
            country, sovereign = self._mid.get(mid, (None, None))
        return self._resolved(country, mmsi in self._nato_mmsi, mmsi in self._russia_mmsi, callsign, asserted,
                              sovereign)

    def country_of_icao(self, address: int) -> str | None:
        """ISO code of the State whose ICAO block holds a 24-bit address, or None."""
        i = bisect.bisect_right(self._block_starts, address) - 1
        if i >= 0:
            start, end, country = self._blocks[i]
            if start <= address <= end:
                return country
        return None

    def for_icao(
        self, address_hex: str, callsign: str | None = None, asserted: Side | None = None, t_s: float | None = None
    ) -> tuple[str | None, Side]:
        """(State ISO code or None, side at ``t_s``) of an aircraft by its 24-bit address in hex."""
        return self._cached(self._icao_cache, address_hex, callsign, asserted, t_s, self._resolve_icao)

    def _resolve_icao(self, address_hex: str, callsign: str | None, asserted: Side | None) -> _Resolved:
        a = address_hex.strip().lower()
        try:
            value = int(a, 16)
        except ValueError:
            value = -1
        country = self.country_of_icao(value) if 0 <= value <= 0xFFFFFF else None
        return self._resolved(country, a in self._nato_icao, a in self._russia_icao, callsign, asserted, country)

    def for_other(self, callsign: str | None, asserted: Side | None = None) -> Side:
        """Side of a track known only by callsign (CoT, generic tracks): config, then feed."""
        return self.for_callsign(callsign) or asserted or "unknown"
