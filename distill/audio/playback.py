"""Real-time playback: one PortAudio output stream, one-shot sounds and a streamed instrument.

Threads and what each may call:

- the **main thread** opens and closes the stream (``start``/``close``);
- **any thread** (GUI, renderer) calls ``play``/``stop_sound``: the sound is prepared there
  (copied, edges ramped, loop seam crossfaded) and handed to the callback by assigning one
  reference — nothing is queued, so a newer request replaces an older one that has not
  started yet;
- **one producer thread** (``distill.render.realtime.RealtimeLoop``) writes the streamed
  instrument into ``ring`` (a ``SpliceRing``: audio written ahead, rewritten from a safe
  point when the controls change) and sets its gain with ``set_stream_gain``;
- the **audio callback** (PortAudio's thread) only copies from preallocated memory (the
  ring and the voices), always fills the whole buffer, zero-fills when nothing plays, and
  writes telemetry into plain attributes and preallocated arrays. It never calls torch,
  logging, locks or PortAudio.

One-shot sounds play on a few preallocated voices, each with its own gain ramp
(sin^2 in, cos^2 out, over ``fade_ms``) that continues from the gain it has: a new sound
fades in while the others fade out from wherever their ramps stand, so any number of
rapid requests never makes a jump and a fade that started always finishes. A new loop
sound enters at the position of the loop that plays (a loop changes, it does not restart).

Telemetry (underruns reported by PortAudio, stream dropouts, a decaying peak and a ~100 ms
RMS of the output, control-to-sound latency percentiles) is read by polling
``telemetry()`` — e.g. from a GUI timer.
Without an audio device ``start`` returns False and ``error`` says why; nothing else fails.
"""

from __future__ import annotations

import logging
import math
import sys
import time

import numpy as np

from distill.audio.playback_types import Sound, Telemetry
from distill.audio.ring import SpliceRing
from distill.constants import SAMPLE_RATE
from distill.threads import CALLBACK_RT_PRIORITY, raise_thread_priority, thread_scheduling

log = logging.getLogger(__name__)

#: Frames per callback: 256 at 48 kHz is 5.3 ms.
BLOCK_SIZE = 256
#: Crossfade between sounds and ramps at a sound's edges.
FADE_MS = 5.0
#: Seconds of streamed audio the ring can hold ahead of the callback.
RING_SECONDS = 1.0
#: Time constants of the level meter: peak fall-off and RMS window.
PEAK_DECAY_S = 0.3
RMS_WINDOW_S = 0.1
#: Longest a Python thread keeps the GIL from the callback once the stream runs.
SWITCH_INTERVAL_S = 0.0005
#: Smoothing of the stream's gain (volume) in the callback.
GAIN_RAMP_MS = 20.0


class _Voice:
    """A one-shot voice: a sound, its position and its gain ramp (owned by the callback)."""

    __slots__ = ("direction", "level", "position", "sound")

    def __init__(self) -> None:
        self.sound: Sound | None = None
        self.position = 0
        self.level = 0.0  # ramp parameter in [0, 1]; gain = sin^2(pi/2 * level)
        self.direction = 0  # +1 fading in, -1 fading out, 0 steady


