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

import gc
import logging
import os
import threading
import time

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


#: SCHED_FIFO priority asked for the real-time render thread: under JACK's server (70 by
#: default), its clients' process threads and the audio callback's (``CALLBACK_RT_PRIORITY``);
#: above every normal thread (the GUI, training, other programs).
RENDER_RT_PRIORITY = 10
#: For an audio callback thread the host API left at normal scheduling (PortAudio's ALSA
#: thread, unlike JACK's, which is real-time already): above the render thread.
CALLBACK_RT_PRIORITY = 20


def thread_scheduling() -> str:
    """The calling thread's scheduling: ``"fifo N"``, ``"rr N"`` or ``"normal"``."""
    if not hasattr(os, "sched_getscheduler") or not hasattr(os, "SCHED_FIFO"):
        return "normal"
    try:
        policy = os.sched_getscheduler(0)  # 0: the calling thread (Linux schedules threads)
        if policy in (os.SCHED_FIFO, os.SCHED_RR):
            kind = "fifo" if policy == os.SCHED_FIFO else "rr"
            return f"{kind} {os.sched_getparam(0).sched_priority}"
    except OSError:
        pass
    return "normal"


def raise_thread_priority(priority: int = RENDER_RT_PRIORITY) -> str:
    """Best effort: real-time scheduling (SCHED_FIFO) for the calling thread, where allowed.

    Linux allows it to root and to users with an ``rtprio`` limit (the ``audio`` group of
    a JACK set-up; ``ulimit -r``); the priority is capped at that limit. A thread that is
    real-time already keeps its own policy; elsewhere the thread stays as it is. Only for
    a thread that sleeps between bounded pieces of work (the render loop, an audio
    callback): a FIFO thread that never sleeps would starve the rest of the machine but
    for the kernel's real-time throttling. It never logs (an audio callback may call it
    once): callers log what it returns (``thread_scheduling``'s strings).
    """
    current = thread_scheduling()
    if current != "normal" or not hasattr(os, "sched_setscheduler"):
        return current
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
        if os.geteuid() != 0 and soft != resource.RLIM_INFINITY:
            priority = min(priority, soft)
        if priority < 1:
            return "normal"
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, ImportError, ValueError):
        return "normal"
    return f"fifo {priority}"


def reset_thread_priority() -> str:
    """Back to normal scheduling (always allowed); returns ``"normal"``."""
    if hasattr(os, "sched_setscheduler") and thread_scheduling() != "normal":
        try:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except OSError:
            return thread_scheduling()
    return "normal"


def lower_process_priority(nice: int = BACKGROUND_NICE) -> None:
    """Nice ``nice`` for every thread of this process, also those its imports started (the
    studio's training child calls it first thing).

    Linux keeps a nice value per thread: ``lower_thread_priority`` covers this thread and
    the threads it starts later (torch's OpenMP pool, the command thread), but numpy's
    OpenBLAS pool started when numpy was imported, before any code of ours ran.
    """
    lower_thread_priority(nice)
    try:
        threads = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:  # not Linux: one nice value for the whole process
        threads = [0]
    for tid in threads:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
        except (OSError, AttributeError):  # AttributeError: no setpriority (Windows)
            continue


def apply_thread_policy(num_threads: int = 0) -> int:
    """Set torch's intra-op thread count; 0 means all available cores. Returns the count."""
    import torch  # here: the audio engine imports this module and must stay torch-free

    n = num_threads if num_threads > 0 else available_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    log.debug("torch intra-op threads: %d (OMP_WAIT_POLICY=%s)", n, os.environ.get("OMP_WAIT_POLICY"))
    return n


def settle_heap() -> float:
    """Collect every generation now, then freeze the survivors; returns the seconds it took.

    The audio callback is Python and needs the GIL every block (5.3 ms at 256 frames), and
    a full collection holds the GIL for as long as it scans every tracked object: 111 ms
    with torch, the model and Qt loaded (2-core machine), an underrun each time the
    oldest generation's threshold is crossed. Frozen objects (``gc.freeze``) are skipped by
    later collections, which then scan only what was created since (~0 ms). Call it at
    rest points, on the thread that may free what it finds (the studio's GUI thread):
    after start-up and whenever a model has been opened. Garbage cycles among objects
    frozen later wait for the next call, which unfreezes first.
    """
    began = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - began
