"""The studio's one PlaybackEngine, wrapped for Qt: device choice, loss and reopen.

Lives on the main thread: it starts and closes the stream (PortAudio calls belong there),
polls the engine's telemetry on a timer and re-emits it as a signal for the status bar.
Panels call ``play``/``stop`` with numpy audio; without a device they get a clear message
once and everything else keeps working.

Device loss: PortAudio stops a stream whose device went away (a JACK server killed, a USB
interface pulled) without telling anyone, so the telemetry timer checks that the stream it
opened is still active. A dead stream is never stopped or closed — PortAudio blocks for
good in Pa_StopStream/Pa_AbortStream/Pa_CloseStream on it (measured: JACK server killed)
— it is detached from the engine and kept referenced (its cffi callback must outlive it).
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.services.settings import AppSettings
from distill.audio import devices
from distill.audio.devices import DeviceScan
from distill.audio.playback import PlaybackEngine, Telemetry

log = logging.getLogger(__name__)

#: Streams whose device went away: detached from the engine, never closed (see above).
_ABANDONED_STREAMS: list[object] = []


class AudioController(QObject):
    """Owns the playback engine; signals ``telemetryChanged``, ``stateChanged(text)`` and
    ``deviceLost(device name)``.

    ``settings`` (optional) remembers the chosen output device across restarts; an ``engine``
    given with its own ``device`` keeps it unless a choice is stored or made.
    """

    telemetryChanged = Signal(object)  # Telemetry
    stateChanged = Signal(str)
    deviceLost = Signal(str)

    def __init__(self, parent: QObject | None = None, engine: PlaybackEngine | None = None,
                 settings: AppSettings | None = None) -> None:
        super().__init__(parent)
        self.engine = engine or PlaybackEngine()
        self.settings = settings
        #: The output the user chose (a name, or an index from a scan); None = the default.
        self._choice: int | str | None = settings.audio_device() if settings is not None else None
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)
        self._open = False  # between a successful start and close (or a loss)
        self._host_api: str | None = None
        self._state = "audio: not started"

    @property
    def available(self) -> bool:
        return self.engine.running

    @property
    def state(self) -> str:
        return self._state

    @property
    def device_choice(self) -> int | str | None:
        """The chosen output device (None = the system default)."""
        return self._choice

    def start(self, rescan: bool = False) -> bool:
        """Open the output stream (main thread). False, with a reason in ``state``, if none.

        ``rescan`` re-initialises PortAudio first (only while no stream is open), so
        devices that appeared since are seen. A chosen device that is missing falls back
        to the default, with a log line and a note in the state.
        """
        if self.engine.running:  # (a rescan now would close the stream under the engine)
            return True
        scan = devices.list_output_devices(rescan=rescan)
        note = ""
        if self._choice is not None:
            found = scan.find(self._choice)
            if found is None:
                log.warning("audio: the chosen output %r is not connected; using the default",
                            self._choice)
                note = f" — “{self._choice}” not found, using the default"
                self.engine.device = None
            else:
                self.engine.device = found.index
        if not self.engine.start():
            reason = devices.rescan_blocker() or self.engine.error or scan.reason
            self._set_state(f"audio off: {reason} (training and rendering still work){note}")
            return False
        self._open = True
        # The engine's close() ramps the streamed instrument's gain to 0 and its start()
        # leaves it there: after a device change or a reopen the instrument must sound again.
        self.engine.set_stream_gain(1.0)
        name = self.engine.telemetry().device
        current = scan.find(name)
        self._host_api = current.host_api if current is not None else None
        self._set_state(f"audio: {name}, {self.engine.sample_rate // 1000} kHz{note}")
        self._timer.start()
        return True

    def scan_devices(self, rescan: bool = False) -> DeviceScan:
        """The output devices; ``rescan`` closes the stream, re-initialises PortAudio and
        starts the stream again if it was open (a rescan would close it under the engine)."""
        if not rescan:
            return devices.list_output_devices()
        was_open = self.engine.running
        self._close_stream()
        scan = devices.list_output_devices(rescan=True)
        if was_open:
            self.start()
        return scan

    def set_device(self, name_or_index: int | str | None) -> bool:
        """Play through ``name_or_index`` (None = the system default) and remember it.

        Closes the stream with a fade, then starts again with a rescan. False when the
        stream could not be opened (``state`` says why).
        """
        self._choice = name_or_index
        if self.settings is not None:
            name = name_or_index
            if isinstance(name_or_index, int):
                found = devices.list_output_devices().find(name_or_index)
                name = found.name if found is not None else None
            self.settings.set_audio_device(name)
        self._close_stream()
        return self.start(rescan=True)

    def reopen(self) -> bool:
        """Close whatever is left of the stream and open the chosen output again (rescanned)."""
        self._close_stream()
        return self.start(rescan=True)

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
        """Close the stream (with a fade; a dead one is dropped, never waited on)."""
        self._close_stream()
        self._set_state("audio: closed")

    def _close_stream(self) -> None:
        self._timer.stop()
        self._open = False
        if _stream_of(self.engine) is not None and not self.engine.running:
            _abandon_stream(self.engine)
        else:
            self.engine.close()

    def _poll(self) -> None:
        if self._open and not self.engine.running:
            self._on_lost()
            return
        telemetry: Telemetry = self.engine.telemetry()
        self.telemetryChanged.emit(telemetry)

    def _on_lost(self) -> None:
        device = self.engine.telemetry().device or "the output device"
        self._timer.stop()
        self._open = False
        _abandon_stream(self.engine)
        devices.forget_lost_host(self._host_api)
        log.warning("audio output lost: %s", device)
        self._set_state(f"audio lost: {device} — Audio ▸ Reopen output")
        self.deviceLost.emit(device)

    def _set_state(self, text: str) -> None:
        self._state = text
        self.stateChanged.emit(text)


# The engine has no public hook for a stream that died under it (its close() would call
# stream.stop() and block): these two reach its one stream attribute. Wanted in
# distill/audio/playback.py: ``PlaybackEngine.abandon_stream()`` and ``stream_died``.
def _stream_of(engine: PlaybackEngine) -> object | None:
    return getattr(engine, "_stream", None)


def _abandon_stream(engine: PlaybackEngine) -> None:
    stream = _stream_of(engine)
    if stream is not None:
        engine._stream = None
        _ABANDONED_STREAMS.append(stream)
