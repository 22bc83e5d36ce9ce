r"""Who operates a track: ``military``, ``state``, ``civil`` or ``unknown``, and why.

Every decoder asks a :class:`Classifier` for the ``category`` of a report and the
``category_source`` that decided it. The facts are data files in
``config/data/classification/`` (see PROVENANCE.md there); the configuration
(:class:`config.settings.ClassificationSettings`, ``[classification]``) overrides them.

Precedence: the first source that decides wins, in this order (a source that finds
nothing passes on to the next):

AIS (``ais:<MMSI>``)
    1. configured MMSI lists (``config_list``), then configured name and callsign
       patterns (``config_pattern``);
    2. a category the record itself carries (the generic track format: its
       ``category`` and ``category_source`` are kept);
    3. the MMSI format (ITU-R M.585): ``111MIDxxx`` SAR aircraft -> state
       (``mmsi_format_sar_aircraft``); ``99MIDxxxx`` aids to navigation and the
       ``970``/``972``/``974`` beacons -> unknown, with ``mmsi_aton``, ``mmsi_sart``,
       ``mmsi_mob``, ``mmsi_epirb`` as the source (they are not vessels: the engine
       may leave them out of pair events);
    4. the ship and cargo type (ITU-R M.1371-5 Table 53): 35 military operations
       -> military, 51 search and rescue and 55 law enforcement -> state
       (``ais_type_35``...);
    5. name patterns (``name_pattern:WARSHIP``, ``name_pattern:COAST_GUARD``...);
    6. a civil ship type (cargo, tanker, passenger, fishing, tug...) -> civil
       (``ais_type_70``);
    7. otherwise unknown; a ``98MIDxxxx`` MMSI (craft of a parent ship) says so with
       ``mmsi_craft_associated``.

Aircraft (``icao:<hex>``)
    1. configured ICAO address lists (``config_list``), then configured callsign
       patterns (``config_pattern``);
    2. what the feed asserts: readsb/tar1090 ``dbFlags`` bit 0 (military, from the
       receiver's aircraft database) -> ``dbflags_military``; a generic record's own
       category;
    3. the ICAO address in a military sub-block (``icao_military_block:US``);
    4. a callsign prefix of an air arm or state flight service
       (``callsign_prefix:RFF``, ``callsign_prefix:RSD`` -> state);
    5. a military type designator (``type_designator:TU95``);
    6. an airline-style callsign, three letters that are not an air arm's and a flight
       number (``EZY92KE``) -> civil (``callsign_airline:EZY``): the weakest evidence,
       after every military or state source;
    7. otherwise unknown.

Cursor on Target (``cot:<uid>``)
    1. configured callsign patterns (``config_pattern``);
    2. the CoT type tree: ``a-?-A-M...`` military air, ``a-?-A-C...`` civil air,
       ``a-?-S-C...`` combatant, ``a-?-S-X...`` non-military ship... (``cot_type:A-M``);
    3. callsign prefix, as for aircraft; otherwise unknown.

Other identities (``ext:<id>``) take configured patterns, the record's own category,
callsign prefixes, type designators and name patterns in that order.

Patterns in the configuration are matched against the whole callsign or name, case
insensitively (like ``[sides]``); the name patterns of the data file are searched.
Results are cached per identity and its static data (bounded).
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

from config._tables import csv_rows
from config.records import CATEGORIES, Category
from config.settings import LISTED_CATEGORIES, ClassificationSettings

__all__ = [
    "DATA_DIR",
    "CallsignPrefix",
    "ClassificationError",
    "Classifier",
    "MilitaryBlock",
    "MilitaryType",
    "ais_ship_types",
    "callsign_prefixes",
    "cot_types",
    "military_blocks",
    "military_types",
    "mmsi_formats",
    "name_patterns",
    "watch_types",
]

DATA_DIR = Path(__file__).resolve().parent / "data" / "classification"

#: What a classification gives: the category and the source that decided it (None: nothing).
Decision = tuple[Category, str | None]
_UNKNOWN: Decision = ("unknown", None)


class ClassificationError(ValueError):
    """A classification table is invalid."""


def _rows(name: str) -> list[dict[str, str]]:
    return csv_rows(DATA_DIR / name, ClassificationError, "classification")


def _category(value: str, where: str) -> Category:
    if value not in CATEGORIES:
        raise ClassificationError(f"{where}: category {value!r} is not one of {CATEGORIES}")
    return value  # type: ignore[return-value]


def _yes(value: str, where: str) -> bool:
    if value not in ("yes", "no"):
        raise ClassificationError(f"{where}: {value!r} is neither yes nor no")
    return value == "yes"


class MilitaryBlock(NamedTuple):
    start: int
    end: int
    country: str
    category: Category
    confidence: str


class CallsignPrefix(NamedTuple):
    prefix: str
    category: Category
    country: str | None
    operator: str
    confidence: str


class MilitaryType(NamedTuple):
    designator: str
    role: str
    name: str
    watch: bool
    confidence: str


_ROLES = frozenset(("bomber", "fighter", "isr", "maritime_patrol", "tanker", "transport", "helicopter", "uav",
                    "trainer"))


@lru_cache(maxsize=1)
def ais_ship_types() -> dict[int, tuple[Category, bool, str]]:
    """AIS ship and cargo type -> (category, decides, label), from ``ais_ship_types.csv``."""
    table: dict[int, tuple[Category, bool, str]] = {}
    for i, r in enumerate(_rows("ais_ship_types.csv"), start=1):
        where = f"ais_ship_types.csv row {i}"
        try:
            first, last = int(r["first"]), int(r["last"])
        except (TypeError, ValueError) as e:
            raise ClassificationError(f"{where}: bad type range") from e
        if not 1 <= first <= last <= 99:
            raise ClassificationError(f"{where}: range {first}-{last} is not within 1-99")
        entry = (_category(r["category"], where), _yes(r["decides"], where), r["label"])
        for t in range(first, last + 1):
            if t in table:
                raise ClassificationError(f"{where}: type {t} listed twice")
            table[t] = entry
    return table


@lru_cache(maxsize=1)
def mmsi_formats() -> tuple[tuple[str, Category, str, bool], ...]:
    """(prefix, category, source, final) of the MMSI formats, longest prefix first."""
    rows = []
    for i, r in enumerate(_rows("mmsi_formats.csv"), start=1):
        where = f"mmsi_formats.csv row {i}"
        prefix = r["prefix"].strip()
        if not prefix.isdigit() or not 1 <= len(prefix) <= 8 or not r["source"]:
            raise ClassificationError(f"{where}: prefix {prefix!r} or source {r['source']!r} invalid")
        rows.append((prefix, _category(r["category"], where), r["source"], _yes(r["final"], where)))
    return tuple(sorted(rows, key=lambda row: -len(row[0])))


@lru_cache(maxsize=1)
def military_blocks() -> tuple[MilitaryBlock, ...]:
    """Sorted, non-overlapping military address sub-blocks (``icao_military_blocks.csv``)."""
    blocks = []
    for i, r in enumerate(_rows("icao_military_blocks.csv"), start=1):
        where = f"icao_military_blocks.csv row {i}"
        try:
            start, end = int(r["start"], 16), int(r["end"], 16)
        except (TypeError, ValueError) as e:
            raise ClassificationError(f"{where}: bad hex range") from e
        if not 0 <= start <= end <= 0xFFFFFF:
            raise ClassificationError(f"{where}: range {r['start']}-{r['end']} invalid")
        if r["confidence"] not in ("documented", "reported"):
            raise ClassificationError(f"{where}: confidence {r['confidence']!r}")
        blocks.append(MilitaryBlock(start, end, r["country"], _category(r["category"], where), r["confidence"]))
    blocks.sort()
    for a, b in zip(blocks, blocks[1:]):
        if b.start <= a.end:
            raise ClassificationError(f"icao_military_blocks.csv: {a.country} {a.start:06X}-{a.end:06X} overlaps "
                                      f"{b.country} {b.start:06X}")
    return tuple(blocks)


@lru_cache(maxsize=1)
def callsign_prefixes() -> dict[str, CallsignPrefix]:
    """Callsign prefix -> its air arm or state service (``callsign_prefixes.csv``)."""
    table: dict[str, CallsignPrefix] = {}
    for i, r in enumerate(_rows("callsign_prefixes.csv"), start=1):
        where = f"callsign_prefixes.csv row {i}"
        prefix = r["prefix"].strip().upper()
        if not prefix.isalpha() or not 3 <= len(prefix) <= 4 or prefix in table:
            raise ClassificationError(f"{where}: prefix {prefix!r} is not 3-4 letters, or repeated")
        if r["confidence"] not in ("designator", "reported"):
            raise ClassificationError(f"{where}: confidence {r['confidence']!r}")
        table[prefix] = CallsignPrefix(prefix, _category(r["category"], where), r["country"] or None,
                                       r["operator"], r["confidence"])
    return table


@lru_cache(maxsize=1)
def military_types() -> dict[str, MilitaryType]:
    """ICAO type designator -> role and watch flag (``military_types.csv``)."""
    table: dict[str, MilitaryType] = {}
    for i, r in enumerate(_rows("military_types.csv"), start=1):
        where = f"military_types.csv row {i}"
        d = r["designator"].strip().upper()
        if not d.isalnum() or not 2 <= len(d) <= 5 or d in table:
            raise ClassificationError(f"{where}: designator {d!r} is not 2-5 letters/digits, or repeated")
        if r["role"] not in _ROLES:
            raise ClassificationError(f"{where}: role {r['role']!r} is not one of {sorted(_ROLES)}")
        if r["confidence"] not in ("designator", "alias", "reported"):
            raise ClassificationError(f"{where}: confidence {r['confidence']!r}")
        table[d] = MilitaryType(d, r["role"], r["name"], _yes(r["watch"], where), r["confidence"])
    return table


def watch_types() -> tuple[str, ...]:
    """The designators whose presence raises an event's severity: the ``watch`` column of
    ``military_types.csv`` (the default of ``proximity.watch_types``)."""
    return tuple(d for d, t in military_types().items() if t.watch)


@lru_cache(maxsize=1)
def cot_types() -> tuple[tuple[str, Category], ...]:
    """(type after the affiliation, category) of the CoT type tree, longest first."""
    rows = []
    for i, r in enumerate(_rows("cot_types.csv"), start=1):
        where = f"cot_types.csv row {i}"
        t = r["type"].strip()
        if not t or not all(p and p.isalpha() for p in t.split("-")):
            raise ClassificationError(f"{where}: type {t!r} is not dash-separated letters")
        rows.append((t, _category(r["category"], where)))
    return tuple(sorted(rows, key=lambda row: -len(row[0])))


@lru_cache(maxsize=1)
def name_patterns() -> tuple[tuple[str, Category, re.Pattern[str]], ...]:
    """(label, category, compiled pattern) of the ship name patterns, in file order."""
    rows = []
    for i, r in enumerate(_rows("name_patterns.csv"), start=1):
        where = f"name_patterns.csv row {i}"
        try:
            pattern = re.compile(r["pattern"])
        except re.error as e:
            raise ClassificationError(f"{where}: {r['pattern']!r} is not a regular expression: {e}") from e
        rows.append((r["label"], _category(r["category"], where), pattern))
    return tuple(rows)


# A callsign that starts with a prefix of letters and then a digit: the ICAO form of an
# aircraft identification made of an operator's designator and a flight number (ICAO
# Annex 10 Vol II, 5.2.1.7.2.1 c)), or an air arm's prefix and a number.
_CALLSIGN_HEAD = re.compile(r"([A-Z]{3,4})\d")
_AIRLINE = re.compile(r"[A-Z]{3}\d[0-9A-Z]{0,4}")
_CACHE_MAX = 200_000


def _pattern_table(
    settings: ClassificationSettings, what: Literal["callsign", "name"]
) -> tuple[tuple[Category, re.Pattern[str]], ...]:
    """(category, the patterns joined) for the configured ``<category>_<what>_patterns``."""
    out: list[tuple[Category, re.Pattern[str]]] = []
    for category in LISTED_CATEGORIES:
        pattern = settings.pattern(category, what)
        if pattern is not None:
            out.append((category, pattern))
    return tuple(out)


class Classifier:
    """The category of a report, from its identity and what the feed says (see module doc)."""

    def __init__(self, settings: ClassificationSettings | None = None) -> None:
        settings = settings if settings is not None else ClassificationSettings()
        self._mmsi: dict[int, Category] = {}
        self._icao: dict[str, Category] = {}
        for category in LISTED_CATEGORIES:
            for m in getattr(settings, f"{category}_mmsi"):
                self._mmsi[m] = category
            for a in getattr(settings, f"{category}_icao"):
                self._icao[a.strip().lower()] = category
        self._callsign_patterns = _pattern_table(settings, "callsign")
        self._name_patterns = _pattern_table(settings, "name")
        self._ship_types = ais_ship_types()
        self._mmsi_formats = mmsi_formats()
        blocks = military_blocks()
        self._block_starts = [b.start for b in blocks]
        self._blocks = blocks
        self._prefixes = callsign_prefixes()
        self._types = military_types()
        self._cot = cot_types()
        self._names = name_patterns()
        self._ais_cache: dict[int | tuple[int, str | None, str | None, str | None], Decision] = {}
        self._air_cache: dict[tuple[str, str | None, str | None, int | None], Decision] = {}

    # -- shared sources ----------------------------------------------------------------

    @staticmethod
    def _configured(table: tuple[tuple[Category, re.Pattern[str]], ...], text: str | None) -> Decision | None:
        if text and table:
            t = text.strip()
            for category, pattern in table:
                if pattern.fullmatch(t):
                    return category, "config_pattern"
        return None

    def _config_patterns(self, callsign: str | None, name: str | None) -> Decision | None:
        return self._configured(self._callsign_patterns, callsign) or self._configured(self._name_patterns, name)

    def _callsign_prefix(self, callsign: str | None) -> Decision | None:
        """An air arm's or state service's prefix (military/state), else None."""
        if not callsign:
            return None
        m = _CALLSIGN_HEAD.match(callsign.strip().upper())
        if m is None:
            return None
        head = m.group(1)
        hit = self._prefixes.get(head) or (self._prefixes.get(head[:3]) if len(head) == 4 else None)
        return None if hit is None else (hit.category, "callsign_prefix:" + hit.prefix)

    def _airline(self, callsign: str | None) -> Decision | None:
        """An airline-style callsign (three letters that are no air arm's, a flight number)."""
        if not callsign:
            return None
        cs = callsign.strip().upper()
        if _AIRLINE.fullmatch(cs) and cs[:3] not in self._prefixes:
            return "civil", "callsign_airline:" + cs[:3]
        return None

    def _type_designator(self, type_code: str | None) -> Decision | None:
        if not type_code:
            return None
        hit = self._types.get(type_code.strip().upper())
        return None if hit is None else ("military", "type_designator:" + hit.designator)

    def _name_pattern(self, name: str | None) -> Decision | None:
        if not name:
            return None
        upper = name.upper()
        for label, category, pattern in self._names:
            if pattern.search(upper):
                return category, "name_pattern:" + label
        return None

    def military_block(self, address: int) -> MilitaryBlock | None:
        """The military sub-block holding a 24-bit address, or None."""
        i = bisect.bisect_right(self._block_starts, address) - 1
        if i >= 0:
            block = self._blocks[i]
            if address <= block.end:
                return block
        return None

    # -- per identity scheme -------------------------------------------------------------

    def ais(
        self,
        mmsi: int,
        ship_type: str | None = None,
        name: str | None = None,
        callsign: str | None = None,
        asserted: Decision | None = None,
    ) -> Decision:
        """(category, source) of an AIS station: ``ship_type`` is the ship and cargo type as
        text (``TrackUpdate.type_code``), ``asserted`` a category the record carries."""
        if asserted is not None:
            return self._ais(mmsi, ship_type, name, callsign, asserted)
        key: int | tuple[int, str | None, str | None, str | None]
        key = mmsi if ship_type is None and name is None and callsign is None else (mmsi, ship_type, name, callsign)
        hit = self._ais_cache.get(key)
        if hit is None:
            hit = self._ais(mmsi, ship_type, name, callsign, None)
            if len(self._ais_cache) >= _CACHE_MAX:
                self._ais_cache.clear()
            self._ais_cache[key] = hit
        return hit

    def _ais(
        self, mmsi: int, ship_type: str | None, name: str | None, callsign: str | None, asserted: Decision | None
    ) -> Decision:
        listed = self._mmsi.get(mmsi)
        if listed is not None:
            return listed, "config_list"
        found = self._config_patterns(callsign, name)
        if found is not None:
            return found
        if asserted is not None and asserted[0] != "unknown":
            return asserted
        digits = f"{mmsi:09d}"
        note: Decision | None = None
        for prefix, category, source, final in self._mmsi_formats:
            if digits.startswith(prefix):
                if final:
                    return category, source
                note = (category, source)
                break
        kind = None
        if ship_type is not None and ship_type.isdigit():
            kind = self._ship_types.get(int(ship_type))
            if kind is not None and kind[1] and kind[0] != "civil":
                return kind[0], "ais_type_" + str(int(ship_type))
        found = self._name_pattern(name)
        if found is not None:
            return found
        if kind is not None and kind[1]:
            return kind[0], "ais_type_" + str(int(ship_type))  # type: ignore[arg-type]
        return note if note is not None else _UNKNOWN

    def aircraft(
        self,
        address: str,
        callsign: str | None = None,
        type_code: str | None = None,
        db_flags: int | None = None,
        asserted: Decision | None = None,
    ) -> Decision:
        """(category, source) of an aircraft by its 24-bit address in lower-case hex (``~``
        first: a non-ICAO address, which no block holds), callsign, ICAO type designator,
        and readsb ``dbFlags`` when the feed carries them."""
        if asserted is not None:
            return self._aircraft(address, callsign, type_code, db_flags, asserted)
        key = (address, callsign, type_code, db_flags)
        hit = self._air_cache.get(key)
        if hit is None:
            hit = self._aircraft(address, callsign, type_code, db_flags, None)
            if len(self._air_cache) >= _CACHE_MAX:
                self._air_cache.clear()
            self._air_cache[key] = hit
        return hit

    def _aircraft(
        self, address: str, callsign: str | None, type_code: str | None, db_flags: int | None,
        asserted: Decision | None,
    ) -> Decision:
        listed = self._icao.get(address)
        if listed is not None:
            return listed, "config_list"
        found = self._configured(self._callsign_patterns, callsign)
        if found is not None:
            return found
        if db_flags is not None and db_flags & 1:
            return "military", "dbflags_military"
        if asserted is not None and asserted[0] != "unknown":
            return asserted
        if not address.startswith("~"):
            try:
                value = int(address, 16)
            except ValueError:
                value = -1
            block = self.military_block(value) if 0 <= value <= 0xFFFFFF else None
            if block is not None:
                return block.category, "icao_military_block:" + block.country
        return (self._callsign_prefix(callsign) or self._type_designator(type_code) or self._airline(callsign)
                or _UNKNOWN)

    def cot(self, cot_type: str, callsign: str | None = None) -> Decision:
        """(category, source) of a Cursor on Target atom by its type (``a-u-A-M-F``)."""
        found = self._configured(self._callsign_patterns, callsign)
        if found is not None:
            return found
        parts = cot_type.split("-", 2)
        if len(parts) == 3 and parts[0] == "a":
            rest = parts[2]
            for t, category in self._cot:
                if rest == t or rest.startswith(t + "-"):
                    return category, "cot_type:" + t
        return self._callsign_prefix(callsign) or _UNKNOWN

    def other(
        self,
        callsign: str | None = None,
        name: str | None = None,
        type_code: str | None = None,
        asserted: Decision | None = None,
    ) -> Decision:
        """(category, source) of a track known by no identity scheme of ours (``ext:``)."""
        found = self._config_patterns(callsign, name)
        if found is not None:
            return found
        if asserted is not None and asserted[0] != "unknown":
            return asserted
        return (self._callsign_prefix(callsign) or self._type_designator(type_code) or self._name_pattern(name)
                or _UNKNOWN)
