"""Python's garbage collector runs on the GUI thread only.

A collection runs on whichever thread happens to allocate when a threshold is crossed. If
it frees a PySide object there (a closed window's widgets in a reference cycle), Qt
destroys a QObject on a worker thread, which it must not: PySide 6.11 then deadlocked
waiting for the GIL (seen: a dataset worker importing scipy while a test window was
collected). So automatic collection is switched off and the GUI thread collects on a timer,
generation by generation, when the counts pass the usual thresholds — the same work, on
the one thread that may destroy Qt objects. Reference counting frees everything else at
once, as before.

``settle`` (``distill.threads.settle_heap``) collects everything and freezes the survivors
at rest points (start-up, a model opened): a collection of the oldest generation would
otherwise hold the GIL ~110 ms while the instrument plays, and its callback needs the GIL
every 5 ms.
"""

from __future__ import annotations

import gc
import logging

from PySide6.QtCore import QObject, QTimer

from distill.threads import settle_heap

log = logging.getLogger(__name__)

#: How often the GUI thread checks the collector's counts.
CHECK_MS = 500


class MainThreadCollector(QObject):
    """Owns automatic collection while it lives (create it on the GUI thread, keep it)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> int:
        """Collect the oldest generation whose count passed its threshold; objects freed."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                return gc.collect(generation)
        return 0

    def settle(self, *_: object) -> None:
        """Collect everything and freeze what survives (a rest point; slot-friendly)."""
        log.debug("heap settled in %.0f ms (%d objects frozen)", 1000 * settle_heap(), gc.get_freeze_count())

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()
