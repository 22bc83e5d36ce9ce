"""Give freed heap memory back to the operating system (glibc ``malloc_trim``).

A 24/7 run allocates in bursts: during a broker outage librdkafka's queue holds the
tracks that wait for an acknowledgement (up to ``spool_after_s`` of input), a burst of
events or dead letters makes many small objects. When the burst is over, CPython and
librdkafka free that memory, but glibc keeps the freed pages in its heaps for later,
so the resident size stays at the burst's high-water mark for the rest of the run.
``malloc_trim(0)`` hands back the free pages at the top of each heap and the whole free
pages inside them (glibc 2.8 and later). Where the C library is not glibc (musl,
macOS) there is no such call and this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Callable

__all__ = ["release_free_memory", "TRIM_INTERVAL_S"]

log = logging.getLogger(__name__)

#: How often a run gives free heap memory back (seconds of wall time). The call walks the
#: heaps' free lists: milliseconds for a few hundred MB, nothing against a minute of input.
TRIM_INTERVAL_S = 60.0


def _find_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        fn = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


_TRIM = _find_trim()


def release_free_memory() -> bool:
    """Hand the heaps' free pages back to the system; False where the C library cannot."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
