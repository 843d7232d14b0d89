"""The thread policy: PASSIVE OpenMP waits, and per-thread intra-op counts."""

import os
import subprocess
import sys
import threading

import pytest
import torch

import distill  # noqa: F401
from distill.threads import (
    REALTIME_THREADS,
    RENDER_RT_PRIORITY,
    apply_realtime_policy,
    apply_thread_policy,
    lower_thread_priority,
    raise_thread_priority,
    reset_thread_priority,
    settle_heap,
    thread_scheduling,
)


def test_import_sets_a_passive_wait_policy():
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


@pytest.fixture
def restore_torch_threads():
    """torch's intra-op thread count is process-wide state: put it back for the next test."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_renderer_thread_can_run_single_threaded_beside_a_training_thread(restore_torch_threads):
    apply_thread_policy(2)
    seen = {}

    def renderer():
        apply_realtime_policy()
        seen["renderer"] = torch.get_num_threads()

    thread = threading.Thread(target=renderer)
    thread.start()
    thread.join()
    assert seen["renderer"] == REALTIME_THREADS
    assert torch.get_num_threads() == 2  # the calling (training) thread keeps its count


def test_lower_thread_priority_changes_only_the_calling_thread():
    if not hasattr(os, "setpriority"):
        pytest.skip("no per-thread priority on this platform")

    main_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def background():
        seen["ok"] = lower_thread_priority(main_nice + 5)
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        def child():  # a thread it starts (e.g. an OpenMP worker) inherits the value
            seen["child"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        t = threading.Thread(target=child)
        t.start()
        t.join()

    thread = threading.Thread(target=background)
    thread.start()
    thread.join()
    assert seen["ok"] and seen["nice"] == main_nice + 5 and seen["child"] == main_nice + 5
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_nice


# ------------------------------------------------------------------ real-time scheduling
def realtime_limit() -> int:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
    return 99 if os.geteuid() == 0 or soft == resource.RLIM_INFINITY else soft


def on_a_thread(fn):
    result = []
    thread = threading.Thread(target=lambda: result.append(fn()))
    thread.start()
    thread.join()
    return result[0]


def test_a_render_thread_gets_fifo_scheduling_where_allowed_and_only_that_thread():
    def ask():
        got = raise_thread_priority()
        return got, os.sched_getscheduler(0), raise_thread_priority(RENDER_RT_PRIORITY + 5)

    got, policy, again = on_a_thread(ask)
    priority = min(RENDER_RT_PRIORITY, realtime_limit())
    if priority >= 1:
        assert got == f"fifo {priority}" and policy == os.SCHED_FIFO
        assert again == got  # a real-time thread keeps its own priority
    else:
        assert got == "normal" and policy == os.SCHED_OTHER
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # this thread is untouched


def test_a_thread_can_go_back_to_normal_scheduling():
    def up_and_down():
        up = raise_thread_priority()
        return up, reset_thread_priority(), thread_scheduling(), os.sched_getscheduler(0)

    up, down, now, policy = on_a_thread(up_and_down)
    assert up == (f"fifo {min(RENDER_RT_PRIORITY, realtime_limit())}" if realtime_limit() >= 1 else "normal")
    assert down == now == "normal" and policy == os.SCHED_OTHER


def test_without_the_right_a_thread_stays_normal():
    # A user without an rtprio limit (and, run as root, not root any more).
    code = """
import os, resource
from distill.threads import raise_thread_priority  # first: root's files may be unreadable later
resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
print(raise_thread_priority(), os.sched_getscheduler(0) == os.SCHED_OTHER)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["normal", "True"]


# ------------------------------------------------------------------ the heap at rest points
class Node:
    def __init__(self) -> None:
        self.other = self  # a reference cycle: only the collector frees it


def test_settle_heap_collects_cycles_then_freezes_the_survivors():
    import gc
    import weakref

    garbage = weakref.ref(Node())
    keep = Node()
    try:
        assert garbage() is not None  # a cycle: reference counting alone never frees it
        settle_heap()
        assert garbage() is None
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # this process's modules, functions, ... and `keep`
        assert all(o is not keep for o in gc.get_objects())  # frozen: later collections skip it
        later = weakref.ref(Node())
        settle_heap()  # unfreezes first: cycles made since are found too
        assert later() is None
    finally:
        gc.unfreeze()
