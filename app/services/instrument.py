"""The instrument on the GUI thread: one point in latent space, played by the real-time loop.

``InstrumentController`` owns the model's ``InstrumentState`` (the point the sliders, the
XY pad and the morph move; ``distill.latent.instrument``) and its ``RealtimeLoop`` (the
Qt-free render thread that hands sound to the playback engine itself; the GUI thread is
never on the audio path). Every move is stamped with ``time.perf_counter()`` in the
handler of the event that made it, turned into an immutable ``ControlState`` and
submitted; the loop renders the newest state next and measures the latency from that
stamp to the DAC.

Widgets call the move methods and listen to ``latentChanged(latent, source)`` to follow
moves made elsewhere (a slider follows an XY drag; ``source`` lets the widget that made the
move skip its own echo). While Record is on, every submitted state is kept, in order, for
``distill.render.realtime.render_performance`` to render offline at export. A render
thread that fails (a broken model) is reported once through ``errored`` and stops playing.

GUI thread only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer, Signal

from app.services.audio_controller import AudioController
from distill.latent.instrument import InstrumentState
from distill.render import ControlState, RealtimeLoop, Renderer

log = logging.getLogger(__name__)

MODES = ("stream", "loop")
#: How often telemetry is polled for the meters and the status bar.
POLL_MS = 50
#: Longest recording kept (a performance longer than this stops recording by itself).
MAX_RECORDED_STATES = 200_000


class InstrumentController(QObject):
    """The current point, play/stop, mode, volume and recording (see the module docstring)."""

    latentChanged = Signal(object, str)  # torch.Tensor [D], source
    readyChanged = Signal(bool)  # the render thread is warm: controls may be enabled
    playingChanged = Signal(bool)
    modeChanged = Signal(str)
    recordingChanged = Signal(bool)
    takeRecorded = Signal(object)  # list[ControlState]: a take that ended (by Stop or by its length limit)
    statsChanged = Signal(object, object)  # (Telemetry, RealtimeStats | None)
    errored = Signal(str)  # the render thread failed (a broken model); the message is for the user

    def __init__(self, audio: AudioController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.audio = audio
        self.renderer: Renderer | None = None
        self.state: InstrumentState | None = None
        self._loop: RealtimeLoop | None = None
        self._ready = False
        self._error_shown = False
        self._playing = False
        self._mode = "stream"
        self._gain = 0.8
        self._recording: list[ControlState] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    # ------------------------------------------------------------------ model
    def open(self, renderer: Renderer) -> None:
        """Play ``renderer``'s model: a new state at the dataset's mean, a new render thread.

        The thread warms up (first decode, compiled kernels) on its own; ``readyChanged(True)``
        says when the controls may be used. The previous model's thread is closed first.
        """
        self.close()
        self.renderer = renderer
        self.state = InstrumentState(renderer.latent_dim, renderer.analysis)
        self._loop = RealtimeLoop(renderer, self.audio.engine)
        self._loop.start(timeout=0)
        self._timer.start()
        self.latentChanged.emit(self.state.latent, "open")

    def close(self) -> None:
        """Stop playing and join the render thread (another model opened, or the window closes)."""
        if self._loop is not None:
            self._loop.close()
            self._loop = None
        self._timer.stop()
        self._recording = None
        self._error_shown = False
        self.renderer = None
        self.state = None
        self._set_ready(False)
        self._set_playing(False)

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def loop(self) -> RealtimeLoop | None:
        return self._loop

    # ------------------------------------------------------------------ moves
    # ``stamp`` (every move, play/stop, volume): the event's ``time.perf_counter()`` when it
    # was taken elsewhere (a MIDI/OSC message's arrival on its thread); None stamps it now.
    def set_axis(self, index: int, value: float, source: str = "slider", stamp: float | None = None) -> None:
        self._move(lambda s: s.set_axis(index, value), source, stamp)

    def set_controls(self, values, source: str = "sliders", stamp: float | None = None) -> None:
        self._move(lambda s: s.set_controls(values), source, stamp)

    def set_xy(self, x: float, y: float, source: str = "xy", stamp: float | None = None) -> None:
        self._move(lambda s: s.set_xy(x, y), source, stamp)

    def go_to_clip(self, clip: int, source: str = "map") -> None:
        self._move(lambda s: s.go_to_clip(clip), source)

    def set_latent(self, latent, source: str = "latent", stamp: float | None = None) -> None:
        self._move(lambda s: s.set_latent(latent), source, stamp)

    def reset_axis(self, index: int) -> None:
        self._move(lambda s: s.reset_axis(index), "reset")

    def reset_all(self) -> None:
        self._move(lambda s: s.reset_all(), "reset")

    def randomize(self, rng: np.random.Generator | None = None) -> None:
        self._move(lambda s: s.randomize(rng), "random")

    def set_morph_end(self, end: str, latent) -> None:
        if self.state is not None:
            self.state.set_morph_end(end, latent)

    def set_morph(self, position: float, source: str = "morph", stamp: float | None = None) -> None:
        if self.state is not None and self.state.has_morph:
            self._move(lambda s: s.set_morph(position), source, stamp)

    def _move(self, change: Callable[[InstrumentState], torch.Tensor], source: str,
              stamp: float | None = None) -> None:
        if stamp is None:
            stamp = time.perf_counter()  # as close to the event as the GUI thread gets
        if self.state is None:
            return
        latent = change(self.state)
        self._submit(stamp)
        self.latentChanged.emit(latent, source)

    # ------------------------------------------------------------------ transport
    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def gain(self) -> float:
        return self._gain

    def play(self, stamp: float | None = None) -> bool:
        """Start the instrument; False (and nothing plays) without a model or an audio output."""
        stamp = time.perf_counter() if stamp is None else stamp
        if self.state is None or not self.audio.available:
            return False
        self._set_playing(True)
        self._submit(stamp)
        return True

    def stop(self, stamp: float | None = None) -> None:
        stamp = time.perf_counter() if stamp is None else stamp
        if self._playing:
            self._set_playing(False)
            self._submit(stamp, force=True)

    def toggle(self) -> bool:
        """Space: play when stopped, stop when playing; returns whether it plays now."""
        if self._playing:
            self.stop()
            return False
        return self.play()

    def set_mode(self, mode: str) -> None:
        stamp = time.perf_counter()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode != self._mode:
            self._mode = mode
            self._submit(stamp)
            self.modeChanged.emit(mode)

    def set_volume(self, gain: float, stamp: float | None = None) -> None:
        stamp = time.perf_counter() if stamp is None else stamp
        self._gain = float(min(1.0, max(0.0, gain)))
        self._submit(stamp)

    # ------------------------------------------------------------------ recording
    @property
    def recording(self) -> bool:
        return self._recording is not None

    def start_recording(self) -> None:
        """Keep every state from now on; the first is the current point (the take starts here).

        Like a recorder that rolls the tape, Record starts the instrument when an output
        exists. Without one, the take still records the moves as sounding (the export is
        where it will be heard), so a take made on a machine without audio is never silent.
        """
        if self.state is None:
            return
        if not self._playing:
            self.play()
        self._recording = [self._state_now(time.perf_counter(), playing=True)]
        self.recordingChanged.emit(True)

    def stop_recording(self) -> list[ControlState]:
        """End the take; returns its states (empty when nothing was recording) and emits
        ``takeRecorded`` with them."""
        take, self._recording = self._recording or [], None
        if take:
            take.append(self._state_now(time.perf_counter(), playing=self._recorded_playing()))  # the end
            self.recordingChanged.emit(False)
            self.takeRecorded.emit(take)
        return take

    # ------------------------------------------------------------------ internals
    def _state_now(self, stamp: float, playing: bool | None = None) -> ControlState:
        assert self.state is not None
        return ControlState(latent=self.state.latent, stamp=stamp, mode=self._mode, gain=self._gain,
                            playing=self._playing if playing is None else playing)

    def _recorded_playing(self) -> bool:
        # Stop pressed during a take is part of the performance; no output at all is not.
        return self._playing or not self.audio.available

    def _submit(self, stamp: float, force: bool = False) -> None:
        if self.state is None:
            return
        state = self._state_now(stamp)
        if self._recording is not None:
            self._recording.append(self._state_now(stamp, playing=self._recorded_playing()))
            if len(self._recording) >= MAX_RECORDED_STATES:
                log.warning("recording stopped at %d control changes", MAX_RECORDED_STATES)
                self.stop_recording()  # the take is kept: takeRecorded hands it on
        if self._loop is not None and (self._playing or force):
            self._loop.submit(state)

    def _poll(self) -> None:
        loop = self._loop
        if loop is not None and not self._ready and loop.ready:
            self._set_ready(True)
        stats = loop.stats() if loop is not None else None
        if stats is not None and stats.error and not self._error_shown:
            self._error_shown = True
            self._set_playing(False)
            self.errored.emit(stats.error)
        self.statsChanged.emit(self.audio.engine.telemetry(), stats)

    def _set_ready(self, ready: bool) -> None:
        if ready != self._ready:
            self._ready = ready
            self.readyChanged.emit(ready)

    def _set_playing(self, playing: bool) -> None:
        if playing != self._playing:
            self._playing = playing
            self.playingChanged.emit(playing)
