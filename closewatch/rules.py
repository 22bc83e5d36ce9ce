"""The rule profile of a run: ``[rules]`` settings and the profile file made into ``proximity.rules.Rules``."""

from __future__ import annotations

from typing import Iterable

from config.profiles import ProfileFileError, read_profile
from config.settings import ConfigError, Settings
from proximity.events import event_kinds
from proximity.rules import ProfileError, RuleProfile, Rules

__all__ = ["build_rules", "load_profile"]


def load_profile(name_or_path: str) -> RuleProfile:
    """A committed profile by name, or a profile file; :class:`ConfigError` says what is wrong, where."""
    try:
        data, source = read_profile(name_or_path)
        return RuleProfile.parse(data, source, known_kinds=tuple(event_kinds()))
    except (ProfileFileError, ProfileError) as e:
        raise ConfigError(f"rules.profile: {e}") from e


def build_rules(settings: Settings, explain: Iterable[str] = ()) -> Rules:
    """The rules of a run: its profile, context settings and the tracks to explain
    (``[rules] explain`` plus ``explain``)."""
    r = settings.rules
    return Rules(
        profile=load_profile(r.profile),
        context=r,
        explain=frozenset((*r.explain, *explain)),
    )
