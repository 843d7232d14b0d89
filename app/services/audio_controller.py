"""The studio's one PlaybackEngine, wrapped for Qt.

Lives on the main thread: it starts and closes the stream (PortAudio calls belong there),
polls the engine's telemetry on a timer and re-emits it as a signal for the status bar.
Panels call ``play``/``stop`` with numpy audio; without a device they get a clear message
once and everything else keeps working.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from distill.audio.playback import PlaybackEngine, Telemetry


class AudioController(QObject):
    """Owns the playback engine; signals ``telemetryChanged`` and ``stateChanged(text)``."""

    telemetryChanged = Signal(object)  # Telemetry
    stateChanged = Signal(str)

    def __init__(self, parent: QObject | None = None, engine: PlaybackEngine | None = None) -> None:
        super().__init__(parent)
        self.engine = engine or PlaybackEngine()
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)
        self._state = "audio: not started"

    @property
    def available(self) -> bool:
        return self.engine.running

    @property
    def state(self) -> str:
        return self._state

    def start(self) -> bool:
        """Open the output stream (main thread). False, with a reason in ``state``, if none."""
        ok = self.engine.start()
        if ok:
            device = self.engine.telemetry().device
            self._set_state(f"audio: {device}, {self.engine.sample_rate // 1000} kHz")
            self._timer.start()
        else:
            self._set_state(f"audio off: {self.engine.error} (training and rendering still work)")
        return ok

    def play(self, wave: np.ndarray, loop: bool = False) -> bool:
        """Play mono float audio at the project sample rate; False when there is no output."""
        if not self.engine.running:
            return False
        self.engine.play(wave, loop=loop)
        return True

    def stop(self) -> None:
        self.engine.stop_sound()

    def no_audio_message(self) -> str:
        """What to tell a user whose Play did nothing (any tab)."""
        reason = getattr(self.engine, "error", None) or "no audio device is open"
        return f"No audio output — {reason.removeprefix('no audio output: ')}. " \
               "Playback is off; everything else works."

    def close(self) -> None:
        self._timer.stop()
        self.engine.close()
        self._set_state("audio: closed")

    def _poll(self) -> None:
        telemetry: Telemetry = self.engine.telemetry()
        self.telemetryChanged.emit(telemetry)

    def _set_state(self, text: str) -> None:
        self._state = text
        self.stateChanged.emit(text)
