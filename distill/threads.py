"""Thread policy for torch on small machines.

Measured on a 2-core machine (``benchmarks/decode.py``, decoder + inverse of one 1 s clip):

- OpenMP's default ACTIVE wait spins: with another process busy, a decode took 276 ms
  instead of 9 ms (p95 1.6 s). ``import distill`` sets ``OMP_WAIT_POLICY=PASSIVE``.
- With PASSIVE waits, waking a second thread costs more than it gains on one clip:
  decoder + locked inverse 9.2 ms on 1 thread, 12.2 ms on 2; PGHI inverse 5.9 vs 9.2 ms.
  Batches go the other way (4 clips: 27.8 ms on 2 threads vs 33.7 ms on 1).

So real-time rendering (one clip at a time, on the renderer thread) runs on
``REALTIME_THREADS``; training and batch rendering use every core. ``torch.set_num_threads``
applies to the calling thread's OpenMP regions, so a renderer thread can run on one thread
while a training thread uses two.
"""

from __future__ import annotations

import logging
import os
import threading

import torch

log = logging.getLogger(__name__)


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


#: Intra-op threads of a real-time renderer thread (see the module docstring).
REALTIME_THREADS = 1


def apply_realtime_policy() -> int:
    """Call on a real-time renderer thread: one clip at a time is fastest single-threaded."""
    return apply_thread_policy(REALTIME_THREADS)


#: Niceness of background work (training) in a process that also plays: under contention
#: the scheduler gives a nice-0 thread about 9x the CPU of a nice-10 one.
BACKGROUND_NICE = 10


def lower_thread_priority(nice: int = BACKGROUND_NICE) -> bool:
    """Make the calling thread (and the OpenMP threads it starts afterwards) yield the CPU.

    Call it first thing on a background thread (the studio's training thread), so the
    real-time render thread and PortAudio's callback win when the cores are busy. Linux
    keeps a nice value per thread, and threads inherit it from the thread that creates
    them (torch's OpenMP pool of this thread included). A thread can raise its own nice
    value without privileges, never lower it back: use it on threads that end. Returns
    False where the platform has no per-thread priority (the call then does nothing).
    """
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return False
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:
        log.debug("could not lower this thread's priority: %s", exc)
        return False
    return True


def apply_thread_policy(num_threads: int = 0) -> int:
    """Set torch's intra-op thread count; 0 means all available cores. Returns the count."""
    n = num_threads if num_threads > 0 else available_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    log.debug("torch intra-op threads: %d (OMP_WAIT_POLICY=%s)", n, os.environ.get("OMP_WAIT_POLICY"))
    return n
