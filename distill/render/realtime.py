"""``RealtimeLoop``: control states in, continuous sound out, off the GUI thread.

One thread of its own (one torch thread, ``apply_realtime_policy``) owns a
``FrameSynthesizer`` and writes into the engine's ``SpliceRing``:

- it keeps ``lead_ms`` of audio written ahead, so a slow render never starves the
  callback, and keeps the synthesizer's snapshot after every frame of that lead;
- a control state is decoded into a cycle (``clip_cycle``, with the loop's own decoder
  copy: bfloat16 where the CPU computes it natively), then the lead is REWRITTEN from the
  earliest point past the block the callback has claimed, restarting the synthesizer
  from the snapshot saved at the frame boundary before it with the new cycle entering
  (the splice). The audio before that point is untouched, the phase and the overlap
  tail carry on, the representation crossfades: nothing restarts, nothing clicks, and
  latency is decode + synthesis + the wait for the next callback + the device's own,
  whatever the lead. If the callback claimed blocks during the synthesis, the write
  lands after them (the synthesis covers ``margin_blocks`` and its own time of slack);
  a splice it overtook even so is counted (``late_splices``) and redone further on;
- semantics of ``submit``: a state the thread has taken is always rendered and
  delivered; then it takes the NEWEST pending state, and states replaced before they
  were taken are counted as skipped, never queued.

Threads: ``start``/``close`` from the thread that owns the loop (the GUI's main thread);
``submit``, ``stats``, ``recent_frames`` and ``ready`` from any thread. Start and stop of
the PortAudio stream stay with the engine's owner (the main thread). Without an audio
device the loop still runs: it writes its lead once and then waits (nothing consumes it).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from distill.audio.playback import PlaybackEngine
from distill.audio.ring import FOREVER
from distill.models.inference import realtime_decoder
from distill.render.performance import make_synthesizer, render_performance
from distill.render.realtime_config import ControlState, RealtimeConfig
from distill.render.renderer import Renderer
from distill.render.stream import Cycle, Rendered, SynthState, clip_cycle
from distill.threads import apply_realtime_policy, raise_thread_priority, reset_thread_priority

__all__ = ["ControlState", "RealtimeConfig", "RealtimeLoop", "RealtimeStats", "render_performance"]

log = logging.getLogger(__name__)

#: Render times kept for the percentiles of ``stats``.
TIMING_SLOTS = 512
#: Attempts at a splice before it is appended at the end of the lead instead.
SPLICE_ATTEMPTS = 3


@dataclass(frozen=True)
class RealtimeStats:
    """A snapshot of the loop's counters (any thread).

    ``render_ms_*`` time a state from when the thread took it to its splice written
    (decode + synthesis); ``decode_ms_p50`` the decoder alone, ``synth_ms_p95`` the
    synthesis of a splice alone.
    """

    ready: bool
    error: str | None
    renders: int
    skipped: int
    late_splices: int
    splices: int
    render_ms_p50: float | None
    render_ms_p95: float | None
    render_ms_max: float | None
    decode_ms_p50: float | None
    synth_ms_p95: float | None
    lead_ms: float
    decode_precision: str = "float32"
    scheduling: str = "normal"


class RealtimeLoop:
    """Plays control states through ``engine`` (module docstring).

    Parameters
    ----------
    renderer
        The model (its decoder and representation). The loop's thread is the only one
        that may use it while the loop runs.
    engine
        Where the sound goes (its ``ring``); may have no device.
    config
        Loop settings (defaults when None).
    """

    def __init__(self, renderer: Renderer, engine: PlaybackEngine,
                 config: RealtimeConfig | None = None) -> None:
        self.renderer = renderer
        self.engine = engine
        self.config = config or RealtimeConfig()
        self._synth = make_synthesizer(renderer, self.config)
        self._ring = engine.ring
        self._hop = self._synth.hop
        sr = renderer.sample_rate
        self._lead = max(self._hop, round(self.config.lead_ms * sr / 1000))
        self._lead = min(self._lead, self._ring.capacity - 4 * self._hop)
        self._margin = round(self.config.margin_blocks * engine.block_size)
        self._blend = round(self.config.splice_blend_ms * sr / 1000)
        self._wait = 0.5 * self._hop / sr
        # submit() <-> thread hand-off: one slot, newest wins.
        self._lock = threading.Lock()
        self._pending: ControlState | None = None
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._error: str | None = None
        # Owned by the loop's thread.
        self._state = self._synth.initial_state()
        self._snapshots: deque[tuple[int, SynthState]] = deque()  # (ring sample where it applies, state)
        self._cycle_key: tuple[torch.Tensor, str] | None = None
        # The loop's own decoder copy (made on the thread, in _warm_up): the renderer's
        # stays float32 for offline renders.
        self._decoder: torch.nn.Module = renderer.decoder
        self._precision = "float32"
        self._scheduling = "normal"
        self._realtime_wanted = False
        self._render_ms: deque[float] = deque(maxlen=TIMING_SLOTS)
        self._synth_ms: deque[float] = deque(maxlen=TIMING_SLOTS)
        self._decode_ms: deque[float] = deque(maxlen=TIMING_SLOTS)
        # Counters (written by the thread, read by stats()).
        self._renders = self._skipped = self._late = self._splices = 0
        # Live view: (ring sample where the frame's hop ends, frame [2, M]).
        history = max(1, round(self.config.history_seconds * sr / self._hop))
        ahead = math.ceil(self._lead / self._hop) + 4
        self._history: deque[tuple[int, np.ndarray]] = deque(maxlen=history + ahead)
        self._history_lock = threading.Lock()

    # ---------------------------------------------------------------- owner thread
    def start(self, timeout: float | None = None) -> bool:
        """Start the thread; it warms up (decoder, synthesis, numba). True once ready."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="distill-realtime", daemon=False)
            self._thread.start()
        return self._ready.wait(timeout) and self._error is None

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self._error is None

    def close(self, timeout: float = 5.0) -> None:
        """Fade the stream out and join the thread (the engine stays open)."""
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the real-time render thread did not stop within %.1f s", timeout)
            else:
                self._thread = None

    # ---------------------------------------------------------------- any thread
    def submit(self, state: ControlState) -> None:
        """Hand a new control state to the loop; never blocks on a render (newest wins)."""
        with self._lock:
            if self._pending is not None:
                self._skipped += 1
            self._pending = state
        self._wake.set()

    def stats(self) -> RealtimeStats:
        # list() copies a deque in one C call under the GIL: safe while the thread appends.
        render = np.array(list(self._render_ms))
        synth = np.array(list(self._synth_ms))
        decode = np.array(list(self._decode_ms))

        def pct(values: np.ndarray, q: float) -> float | None:
            return float(np.percentile(values, q)) if values.size else None

        return RealtimeStats(ready=self.ready, error=self._error, renders=self._renders,
                             skipped=self._skipped,
                             late_splices=self._late, splices=self._splices, render_ms_p50=pct(render, 50),
                             render_ms_p95=pct(render, 95), render_ms_max=pct(render, 100),
                             decode_ms_p50=pct(decode, 50), synth_ms_p95=pct(synth, 95),
                             lead_ms=1000 * self._lead / self.renderer.sample_rate,
                             decode_precision=self._precision, scheduling=self._scheduling)

    def recent_frames(self) -> np.ndarray | None:
        """``[2, M, T]`` denormalised frames played over the last ``history_seconds`` (a copy)."""
        played = self._ring.read_pos
        with self._history_lock:
            frames = [frame for end, frame in self._history if end <= played + self._hop]
        if not frames:
            return None
        keep = max(1, round(self.config.history_seconds * self.renderer.sample_rate / self._hop))
        return np.stack(frames[-keep:], axis=-1)

    # ---------------------------------------------------------------- the loop's thread
    def _run(self) -> None:
        apply_realtime_policy()
        try:
            self._warm_up()
        except Exception as exc:  # a broken model: say so, do not take the process down
            self._error = f"the real-time renderer could not start: {exc}"
            log.exception(self._error)
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._closing:
                self._follow_host_scheduling()
                self._wake.wait(self._wait)
                self._wake.clear()
                with self._lock:
                    state, self._pending = self._pending, None
                if state is not None:
                    self._top_up()  # a full lead before a decode: a slow one must not starve the callback
                    self._apply(state)
                self._top_up()
            self._fade_out()
        except Exception as exc:
            self._error = f"the real-time renderer failed: {exc}"
            log.exception(self._error)

    def _follow_host_scheduling(self) -> None:
        """Real-time scheduling for this thread exactly while the host's audio path has it.

        On a real-time host (JACK ``-R``) this thread, under the callback's priority, keeps
        other programs and training from starving the stream (load 4-5: 0 underruns and 0
        gaps, against 26 and 4). On a host whose server runs at normal priority it held the
        server up instead: 712 underruns in 30 s while training, 0 at normal priority
        (``benchmarks/realtime.py``). Syscalls only when the engine's stream changed.
        """
        want = self.config.realtime_scheduling and self.engine.host_realtime
        if want != self._realtime_wanted:  # changes only with the stream (refused: asked once)
            self._realtime_wanted = want
            self._scheduling = raise_thread_priority() if want else reset_thread_priority()
            log.info("real-time render thread scheduling: %s", self._scheduling)

    def _warm_up(self) -> None:
        """Decode and synthesize once, so the first real state renders at full speed."""
        self._decoder, self._precision = realtime_decoder(self.renderer.decoder, self.config.decode_precision)
        log.info("real-time decoder: %s", self._precision)
        analysis = self.renderer.analysis
        z = analysis.space.mean if analysis is not None else torch.zeros(self.renderer.latent_dim)
        clip = self._decode(z)
        for mode in ("stream", "loop"):
            state = self._synth.with_control(self._synth.initial_state(), clip_cycle(clip, mode, 1), 1.0)
            self._synth.render(state, self.config.splice_frames + 1)

    def _apply(self, control: ControlState) -> None:
        start = time.perf_counter()
        if not control.playing:
            if self._state.silent:
                return
            self._splice(None, 0.0, control.stamp)
        else:
            cycle = self._cycle(control)
            self._splice(cycle, control.gain, control.stamp)
        self._renders += 1
        self._render_ms.append(1000 * (time.perf_counter() - start))

    def _cycle(self, control: ControlState) -> Cycle | None:
        """The state's cycle, or None when it plays the same latent in the same mode as now."""
        latent = torch.as_tensor(control.latent, dtype=torch.float32).reshape(-1)
        key = self._cycle_key
        playing = key is not None and not self._state.silent
        if playing and key[1] == control.mode and torch.equal(key[0], latent):
            return None
        began = time.perf_counter()
        clip = self._decode(latent)
        self._decode_ms.append(1000 * (time.perf_counter() - began))
        self._cycle_key = (latent.clone(), control.mode)
        return clip_cycle(clip, control.mode, self.config.loop_join_frames)

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        """``[D]`` -> the denormalised spectrogram ``[2, M, T]``, with the loop's decoder."""
        renderer = self.renderer
        with torch.inference_mode():
            spec = self._decoder(latent.reshape(1, -1).to(renderer.device))
            return renderer.normalization.denormalize(spec)[0]

    def _splice(self, cycle: Cycle | None, gain: float, stamp: float) -> None:
        """Rewrite the lead from the earliest safe point with the change applied.

        The point is chosen twice: planned right after the callback's claimed block when
        the splice starts, then moved on at the write if the callback claimed another block
        during the synthesis (late binding). The synthesis covers that ``slack``, so no
        block of margin has to be waited for in the common case where no callback came.
        """
        for attempt in range(SPLICE_ATTEMPTS):
            began = time.perf_counter()
            at, base_at, base = self._splice_point(self._ring.reading_until,
                                                   last_resort=attempt == SPLICE_ATTEMPTS - 1)
            changed = self._synth.with_control(base, cycle, gain)
            if changed.silent:
                return
            frames = self.config.splice_frames + math.ceil((at + self._slack() - base_at) / self._hop)
            rendered = self._synth.render(changed, frames)
            claimed = self._ring.reading_until + self._ring.guard
            if at > base_at:
                at = max(at, claimed)  # inside the lead: join where the callback has not been
            elif at < claimed:
                at = base_at = claimed  # a start or a continuation: it moves whole
            offset = at - base_at
            fits = offset < rendered.samples.shape[0]
            if fits and self._ring.write(rendered.samples[offset:], at, stamp, blend=self._blend):
                self._synth_ms.append(1000 * (time.perf_counter() - began))
                self._commit(base_at, rendered)
                self._splices += 1
                return
            self._late += 1

    def _slack(self) -> int:
        """Samples the callback may claim while a splice is synthesized: the margin plus the
        synthesis time itself (its 95th percentile, measured as the loop runs)."""
        synth_p95 = np.percentile(self._synth_ms, 95) if self._synth_ms else 2.0
        return self._margin + round(synth_p95 * self.renderer.sample_rate / 1000)

    def _splice_point(self, claimed: int, last_resort: bool) -> tuple[int, int, SynthState]:
        """(ring sample to write from, ring sample of the snapshot, the snapshot).

        The earliest point is right after the callback's claimed block (plus the ring's
        guard). It need not be a frame boundary: the new frames are synthesized from the
        snapshot at the boundary before it and written from the point on. Up to there old
        and new audio differ only by the first new frame's window edge at its crossfade's
        first weight (both well under 1%), so the join stays continuous while a change
        never waits for the next boundary.
        """
        earliest = claimed + self._ring.guard
        if last_resort:
            earliest += self._slack() + 4 * self.engine.block_size
        write = self._ring.write_pos
        if self._state.silent:
            at = max(earliest, write)
            return at, at, self._state
        if earliest < write:
            chosen = None
            for sample, snapshot in self._snapshots:
                if sample > earliest:
                    break
                chosen = (sample, snapshot)
            if chosen is not None:
                return earliest, chosen[0], chosen[1]
            sample, snapshot = self._snapshots[0]
            return sample, sample, snapshot
        if write >= claimed + self._ring.guard:
            return write, write, self._state  # the lead is shorter than the margin: continue it
        return earliest, earliest, self._state  # starved: continue after a gap

    def _commit(self, at: int, rendered: Rendered) -> None:
        """Record frames synthesized from ``at`` on: snapshots and history past it are replaced."""
        while self._snapshots and self._snapshots[-1][0] > at:
            self._snapshots.pop()
        with self._history_lock:
            while self._history and self._history[-1][0] > at:
                self._history.pop()
            for t in range(len(rendered.states)):
                end = at + (t + 1) * self._hop
                self._snapshots.append((end, rendered.states[t]))
                self._history.append((end, rendered.frames[:, :, t]))
        # Keep the last snapshot before the read position: a splice may start from it.
        while len(self._snapshots) > 1 and self._snapshots[1][0] <= self._ring.read_pos:
            self._snapshots.popleft()
        self._state = rendered.states[-1]
        self._ring.play_until(self._ring.write_pos if self._state.silent else FOREVER)

    def _top_up(self) -> None:
        """Keep ``lead`` samples written ahead of the callback."""
        if self._state.silent:
            return
        read = self._ring.read_pos
        claimed = self._ring.reading_until + self._ring.guard
        # Starved (the callback overtook the lead): continue after a short gap.
        at = claimed + self._margin if self._ring.write_pos < claimed else self._ring.write_pos
        missing = math.ceil((read + self._lead - at) / self._hop)
        if missing < min(self.config.top_up_frames, self._lead // self._hop):
            return
        rendered = self._synth.render(self._state, missing)
        if self._ring.write(rendered.samples, at):
            self._commit(at, rendered)

    def _fade_out(self) -> None:
        """On close: Stop, then let the callback play the fade (when a device plays at all)."""
        if self._state.silent:
            return
        self._splice(None, 0.0, time.perf_counter())
        if not self.engine.running:
            return  # nobody plays the fade: done
        deadline = time.monotonic() + 1.0
        while not self._state.silent and time.monotonic() < deadline:
            self._top_up()
            time.sleep(self._wait)
        if self.engine.running:
            end = self._ring.write_pos
            while self._ring.read_pos < end and time.monotonic() < deadline:
                time.sleep(self._wait)
