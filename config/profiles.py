"""Rule profiles as data: the committed ones in ``config/data/profiles/`` and files of the same format.

This module only finds and reads a profile (a TOML document); ``proximity.rules.RuleProfile.parse``
checks it and gives it meaning (docs/engine.md, "Rule profiles").
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

__all__ = ["PROFILE_DIR", "ProfileFileError", "profile_names", "read_profile"]

PROFILE_DIR = Path(__file__).resolve().parent / "data" / "profiles"


class ProfileFileError(Exception):
    """A profile cannot be found or read: the message names it and why."""


def profile_names() -> tuple[str, ...]:
    """The committed profiles, by name (``military``, ``all-traffic``, ...)."""
    return tuple(sorted(p.stem for p in PROFILE_DIR.glob("*.toml")))


def read_profile(name_or_path: str) -> tuple[dict[str, Any], str]:
    """The decoded TOML of a committed profile (by name) or of a file (a path ending in ``.toml``),
    and the source to name in messages."""
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        path = Path(name_or_path)
    else:
        path = PROFILE_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise ProfileFileError(
                f"rule profile {name_or_path!r} is not one of {', '.join(profile_names())} (or a path to a .toml file)"
            )
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError as e:
        raise ProfileFileError(f"{path}: no such rule profile file") from e
    except UnicodeDecodeError as e:
        raise ProfileFileError(f"{path}: not UTF-8 text at byte {e.start}") from e
    except OSError as e:
        raise ProfileFileError(f"{path}: cannot read the rule profile: {e.strerror or e}") from e
    try:
        return tomllib.loads(text), str(path)
    except tomllib.TOMLDecodeError as e:
        raise ProfileFileError(f"{path}: not valid TOML: {e}") from e
