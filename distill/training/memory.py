"""Handing freed memory back to the system between CPU training steps.

glibc's malloc keeps the pages of freed tensors in its heap for reuse, and the heap
fragments: a step's activations land in different holes each time (the last batch of an
epoch is smaller), so the resident set creeps far past what is live. Measured with
``benchmarks/train.py``'s default model at batch 32 (2 shared cores): live peak ~780 MiB,
resident peak 1,000-1,100 MiB after 10-20 steps; with ``malloc_trim`` after every step
933-975 MiB, but interleaved runs on a quiet machine measured the step 5-9 % slower (the
pages a step touches are faulted back in); ``trim_if_grown`` trims only when the resident
set crept 5 % past the last trim: 971 MiB, and the step as fast as without trimming.
Fixing glibc's mmap threshold instead (every large tensor its own mapping) reached
820-840 MiB but cost 15-60 % more CPU time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable
from functools import cache

log = logging.getLogger(__name__)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the system (glibc ``malloc_trim(0)``); False
    where the C library has no such call. Any thread may call it."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


#: ``trim_if_grown`` trims once the resident set is this much above where the last trim left it.
TRIM_GROWTH = 1.05
_last_trimmed_rss = 0


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _page_size()
    except (OSError, ValueError, IndexError):
        return 0


@cache
def _page_size() -> int:
    import os

    return os.sysconf("SC_PAGE_SIZE")


def trim_if_grown() -> bool:
    """``release_freed_memory`` when the resident set grew ``TRIM_GROWTH`` past the last trim.

    A trim every step bounds the peak but costs the next step its page faults (the
    activations' pages are handed back, then touched again): ~5-9 % of a batch-32 step.
    Trimming only when the heap has crept keeps the bound for a fraction of that cost.
    Call it from one thread (the training loop). True when it trimmed.
    """
    global _last_trimmed_rss
    rss = _rss_bytes()
    if rss and _last_trimmed_rss and rss < TRIM_GROWTH * _last_trimmed_rss:
        return False
    trimmed = release_freed_memory()
    _last_trimmed_rss = _rss_bytes()
    return trimmed
