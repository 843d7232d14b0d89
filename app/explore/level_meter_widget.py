"""LevelMeterWidget: peak and RMS of what is playing, as a horizontal bar in dB.

Compute when data arrives, paint on a timer: ``set_levels`` (from the engine's telemetry,
linear amplitudes) only stores the targets in dB; a timer (~30 Hz, running while the
widget is visible and something is still shown) moves the shown levels — rises at once,
falls at ``FALL_DB_PER_S`` — and repaints. GUI thread only.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, QTimer
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.services.theme import PALETTE

#: The meter's floor (nothing shown below).
FLOOR_DB = -60.0
#: How fast a shown level falls when the sound gets quieter.
FALL_DB_PER_S = 30.0
FRAME_MS = 33
#: Where the bar turns warm, and red.
WARN_DB, CLIP_DB = -6.0, -0.5


def to_db(amplitude: float) -> float:
    """Linear amplitude -> dBFS, floored at ``FLOOR_DB``."""
    return FLOOR_DB if amplitude <= 0 else max(FLOOR_DB, 20.0 * math.log10(amplitude))


class LevelMeterWidget(QWidget):
    """A thin bar: RMS filled, peak as a tick (both in dBFS from ``FLOOR_DB`` to 0)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Output level: RMS (bar) and peak (tick), dBFS")
        self.setAccessibleName("level meter")
        self.target_peak_db = self.target_rms_db = FLOOR_DB
        self.peak_db = self.rms_db = FLOOR_DB
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._tick)

    def sizeHint(self) -> QSize:
        return QSize(160, 12)

    def set_levels(self, peak: float, rms: float) -> None:
        """New linear peak and RMS of the output (any rate; the timer paints)."""
        self.target_peak_db, self.target_rms_db = to_db(peak), to_db(rms)
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def _tick(self) -> None:
        fall = FALL_DB_PER_S * FRAME_MS / 1000
        self.peak_db = max(self.target_peak_db, self.peak_db - fall)
        self.rms_db = max(self.target_rms_db, self.rms_db - fall)
        if self.peak_db <= FLOOR_DB and self.target_peak_db <= FLOOR_DB:
            self._timer.stop()  # silent: nothing moves until new levels arrive
        self.update()

    def hideEvent(self, event) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.fillRect(rect, QColor(PALETTE["base"]))
        painter.setPen(QColor(PALETTE["border"]))
        painter.drawRect(rect)
        width = rect.width()

        def x_of(db: float) -> float:
            return rect.left() + width * (db - FLOOR_DB) / -FLOOR_DB

        if self.rms_db > FLOOR_DB:
            color = PALETTE["ok"] if self.rms_db < WARN_DB else PALETTE["accent"]
            painter.fillRect(QRectF(rect.left(), rect.top() + 2, x_of(self.rms_db) - rect.left(),
                                    rect.height() - 4), QColor(color))
        if self.peak_db > FLOOR_DB:
            painter.setPen(QColor(PALETTE["warn"] if self.peak_db >= CLIP_DB else PALETTE["text"]))
            x = x_of(self.peak_db)
            painter.drawLine(int(x), int(rect.top()) + 1, int(x), int(rect.bottom()) - 1)
