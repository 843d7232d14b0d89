"""Real-time playback: one PortAudio output stream, sounds handed over by reference swap.

Threads and what each may call:

- the **main thread** opens and closes the stream (``start``/``close``);
- **any thread** (GUI, renderer) calls ``play``/``stop_sound``: the sound is prepared there
  (copied, edges ramped, loop seam crossfaded) and handed to the callback by assigning one
  reference — nothing is queued, so a newer request replaces an older one that has not
  started yet;
- the **audio callback** (PortAudio's thread) only copies from preallocated memory, always
  fills the whole buffer, zero-fills when nothing plays, crossfades from the playing sound
  into a new one over ``fade_ms``, and writes telemetry into plain attributes. It never calls
  torch, logging, locks or PortAudio.

Telemetry (underruns reported by PortAudio, output peak, control-to-sound latency) is read
by polling ``telemetry()`` — e.g. from a GUI timer.
Without an audio device ``start`` returns False and ``error`` says why; nothing else fails.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from distill.constants import SAMPLE_RATE

log = logging.getLogger(__name__)

#: Frames per callback: 256 at 48 kHz is 5.3 ms.
BLOCK_SIZE = 256
#: Crossfade between sounds and ramps at a sound's edges.
FADE_MS = 5.0


@dataclass(frozen=True)
class Sound:
    """An immutable, prepared sound: the unit handed from a caller to the callback."""

    data: np.ndarray  # [N] float32, edges ramped (one-shot) or seam crossfaded (loop)
    loop: bool
    requested_at: float  # time.perf_counter() when the user asked for it


@dataclass(frozen=True)
class Telemetry:
    """A snapshot of the engine's counters (safe to read from any thread)."""

    running: bool
    playing: bool
    underruns: int
    blocks: int
    peak: float
    latency_ms: float | None
    device: str | None


