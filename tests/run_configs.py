"""Run configurations the tests write: one normalised-tracks feed, the territorial zones off.

``closewatch run -c`` reads them; what differs between tests (sinks, Kafka, follow mode) is a
keyword, so each test says only what it is about.
"""

from __future__ import annotations

from pathlib import Path


def tracks_run_config(feed: Path, *, follow: bool = False, events: Path | None = None, dead: Path | None = None,
                      sinks_extra: str = "", extra: str = "") -> str:
    """A TOML run configuration reading ``feed`` (tracks JSON Lines) once, or following it from the
    start; ``events`` and ``dead`` name the JSON Lines sinks; ``sinks_extra`` adds keys to
    ``[sinks]``, ``extra`` whole sections."""
    transport = 'transport = "follow"\nfrom_start = true\n' if follow else ""
    sinks = "".join(f'{key} = "{path}"\n' for key, path in (("events_jsonl", events), ("deadletter_jsonl", dead))
                    if path is not None)
    sinks_section = f"\n[sinks]\n{sinks}{sinks_extra}" if sinks or sinks_extra else ""
    return f"""
[[feeds]]
name = "tracks"
format = "tracks-jsonl"
{transport}path = "{feed}"

[zones]
territorial = false
{sinks_section}{extra}"""