class PlaybackEngine:
    """Plays mono float32 buffers and a streamed instrument through one sounddevice OutputStream.

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
        self._voice_buf = np.zeros(capacity, dtype=np.float32)
        self._gain_buf = np.zeros(capacity, dtype=np.float32)
        self._steps = np.arange(1, capacity + 1, dtype=np.float32)
        # At most one request starts per callback and a fade lasts ceil(fade / block)
        # callbacks, so this many voices never need to steal an audible one.
        self._voices = [_Voice() for _ in range(math.ceil(self._fade / block_size) + 3)]
        #: The streamed instrument's audio (written by one producer thread; read here). No
        #: guard: a splice may land right after the block the callback has claimed.
        self.ring = SpliceRing(round(RING_SECONDS * sample_rate), 0, sample_rate)
        self._stream_gain = 0.0  # callback-owned, ramps toward _stream_gain_target
        self._stream_gain_target = 1.0
        self._gain_step = 1.0 / max(1.0, GAIN_RAMP_MS * sample_rate / 1000)
        # Written by callers, read by the callback: one reference each.
        self._request: Sound | None = None
        self._active_request: Sound | None = None  # callback-owned
        # Telemetry, written by the callback.
        # The callback thread's scheduling as the host API made it (JACK's real-time client
        # thread, PortAudio's normal ALSA thread), then after our one request. Set once
        # per stream by the callback; None before its first call.
        self.host_scheduling: str | None = None
        self.callback_scheduling: str | None = None
        self._underruns = 0
        self._blocks = 0
        self._peak = 0.0
        self._mean_square = 0.0
        self._audible = False
        self._peak_decay_per_sample = 1.0 / (PEAK_DECAY_S * sample_rate)
        self._rms_per_sample = 1.0 / (RMS_WINDOW_S * sample_rate)

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
            self.host_scheduling = self.callback_scheduling = None  # a new stream, a new thread
            stream = sd.OutputStream(samplerate=self.sample_rate, blocksize=self.block_size,
                                     channels=2, dtype="float32", device=self.device,
                                     callback=self._callback, latency="low")
            info = sd.query_devices(stream.device)
            stream.start()
        except Exception as exc:  # sd.PortAudioError, ValueError (no such device), ...
            self.error = f"no audio output: {exc}"
            log.warning(self.error)
            return False
        # The callback is Python: it needs the GIL within a fraction of a block, and a busy
        # render or training thread holds it for up to the switch interval (5 ms by
        # default, a whole 256-frame block) before it has to let go.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
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
        gain, self._stream_gain_target = self._stream_gain_target, 0.0
        ramp = max(self._fade, round(1.0 / self._gain_step))
        time.sleep(2 * ramp / self.sample_rate + 2 * self.block_size / self.sample_rate)
        stream, self._stream = self._stream, None
        try:
            stream.stop()
            stream.close()
        except Exception as exc:
            log.warning("closing the audio stream failed: %s", exc)
        self._stream_gain_target = gain  # a stream opened again plays at the volume set

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
        """Fade out whatever one-shot or loop sound plays (the stream has its own stop)."""
        self._request = None

    def set_stream_gain(self, gain: float) -> None:
        """Output gain of the streamed instrument; the callback ramps to it (no zipper noise)."""
        self._stream_gain_target = max(0.0, float(gain))

    def telemetry(self) -> Telemetry:
        latencies = self.ring.latencies() * 1000
        last = self.ring.last_latency
        p50 = p95 = worst = None
        if latencies.size:
            p50, p95 = (float(v) for v in np.percentile(latencies, [50, 95]))
            worst = float(latencies.max())
        return Telemetry(running=self.running, playing=self._audible, underruns=self._underruns,
                         blocks=self._blocks, peak=self._peak,
                         latency_ms=None if last is None else float(1000 * last), device=self._device_name,
                         rms=math.sqrt(self._mean_square), dropouts=self.ring.dropouts,
                         latency_p50_ms=p50, latency_p95_ms=p95, latency_max_ms=worst,
                         latency_count=int(latencies.size))

    @property
    def host_realtime(self) -> bool:
        """True when the host API runs the callback real-time (JACK with ``-R``, ...): then
        the audio server's own threads are real-time too, and a real-time render thread
        cannot hold them up."""
        scheduling = self.host_scheduling
        return scheduling is not None and scheduling != "normal"

    def reset_counters(self) -> None:
        self._underruns = 0
        self._blocks = 0
        self.ring.reset_counters()

    # ---------------------------------------------------------------- audio callback
    def _callback(self, outdata, frames, time_info, status) -> None:
        if self.callback_scheduling is None and self._stream is not None:
            # Once, on PortAudio's thread (never on a thread that drives the callback by
            # hand): a few syscalls, no logging.
            self.host_scheduling = thread_scheduling()
            self.callback_scheduling = raise_thread_priority(CALLBACK_RT_PRIORITY)
        if status.output_underflow and self._audible:
            self._underruns += 1  # an underrun in silence is not heard: not counted
        self._blocks += 1
        now = time.perf_counter()
        dac_delay = max(0.0, time_info.outputBufferDacTime - time_info.currentTime)
        request = self._request
        if request is not self._active_request:
            self._active_request = request
            self._start_voice(request)
            if request is not None:
                self.ring.record_latency(now - request.requested_at + dac_delay)
        mix = self._mix[:frames]
        # Exact zeros (a gap the producer left, or nothing written) count as "not streaming".
        streamed = self.ring.read(mix, now, dac_delay) and bool(mix.any())
        if streamed:
            self._apply_stream_gain(mix, frames)
        else:
            self._stream_gain = 0.0  # whatever starts the stream again (even a dropout's end) ramps in
        audible = streamed
        for voice in self._voices:
            if voice.sound is not None:
                self._mix_voice(voice, mix, frames)
                audible = True
        outdata[:, 0] = mix
        outdata[:, 1] = mix
        self._audible = audible
        self._meter(mix, frames)

    def _start_voice(self, request: Sound | None) -> None:
        """Every sounding voice fades out from where it stands; ``request`` fades in."""
        loop_position, loudest, audible = None, -1.0, False
        for voice in self._voices:
            if voice.sound is None:
                continue
            audible = True
            if voice.sound.loop and voice.level > loudest:
                loudest, loop_position = voice.level, voice.position
            voice.direction = -1
        if request is None or len(request.data) == 0:
            return
        free = self._voices[0]
        for voice in self._voices:  # a silent voice, else the quietest (never needed: see __init__)
            if (voice.sound is None, -voice.level) > (free.sound is None, -free.level):
                free = voice
        free.sound = request
        free.position = 0
        if request.loop and loop_position is not None:
            free.position = loop_position % len(request.data)  # a loop enters at the current position
        # From silence a one-shot starts at full gain (its edges are ramped already).
        if audible or request.loop:
            free.level, free.direction = 0.0, 1
        else:
            free.level, free.direction = 1.0, 0

    def _mix_voice(self, voice: _Voice, mix: np.ndarray, frames: int) -> None:
        buf = self._voice_buf[:frames]
        voice.position = self._read(voice.sound, voice.position, buf)
        if voice.direction:
            gain = self._gain_buf[:frames]
            np.multiply(self._steps[:frames], voice.direction / self._fade, out=gain)
            gain += voice.level
            np.clip(gain, 0.0, 1.0, out=gain)
            voice.level = float(gain[-1])
            gain *= 0.5 * math.pi
            np.sin(gain, out=gain)
            np.square(gain, out=gain)
            buf *= gain
            if voice.level >= 1.0 and voice.direction > 0:
                voice.direction = 0
            elif voice.level <= 0.0 and voice.direction < 0:
                voice.sound = None
        mix += buf
        if voice.sound is not None and not voice.sound.loop and voice.position >= len(voice.sound.data):
            voice.sound = None

    def _apply_stream_gain(self, mix: np.ndarray, frames: int) -> None:
        current, target = self._stream_gain, self._stream_gain_target
        if current == target:
            if current != 1.0:
                mix *= current
            return
        gain = self._gain_buf[:frames]
        step = self._gain_step if target > current else -self._gain_step
        np.multiply(self._steps[:frames], step, out=gain)
        gain += current
        if step > 0:
            np.minimum(gain, target, out=gain)
        else:
            np.maximum(gain, target, out=gain)
        mix *= gain
        self._stream_gain = float(gain[-1])

    def _meter(self, mix: np.ndarray, frames: int) -> None:
        if not frames:
            return
        block_peak = float(np.abs(mix, out=self._gain_buf[:frames]).max())
        self._peak = max(block_peak, self._peak * math.exp(-frames * self._peak_decay_per_sample))
        keep = math.exp(-frames * self._rms_per_sample)
        self._mean_square = keep * self._mean_square + (1 - keep) * float(np.dot(mix, mix)) / frames

    @staticmethod
    def _read(sound: Sound, position: int, out: np.ndarray) -> int:
        """Copy the next ``len(out)`` samples of ``sound`` into ``out``; zeros past its end."""
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