class PlaybackEngine:
    """Plays mono float32 buffers through one sounddevice OutputStream.

    Parameters
    ----------
    sample_rate
        Stream rate; sounds must already be at this rate.
    block_size
        Frames per callback (fixed, small).
    fade_ms
        Crossfade length between sounds and the ramp at sound edges.
    device
        sounddevice output device (index or name); None = the default output.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, block_size: int = BLOCK_SIZE,
                 fade_ms: float = FADE_MS, device: int | str | None = None) -> None:
        self.sample_rate = sample_rate
        self.block_size = block_size
        self.device = device
        self.error: str | None = None
        self._stream = None
        self._device_name: str | None = None
        self._fade = max(1, round(fade_ms * sample_rate / 1000))
        ramp = np.sin(0.5 * math.pi * (np.arange(self._fade, dtype=np.float64) + 0.5) / self._fade)
        self._ramp_in = (ramp ** 2).astype(np.float32)  # sin^2 + cos^2 = 1: equal gain,
        self._ramp_out = (1.0 - self._ramp_in).astype(np.float32)  # smooth at both ends
        capacity = max(block_size, 8192)
        self._mix = np.zeros(capacity, dtype=np.float32)
        self._old = np.zeros(capacity, dtype=np.float32)
        self._level = np.zeros(capacity, dtype=np.float32)
        # Written by callers, read by the callback: one reference each.
        self._request: Sound | None = None
        # Owned by the callback.
        self._active_request: Sound | None = None
        self._current: Sound | None = None
        self._position = 0
        self._fading: Sound | None = None
        self._fade_position = 0
        self._fade_index = 0
        # Telemetry, written by the callback.
        self._underruns = 0
        self._blocks = 0
        self._peak = 0.0
        self._latency: float | None = None

    # ---------------------------------------------------------------- main thread
    def start(self, rescan: bool = False) -> bool:
        """Open and start the output stream. Returns False (see ``error``) without a device.

        ``rescan`` re-initialises PortAudio first, so devices that appeared after the
        program started (a JACK server, a USB interface) are seen.
        """
        if self._stream is not None:
            return True
        try:
            import sounddevice as sd
        except OSError as exc:  # libportaudio missing
            self.error = f"audio is unavailable: PortAudio could not be loaded ({exc})"
            log.warning(self.error)
            return False
        try:
            if rescan:
                sd._terminate()
                sd._initialize()
            if self.device is None and not _has_default_output(sd):
                self.error = "no audio output device found"
                log.warning(self.error)
                return False
            stream = sd.OutputStream(samplerate=self.sample_rate, blocksize=self.block_size,
                                     channels=2, dtype="float32", device=self.device,
                                     callback=self._callback, latency="low")
            info = sd.query_devices(stream.device)
            stream.start()
        except Exception as exc:  # sd.PortAudioError, ValueError (no such device), ...
            self.error = f"no audio output: {exc}"
            log.warning(self.error)
            return False
        self._stream = stream
        self._device_name = str(info["name"])
        self.error = None
        log.info("audio output: %s, %d Hz, block %d", self._device_name, self.sample_rate,
                 self.block_size)
        return True

    def close(self) -> None:
        """Fade out, stop and close the stream (no click)."""
        if self._stream is None:
            return
        self.stop_sound()
        time.sleep(2 * self._fade / self.sample_rate + 2 * self.block_size / self.sample_rate)
        stream, self._stream = self._stream, None
        try:
            stream.stop()
            stream.close()
        except Exception as exc:
            log.warning("closing the audio stream failed: %s", exc)

    @property
    def running(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    # ---------------------------------------------------------------- any thread
    def prepare(self, wave: np.ndarray, loop: bool = False) -> Sound:
        """Copy ``wave`` ([S] float) into a playable ``Sound`` (done on the caller's thread)."""
        data = np.array(wave, dtype=np.float32).reshape(-1)
        np.clip(np.nan_to_num(data, copy=False), -1.0, 1.0, out=data)
        fade = min(self._fade, len(data) // 2)
        if loop and len(data) > 2 * self._fade:
            # Seamless loop: the tail crossfades into the head, the seam lies inside. Equal
            # gain, not equal power: a sound's tail and head are correlated (same tone).
            head = data[:fade] * self._ramp_in[:fade] + data[-fade:] * self._ramp_out[:fade]
            data = data[:-fade].copy()
            data[:fade] = head
        elif fade > 0:
            data[:fade] *= self._ramp_in[:fade]
            data[-fade:] *= self._ramp_out[-fade:]
        return Sound(data=data, loop=loop and len(data) > 0, requested_at=time.perf_counter())

    def play(self, wave: np.ndarray | Sound, loop: bool = False,
             requested_at: float | None = None) -> Sound:
        """Start ``wave`` now, crossfading from whatever plays. Returns the prepared sound.

        ``requested_at`` (``time.perf_counter()``) is when the user moved the control; the
        engine measures control-to-sound latency from it (default: now).
        """
        prepared = wave if isinstance(wave, Sound) else self.prepare(wave, loop)
        # Always a new object: the callback starts a sound when the reference changes, so
        # playing the same prepared sound again restarts it.
        sound = Sound(prepared.data, prepared.loop,
                      time.perf_counter() if requested_at is None else requested_at)
        self._request = sound
        return sound

    def stop_sound(self) -> None:
        """Fade out whatever plays."""
        self._request = None

    def telemetry(self) -> Telemetry:
        return Telemetry(running=self.running, playing=self._current is not None,
                         underruns=self._underruns, blocks=self._blocks, peak=self._peak,
                         latency_ms=None if self._latency is None else 1000 * self._latency,
                         device=self._device_name)

    def reset_counters(self) -> None:
        self._underruns = 0
        self._blocks = 0
        self._latency = None

    # ---------------------------------------------------------------- audio callback
    def _callback(self, outdata, frames, time_info, status) -> None:
        if status.output_underflow:
            self._underruns += 1
        self._blocks += 1
        request = self._request
        if request is not self._active_request:
            self._begin_transition(request)
            if request is not None:
                self._latency = (time.perf_counter() - request.requested_at
                                 + max(0.0, time_info.outputBufferDacTime - time_info.currentTime))
        mix = self._mix[:frames]
        self._position = self._read(self._current, self._position, mix)
        if self._current is not None and not self._current.loop and self._position >= len(self._current.data):
            self._current = None
        if self._fading is not None:
            self._mix_fade(mix, frames)
        outdata[:, 0] = mix
        outdata[:, 1] = mix
        self._peak = float(np.abs(mix, out=self._level[:frames]).max()) if frames else 0.0

    def _begin_transition(self, request: Sound | None) -> None:
        # The playing sound becomes the one fading out (a fade in progress is cut short).
        self._fading, self._fade_position, self._fade_index = self._current, self._position, 0
        self._current = request
        self._position = 0
        self._active_request = request

    def _mix_fade(self, mix: np.ndarray, frames: int) -> None:
        old = self._old[:frames]
        self._fade_position = self._read(self._fading, self._fade_position, old)
        n = min(frames, self._fade - self._fade_index)
        ramp = slice(self._fade_index, self._fade_index + n)
        mix[:n] *= self._ramp_in[ramp]
        old[:n] *= self._ramp_out[ramp]
        mix[:n] += old[:n]
        self._fade_index += n
        if self._fade_index >= self._fade:
            self._fading = None

    @staticmethod
    def _read(sound: Sound | None, position: int, out: np.ndarray) -> int:
        """Copy the next ``len(out)`` samples of ``sound`` into ``out``; zeros past its end."""
        if sound is None:
            out[:] = 0.0
            return position
        data, n, written = sound.data, len(out), 0
        while written < n:
            take = min(n - written, len(data) - position)
            if take <= 0:
                if not sound.loop or len(data) == 0:
                    out[written:] = 0.0
                    return len(data)
                position = 0
                continue
            out[written:written + take] = data[position:position + take]
            written += take
            position += take
        return position


def _has_default_output(sd) -> bool:
    try:
        sd.query_devices(kind="output")
    except Exception:  # PortAudioError "Error querying device -1": there is no default output
        return False
    return True
