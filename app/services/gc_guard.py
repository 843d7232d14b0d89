"""Python's garbage collector runs on the GUI thread only.

A collection runs on whichever thread happens to allocate when a threshold is crossed. If
it frees a PySide object there (a closed window's widgets in a reference cycle), Qt
destroys a QObject on a worker thread, which it must not: PySide 6.11 then deadlocked
waiting for the GIL (seen: a dataset worker importing scipy while a test window was
collected). So automatic collection is switched off and the GUI thread collects on a timer,
generation by generation, when the counts pass the usual thresholds — the same work, on
the one thread that may destroy Qt objects. Reference counting frees everything else at
once, as before.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

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

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()
