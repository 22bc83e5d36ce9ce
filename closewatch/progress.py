"""Progress of long commands (archive import, replay, report): a bar on a terminal, log lines otherwise.

On a terminal (stderr is a TTY) a ``tqdm`` bar shows the count, the rate, the time elapsed
and the time remaining. tqdm is the maintained, dependency-free library for this: it
smooths the rate, sizes the bar to the terminal and redraws in place; writing our own
would repeat that. Elsewhere (a log file, CI, a pipe) a bar redrawn with carriage returns
is noise, so the same figures go out as one ``INFO`` log line every ``every_s`` seconds,
and one at the end.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any

from tqdm import tqdm

__all__ = ["Progress"]

log = logging.getLogger(__name__)

_FORMAT = "{desc}: {n_fmt}/{total_fmt}{unit} [{elapsed}<{remaining}, {rate_fmt}]"
_FORMAT_OPEN = "{desc}: {n_fmt}{unit} [{elapsed}, {rate_fmt}]"


class Progress:
    """Count work done towards ``total`` (``None``: unknown) in ``unit``s."""

    def __init__(
        self,
        desc: str,
        total: float | None,
        unit: str,
        *,
        stream: IO[str] | None = None,
        every_s: float = 5.0,
        tty: bool | None = None,
    ) -> None:
        self.desc = desc
        self.total = total
        self.unit = unit
        self.n = 0.0
        self._stream = stream if stream is not None else sys.stderr
        self._every_s = every_s
        self._start = time.monotonic()
        self._last_log = self._start
        self._started = False
        is_tty = tty if tty is not None else bool(getattr(self._stream, "isatty", lambda: False)())
        self._bar: Any = None
        if is_tty:
            self._bar = tqdm(total=total, desc=desc, unit=f" {unit}", file=self._stream, unit_scale=True,
                             dynamic_ncols=True, leave=True, mininterval=0.2)

    def update(self, n: float = 1.0) -> None:
        """Count ``n`` more; the clock of the rate starts at the first call (set-up time is not work)."""
        if not self._started:
            self._started = True
            self._start = self._last_log = time.monotonic()
            if self._bar is not None:
                self._bar.reset(total=self.total)
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last_log >= self._every_s:
            self._last_log = now
            log.info("%s", self.line())

    def line(self) -> str:
        """The figures as one line: count, total, elapsed, remaining, rate."""
        return tqdm.format_meter(
            self.n, self.total, time.monotonic() - self._start, prefix=self.desc, unit=f" {self.unit}",
            unit_scale=True, bar_format=_FORMAT if self.total else _FORMAT_OPEN,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        else:
            log.info("%s", self.line())

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
