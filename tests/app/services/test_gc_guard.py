"""Garbage collection runs on the GUI thread only: a cycle holding a QObject is never
freed by a worker thread's allocation, and the GUI thread's timer frees it."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QThread


def test_cycles_are_collected_on_the_gui_thread_only(qtbot, gui_thread_garbage_collection):
    assert not gc.isenabled()
    destroyed_on = []

    class Holder(QObject):
        def __del__(self):
            destroyed_on.append(QThread.currentThread())

    holder = Holder()
    holder.cycle = holder  # only a collection can free it
    del holder

    kept = []

    def allocate():  # far past the first generation's threshold, were collection automatic
        kept.append([[i] for i in range(200_000)])  # kept: the collector counts net allocations

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert destroyed_on == []  # the worker's allocations collected nothing
    qtbot.waitUntil(lambda: bool(destroyed_on), timeout=5000)  # the GUI thread's timer did
    assert destroyed_on == [QThread.currentThread()]
    kept.clear()
