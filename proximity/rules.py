"""Rule profiles: which incidents are raised, and how loud; the context of a report.

A *rule profile* (data: ``config/data/profiles/*.toml``, read by
``config.profiles``; parsed and checked here by :meth:`RuleProfile.parse`)
decides for every incident the engine finds whether it is *raised* (its events
go to the alert sinks) or *suppressed* (counted by kind and reason, and written
as ``context`` events for the tracks an analyst asks about). docs/engine.md,
"Rule profiles", documents the format and the shipped profiles.

How an incident is judged (:meth:`Rules.judge`), in this order:

1. ``stationary``: a pair of tracks both stationary (moored or anchored ships,
   aircraft on the ground) raises nothing, when the profile's
   ``[context] stationary_pairs`` is on;
2. ``in_port``: subjects that are all civil (or unknown) and all inside a port
   area raise nothing, when ``[context] civil_in_port`` is on;
3. the profile's rules, in order: the first whose conditions hold decides
   (``raise`` with a severity, or ``suppress``); none: ``suppressed_by_rule``.

The severity of a raised event (:meth:`Rules.severity`): the family's own
(``severity = "kind"``) or the rule's fixed level, at most the rule's
``max_severity``; one level up when a subject's type is on the watch list; at
most the profile's ``suspect_max_severity`` when a subject is suspect
(integrity), except for ``track_integrity`` itself.

The context of a report (:class:`Context`, vectorised over a batch by
:meth:`Rules.report_context`): *stationary* (AIS navigational status 1 at anchor
or 5 moored, or slower than ``moored_max_speed_mps`` for ``moored_after_s``; an
aircraft reporting on the ground, or below ``ground_max_alt_m`` with no speed)
and *in port* (inside one of the port areas); the thresholds are ``[rules]``
settings (``config.settings.RuleSettings``).

The API the event families use: ``Rules.judge(kind, subjects)`` with one
:class:`Party` per subject (category, side, stationary, in port, innocent
passage) and the zone kind; it returns a :class:`Verdict`. Nothing here reads
files or keeps incidents: the lifecycle (``proximity.lifecycle``) applies the
verdicts and counts what is not raised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from shapely.geometry.base import BaseGeometry

from config.records import CATEGORIES, SEVERITIES, ZONE_KINDS, Category, Severity, Side, ZoneKind
from config.settings import RuleSettings

from ._zonegrid import ZoneGrid
from .errors import ProximityError
from .tracks import DOMAIN_CODE

__all__ = [
    "ALL_TRAFFIC",
    "CATEGORY_CODE",
    "SUPPRESS_REASONS",
    "Party",
    "ProfileError",
    "ReportContext",
    "Rule",
    "RuleProfile",
    "Rules",
    "Verdict",
]

CATEGORY_CODE: dict[str, int] = {c: k for k, c in enumerate(CATEGORIES)}

#: Why an incident was not raised. ``duplicate`` (one AIS message heard by several receivers)
#: is counted by the feeds (``ingest``), before the engine; the others here.
SUPPRESS_REASONS: tuple[str, ...] = ("suppressed_by_rule", "stationary", "in_port", "duplicate")

_SEA = DOMAIN_CODE["sea"]
_AIR = DOMAIN_CODE["air"]
# ITU-R M.1371-5, Table 45 (navigational status): 1 at anchor, 5 moored.
_NAV_AT_ANCHOR = 1
_NAV_MOORED = 5
_ACTIONS = ("raise", "suppress")
_RULE_KEYS = frozenset(
    {
        "id",
        "kinds",
        "action",
        "severity",
        "max_severity",
        "all_categories",
        "any_category",
        "zone_kinds",
        "not_innocent_passage",
        "description",
    }
)


class ProfileError(ProximityError):
    """A rule profile is malformed: the message names the file, the key path and the reason."""


def _lower(a: Severity, b: Severity) -> Severity:
    return a if SEVERITIES.index(a) <= SEVERITIES.index(b) else b


def _up(s: Severity) -> Severity:
    return SEVERITIES[min(SEVERITIES.index(s) + 1, len(SEVERITIES) - 1)]


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a profile; the conditions that are set must all hold.

    * ``kinds``: the event kinds it applies to (``"*"``: every kind);
    * ``all_categories``: every subject is of one of these categories;
    * ``any_category``: at least one subject is of one of these;
    * ``zone_kinds``: the event's zone is of one of these kinds;
    * ``not_innocent_passage``: the (track-level) subject is not in innocent passage
      (docs/engine.md, "Innocent passage");
    * ``action``: ``raise`` or ``suppress``; ``severity``: ``"kind"`` (the family's) or a
      level; ``max_severity``: a ceiling (None: none).
    """

    id: str
    kinds: tuple[str, ...] = ("*",)
    action: str = "raise"
    severity: str = "kind"
    max_severity: Severity | None = None
    all_categories: tuple[Category, ...] | None = None
    any_category: tuple[Category, ...] | None = None
    zone_kinds: tuple[ZoneKind, ...] | None = None
    not_innocent_passage: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not self.id or not isinstance(self.id, str):
            raise ValueError("id: a rule needs a non-empty id")
        if self.action not in _ACTIONS:
            raise ValueError(f"action: {self.action!r} is not one of {_ACTIONS}")
        if self.severity != "kind" and self.severity not in SEVERITIES:
            raise ValueError(f"severity: {self.severity!r} is not 'kind' nor one of {SEVERITIES}")
        if self.max_severity is not None and self.max_severity not in SEVERITIES:
            raise ValueError(f"max_severity: {self.max_severity!r} is not one of {SEVERITIES}")
        for key in ("all_categories", "any_category"):
            cats = getattr(self, key)
            if cats is not None:
                bad = [c for c in cats if c not in CATEGORIES]
                if bad or not cats:
                    raise ValueError(f"{key}: {bad or 'empty'} not among {CATEGORIES}")
        if self.zone_kinds is not None:
            bad = [z for z in self.zone_kinds if z not in ZONE_KINDS]
            if bad or not self.zone_kinds:
                raise ValueError(f"zone_kinds: {bad or 'empty'} not among {ZONE_KINDS}")
        if not self.kinds:
            raise ValueError("kinds: empty (use [\"*\"] for every kind)")

    def applies(self, kind: str, parties: Sequence[Party], zone_kind: str | None) -> bool:
        if "*" not in self.kinds and kind not in self.kinds:
            return False
        if self.all_categories is not None and not all(p.category in self.all_categories for p in parties):
            return False
        if self.any_category is not None and not any(p.category in self.any_category for p in parties):
            return False
        if self.zone_kinds is not None and zone_kind not in self.zone_kinds:
            return False
        if self.not_innocent_passage and not (parties and any(p.innocent_passage is False for p in parties)):
            return False
        return True


