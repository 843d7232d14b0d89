"""The thread policy: PASSIVE OpenMP waits, and per-thread intra-op counts."""

import os
import threading

import pytest
import torch

import distill  # noqa: F401
from distill.threads import REALTIME_THREADS, apply_realtime_policy, apply_thread_policy


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
