"""LiveSpectrogramWidget: magnitude and IF of what the instrument plays, the last ~2 s.

A ``SpectrogramWidget`` fed from ``RealtimeLoop.recent_frames()`` (``[2, M, T]``,
denormalised, copied under the loop's lock) on a timer at ``REFRESH_MS``, running only while
the instrument plays and the widget is visible. The frames are right-aligned in a fixed
window (silence padded on the left), so the image scrolls instead of stretching, and the
magnitude's colour range follows the sound slowly (the denormalised log energies sit far
from 0, so a fixed 0..max range would paint everything one colour; a per-update range
would flicker). GUI thread only.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.services.instrument import InstrumentController
from app.widgets.spectrogram_widget import SpectrogramWidget
from distill.training.config import ComplexSpectrogramConfig

#: Refresh period of the live view (~12 Hz: smooth enough to follow, cheap to draw).
REFRESH_MS = 80
#: How much of a new colour range each refresh takes over (the rest is the old range).
LEVELS_FOLLOW = 0.2
#: Share of the magnitudes below the colour range's floor (its darkest colour).
FLOOR_PERCENTILE = 5.0
IDLE_TITLE = "Live view: magnitude and instantaneous frequency of what plays (press Play)"


class LiveSpectrogramWidget(QWidget):
    """The live view (see the module docstring)."""

    def __init__(self, instrument: InstrumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.instrument = instrument
        self.spectrogram: SpectrogramWidget | None = None
        self._frames = 0
        self._levels: tuple[float, float] | None = None
        self.updates = 0
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        instrument.playingChanged.connect(lambda _playing: self._update_timer())

    def set_representation(self, config: ComplexSpectrogramConfig, sample_rate: int, frames: int) -> None:
        """The open model's representation, and how many frames the window shows."""
        if self.spectrogram is not None:
            self.spectrogram.setParent(None)
            self.spectrogram.deleteLater()
        self.spectrogram = SpectrogramWidget(self, title=IDLE_TITLE, config=config, sample_rate=sample_rate)
        self._layout.addWidget(self.spectrogram)
        self._frames = max(1, frames)
        self._levels = None
        # Until something plays, the window it will scroll through, silent: real time and
        # frequency axes instead of an empty plot's meaningless ones.
        self.spectrogram.set_spectrogram(np.zeros((2, config.n_mels, self._frames), np.float32),
                                         levels=(0.0, 1.0))
        self.spectrogram.set_title(IDLE_TITLE)
        self._update_timer()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def refresh(self) -> None:
        """Show the newest frames (timer; also callable directly)."""
        loop = self.instrument.loop
        frames = loop.recent_frames() if loop is not None else None
        if frames is None or self.spectrogram is None:
            return
        frames = frames[:, :, -self._frames:]
        shown = np.zeros((2, frames.shape[1], self._frames), np.float32)
        shown[:, :, self._frames - frames.shape[2]:] = frames
        self.spectrogram.set_spectrogram(shown, levels=self._follow_levels(frames[0]))
        self.spectrogram.set_title("Live view: what plays now (the newest on the right)")
        self.updates += 1

    def _follow_levels(self, magnitude: np.ndarray) -> tuple[float, float]:
        low, high = float(np.percentile(magnitude, FLOOR_PERCENTILE)), float(magnitude.max())
        if self._levels is not None:
            old_low, old_high = self._levels
            low = old_low + LEVELS_FOLLOW * (low - old_low)
            high = max(high, old_high + LEVELS_FOLLOW * (high - old_high))  # a louder sound shows at once
        self._levels = (low, max(high, low + 1e-3))
        return self._levels

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._update_timer()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self._update_timer()

    def _update_timer(self) -> None:
        active = self.instrument.playing and self.isVisible() and self.spectrogram is not None
        if active and not self._timer.isActive():
            self._timer.start()
        elif not active:
            self._timer.stop()