@dataclass(frozen=True, slots=True)
class RuleProfile:
    """A named, versioned list of rules and the contexts that silence incidents."""

    name: str
    version: int
    rules: tuple[Rule, ...]
    stationary_pairs: bool = False  # a pair of stationary tracks raises nothing
    civil_in_port: bool = False  # civil (or unknown) subjects all inside a port raise nothing
    suspect_max_severity: Severity | None = None  # the ceiling of an event with a suspect subject
    # the ceiling of a zone entry (or its prediction) of an announced flight inside its corridor and period
    announced_max_severity: Severity | None = None
    description: str = ""

    def __post_init__(self) -> None:
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"rules: ids repeated: {', '.join(dup)}")
        for key in ("suspect_max_severity", "announced_max_severity"):
            value = getattr(self, key)
            if value is not None and value not in SEVERITIES:
                raise ValueError(f"{key}: {value!r} is not one of {SEVERITIES}")
        if self.version < 1:
            raise ValueError(f"version: {self.version} is not a positive integer")

    @property
    def label(self) -> str:
        """``name@version``, as events name the profile."""
        return f"{self.name}@{self.version}"

    @classmethod
    def parse(cls, data: Mapping[str, Any], source: str = "<profile>", known_kinds: Sequence[str] = ()) -> RuleProfile:
        """A profile from its decoded TOML document; :class:`ProfileError` names ``source`` and the key.

        ``known_kinds``: when given, a rule naming another kind is an error.
        """
        allowed = {"name", "version", "description", "context", "severity", "rules"}
        extra = sorted(set(data) - allowed)
        if extra:
            raise ProfileError(f"{source}: {extra[0]}: unknown key")
        try:
            name = data["name"]
            version = data["version"]
        except KeyError as e:
            raise ProfileError(f"{source}: {e.args[0]}: missing") from e
        if not isinstance(name, str) or not name:
            raise ProfileError(f"{source}: name: not a non-empty text")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProfileError(f"{source}: version: {version!r} is not an integer")
        ctx = data.get("context", {})
        sev = data.get("severity", {})
        for key, table, keys in (("context", ctx, {"stationary_pairs", "civil_in_port"}),
                                 ("severity", sev, {"suspect_max_severity", "announced_max_severity"})):
            if not isinstance(table, Mapping):
                raise ProfileError(f"{source}: {key}: not a table")
            bad = sorted(set(table) - keys)
            if bad:
                raise ProfileError(f"{source}: {key}.{bad[0]}: unknown key")
        for key in ("stationary_pairs", "civil_in_port"):
            if not isinstance(ctx.get(key, False), bool):
                raise ProfileError(f"{source}: context.{key}: not true or false")
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise ProfileError(f"{source}: rules: not an array of tables ([[rules]])")
        rules: list[Rule] = []
        for k, r in enumerate(raw_rules):
            where = f"{source}: rules[{k}]"
            if not isinstance(r, Mapping):
                raise ProfileError(f"{where}: not a table")
            bad = sorted(set(r) - _RULE_KEYS)
            if bad:
                raise ProfileError(f"{where}.{bad[0]}: unknown key")
            args = dict(r)
            for key in ("kinds", "all_categories", "any_category", "zone_kinds"):
                if key in args:
                    v = args[key]
                    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                        raise ProfileError(f"{where}.{key}: not an array of texts")
                    args[key] = tuple(v)
            if known_kinds:
                unknown = [x for x in args.get("kinds", ()) if x != "*" and x not in known_kinds]
                if unknown:
                    raise ProfileError(f"{where}.kinds: {unknown[0]!r} is not an event kind ({', '.join(known_kinds)})")
            try:
                rules.append(Rule(**args))
            except (ValueError, TypeError) as e:
                raise ProfileError(f"{where}.{e}") from e
        try:
            return cls(
                name=name,
                version=version,
                rules=tuple(rules),
                stationary_pairs=ctx.get("stationary_pairs", False),
                civil_in_port=ctx.get("civil_in_port", False),
                suspect_max_severity=sev.get("suspect_max_severity"),
                announced_max_severity=sev.get("announced_max_severity"),
                description=str(data.get("description", "")),
            )
        except ValueError as e:
            raise ProfileError(f"{source}: {e}") from e


