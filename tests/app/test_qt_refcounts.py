"""Qt bindings must not corrupt Python's reference counts (PySide6 6.12.0 did).

On Python 3.11 None/True/False are ordinary objects: a binding that releases them once too
often per signal emit or per thread run crashes a long session ("bool_dealloc"). The
studio emits signals thousands of times per training run, so this is checked directly.
"""

import gc
import sys

import pytest
from PySide6.QtCore import QObject, QThread, Signal

# From 3.12 None/True/False are immortal: their reference counts never change, so these
# checks could not fail there. They guard the interpreters where a binding can still kill them.
pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12),
    reason="None/True/False are immortal on Python 3.12+: reference counts cannot drift there")


def _counts():
    gc.collect()
    return sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)


class _Emitter(QObject):
    fired = Signal(object)


class _Idle(QThread):
    def run(self) -> None:
        pass


def test_signal_emit_keeps_reference_counts(qapp):
    emitter = _Emitter()
    received = []
    emitter.fired.connect(received.append)
    before = _counts()
    for i in range(500):
        emitter.fired.emit(i)
    assert _counts() == before and len(received) == 500


def test_thread_runs_keep_reference_counts(qapp):
    before = _counts()
    for _ in range(20):
        thread = _Idle()
        thread.start()
        thread.wait()
        del thread
    assert _counts() == before
