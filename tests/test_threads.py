"""The thread policy: PASSIVE OpenMP waits, and per-thread intra-op counts."""

import os
import threading

import pytest
import torch

import distill  # noqa: F401
from distill.threads import (
    REALTIME_THREADS,
    apply_realtime_policy,
    apply_thread_policy,
    lower_thread_priority,
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