#: Today's behaviour: every incident raised at the family's severity (the engine's default;
#: ``config/data/profiles/all-traffic.toml`` is the same profile as data).
ALL_TRAFFIC = RuleProfile(
    name="all-traffic",
    version=1,
    rules=(Rule(id="everything", description="every incident, at the severity of its kind"),),
    description="Every incident between opposing tracks and every zone entry, as the engine finds them.",
)


@dataclass(frozen=True, slots=True)
class Party:
    """A subject of an incident as the rules see it."""

    category: Category = "unknown"
    side: Side = "unknown"
    stationary: bool = False
    in_port: bool = False
    innocent_passage: bool | None = None  # None: not judged (not in a territorial zone)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a profile says of an incident: raised by ``rule`` or suppressed for ``reason``."""

    raised: bool
    rule: Rule | None = None  # the rule that decided (None: a context, or no rule matched)
    reason: str | None = None  # why not raised: one of SUPPRESS_REASONS

    def rule_label(self, profile: RuleProfile) -> str | None:
        return f"{profile.label}/{self.rule.id}" if self.rule is not None else None


@dataclass(frozen=True, slots=True)
class ReportContext:
    """The context of each report of a batch (arrays by report)."""

    stationary: np.ndarray  # bool
    in_port: np.ndarray  # bool
    slow_since_s: np.ndarray  # float: since when the track has been slower than moored_max_speed_mps (NaN: not)


@dataclass(eq=False)
class Rules:
    """A profile at work: verdicts, severities, report contexts, the port areas, tracks to explain."""

    profile: RuleProfile = ALL_TRAFFIC
    context: RuleSettings = field(default_factory=RuleSettings)  # its profile name is not read here
    ports: Sequence[BaseGeometry] = ()  # port and anchorage areas, lon/lat
    explain: frozenset[str] = frozenset()  # track ids whose suppressed incidents become context events

    def __post_init__(self) -> None:
        self._by_id = {r.id: r for r in self.profile.rules}
        self._ports = ZoneGrid()
        for k, g in enumerate(self.ports):
            self._ports.set_zone(k, g)

    # -- verdicts --------------------------------------------------------------------------

    def rule(self, rule_id: str | None) -> Rule | None:
        """The profile's rule ``rule_id`` (None for None)."""
        return None if rule_id is None else self._by_id[rule_id]

    def judge(self, kind: str, parties: Sequence[Party], zone_kind: str | None = None) -> Verdict:
        """Raised or not, and why (see the module docstring for the order)."""
        p = self.profile
        if p.stationary_pairs and len(parties) >= 2 and all(x.stationary for x in parties):
            return Verdict(False, reason="stationary")
        if (
            p.civil_in_port
            and parties
            and all(x.in_port and x.category in ("civil", "unknown") for x in parties)
        ):
            return Verdict(False, reason="in_port")
        for rule in p.rules:
            if rule.applies(kind, parties, zone_kind):
                if rule.action == "raise":
                    return Verdict(True, rule)
                return Verdict(False, rule, "suppressed_by_rule")
        return Verdict(False, reason="suppressed_by_rule")

    def severity(self, kind: str, base: Severity, rule: Rule | None, *, watched: bool, suspect: bool,
                 announced: bool = False) -> Severity:
        """The severity of a raised event (see the module docstring).

        ``base`` is the family's severity, which the lifecycle raised one level for a
        watched type; the watch raises a rule's fixed level and ceiling alike.
        """
        s: Severity = base  # the family's, already one level up for a watched type
        if rule is not None:
            if rule.severity != "kind":
                fixed: Severity = rule.severity  # type: ignore[assignment]
                s = _up(fixed) if watched else fixed
            if rule.max_severity is not None:
                s = _lower(s, _up(rule.max_severity) if watched else rule.max_severity)
        cap = self.profile.suspect_max_severity
        if suspect and cap is not None and kind != "track_integrity":
            s = _lower(s, cap)
        cap = self.profile.announced_max_severity
        if announced and cap is not None:
            s = _lower(s, cap)
        return s

    # -- the context of reports --------------------------------------------------------------

    def report_context(
        self,
        slots: np.ndarray,
        updates: Sequence[Any] | np.ndarray,
        t_s: np.ndarray,
        lon_deg: np.ndarray,
        lat_deg: np.ndarray,
        alt_m: np.ndarray,
        speed_mps: np.ndarray,
        domain: np.ndarray,
        slow_since_before_s: np.ndarray,
    ) -> ReportContext:
        """Stationary and in-port of each report of a batch, in arrival order.

        ``slow_since_before_s``: each report's track's slow-since time before the batch
        (NaN: not slow). A track's slow run continues across reports of the batch, so the
        answer does not depend on how the reports are cut into batches.
        """
        n = len(updates)
        c = self.context
        nav = np.fromiter((-1 if u.nav_status is None else u.nav_status for u in updates), np.int16, n)
        ground = np.fromiter((u.on_ground is True for u in updates), bool, n)
        with np.errstate(invalid="ignore"):
            slow = (domain == _SEA) & (speed_mps < c.moored_max_speed_mps)
            no_speed = np.isnan(speed_mps) | (speed_mps <= c.ground_max_speed_mps)
            low = alt_m <= c.ground_max_alt_m
        # since when each report's track has been slow: the first report of its current slow run
        since = np.full(n, math.nan)
        if slow.any():
            order = np.argsort(slots, kind="stable")
            s = slots[order]
            so = slow[order]
            to = t_s[order]
            idx = np.arange(n)
            start = np.r_[0, np.nonzero(s[1:] != s[:-1])[0] + 1]
            group_start = np.repeat(start, np.diff(np.r_[start, n]))
            last_fast = np.maximum.accumulate(np.where(so, -1, idx))
            in_group = last_fast >= group_start
            before = slow_since_before_s[order]
            first_t = np.where(np.isnan(before), to[group_start], before)
            run_start = np.where(in_group, to[np.minimum(last_fast + 1, n - 1)], first_t)
            since[order] = np.where(so, run_start, math.nan)
        with np.errstate(invalid="ignore"):
            moored = ((nav == _NAV_AT_ANCHOR) | (nav == _NAV_MOORED)) & (domain == _SEA)
            long_slow = slow & (t_s - since >= c.moored_after_s)
            on_ground = (domain == _AIR) & (ground | (low & no_speed))
        stationary = moored | long_slow | on_ground
        in_port = np.zeros(n, bool)
        if len(self.ports):
            sea = np.nonzero(domain == _SEA)[0]
            if sea.size:
                pi, _ = self._ports.query(lon_deg[sea], lat_deg[sea])
                in_port[sea[pi]] = True
        return ReportContext(stationary, in_port, since)

    def explained(self, track_ids: Sequence[str]) -> bool:
        """An analyst asked about one of these tracks."""
        return bool(self.explain) and any(t in self.explain for t in track_ids)


def _check_categories() -> None:  # the codes index CATEGORIES; keep them in step
    assert tuple(CATEGORY_CODE) == CATEGORIES


_check_categories()
