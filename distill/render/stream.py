"""The frame synthesizer: a latent's clip played frame by frame, joined in the representation.

Musically: the decoder turns a latent into one clip ``[2, M, F]``. A ``Cycle`` is what a
read head plays from it, over and over:

- **stream**: like ``Renderer.generate`` holding one point, a new instance of the clip
  enters every half clip with sin^2/cos^2 energy weights (``clip_weights``), so the
  output is periodic with the half-clip hop: a percussive clip repeats like a held,
  breathing sound, a sustained one is seamless. The cycle is that steady state, ``hop``
  frames long, computed once per render;
- **loop**: the clip itself, its tail joined into its head over ``loop_join_frames``.

When the latent changes, the new cycle's frames replace the old at the SAME read
position, crossfaded over a few frames on the mel energies with the IF energy-weighted,
exactly as ``distill.render.sequence.join_clips`` mixes clips. A crossfade that is under
way is handed on: the mixture as it stands becomes the outgoing side of the next one.

Each frame then goes through the inverse transform's own per-frame steps
(``ComplexSpectrogram._frequency_frames`` / ``_magnitude_frames``), PGHI continued from
the previous frame's phase (``pghi_continue``: the phase carries on across renders), and a
streaming weighted overlap-add (irfft x window, the overlap tail kept, divided by the
summed squared window as ``_istft`` does). Frame ``n`` spans output samples
``[n * hop, n * hop + n_fft)`` and completes samples ``[n * hop, (n + 1) * hop)``.

Everything is a pure function of a ``SynthState`` snapshot: restarting from the snapshot
after any frame reproduces the continuation, which is what lets the real-time loop
rewrite audio it wrote ahead (``distill.render.realtime``) and what makes offline export
of a performance deterministic. Not thread-safe: one thread renders at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from distill.audio.pghi import PghiState, pghi_continue
from distill.audio.spectrogram import ComplexSpectrogram, relative_energy
from distill.render.sequence import clip_weights, crossfade_hop

#: Most cycles mixed at once while crossfades overlap (the quietest one leaves first).
MAX_VOICES = 4
MODES = ("stream", "loop")


@dataclass(frozen=True, eq=False)
class Cycle:
    """One period of what the read head plays, in mixable form.

    Attributes
    ----------
    energy
        ``[M, P]`` float32 relative mel energy (``expm1`` of channel 0).
    weighted_if
        ``[M, P]`` float32 energy times IF (so mixtures are linear in the weights).
    mode
        ``"stream"`` or ``"loop"``.
    """

    energy: np.ndarray
    weighted_if: np.ndarray
    mode: str

    @property
    def period(self) -> int:
        return self.energy.shape[1]


def clip_cycle(clip: torch.Tensor, mode: str, loop_join_frames: int) -> Cycle:
    """A denormalised clip ``[2, M, F]`` -> its ``Cycle`` in ``mode`` (module docstring)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    clip = clip.detach().float().cpu()
    n_frames = clip.shape[-1]
    energy = relative_energy(clip[0])  # log1p(E / floor) -> E / floor, finite
    weighted = energy * clip[1].clamp(-1.0, 1.0)
    if mode == "stream" and n_frames >= 2:
        hop = crossfade_hop(n_frames, 0.5)
        w = clip_weights(3, n_frames, hop)[1]  # an instance in the middle: fades in and out
        e_sum = energy.new_zeros(energy.shape[0], hop)
        i_sum = energy.new_zeros(energy.shape[0], hop)
        w_sum = energy.new_zeros(hop)
        for start in range(0, n_frames, hop):
            span = min(hop, n_frames - start)
            e_sum[:, :span] += energy[:, start:start + span] * w[start:start + span]
            i_sum[:, :span] += weighted[:, start:start + span] * w[start:start + span]
            w_sum[:span] += w[start:start + span]
        energy, weighted = e_sum / w_sum, i_sum / w_sum
    elif mode == "loop":
        join = min(loop_join_frames, n_frames // 2)
        if join > 0:
            ramp = torch.sin(0.5 * math.pi * (torch.arange(join) + 0.5) / join).square()
            head_e = energy[:, :join] * ramp + energy[:, n_frames - join:] * (1 - ramp)
            head_i = weighted[:, :join] * ramp + weighted[:, n_frames - join:] * (1 - ramp)
            energy = torch.cat([head_e, energy[:, join:n_frames - join]], dim=1)
            weighted = torch.cat([head_i, weighted[:, join:n_frames - join]], dim=1)
    return Cycle(np.ascontiguousarray(energy.numpy(), dtype=np.float32),
                 np.ascontiguousarray(weighted.numpy(), dtype=np.float32), mode)


@dataclass(frozen=True, eq=False)
class SynthState:
    """Everything the synthesizer needs to continue after a frame (an immutable snapshot).

    Attributes
    ----------
    frame
        Index of the next frame to synthesize.
    voices, positions
        Cycles being mixed and each one's read position (next frame).
    start_weights
        Weights of all voices but the last when the crossfade to the last one began.
    fade_step
        Frames into that crossfade (>= the crossfade length: the last voice alone).
    gain, gain_target
        Output gain after the last sample and where its ramp is going.
    phase
        PGHI state of the last frame (None before the first frame).
    tail
        ``[n_fft - hop]`` float32 overlap-add accumulator past the samples emitted.
    """

    frame: int
    voices: tuple[Cycle, ...]
    positions: tuple[int, ...]
    start_weights: tuple[float, ...]
    fade_step: int
    gain: float
    gain_target: float
    phase: PghiState | None
    tail: np.ndarray

    @property
    def silent(self) -> bool:
        """Nothing audible now or later (faded out, or never started)."""
        return not self.voices or (self.gain == 0.0 and self.gain_target == 0.0)


@dataclass(frozen=True, eq=False)
class Rendered:
    """Frames synthesized in one call.

    Attributes
    ----------
    samples
        ``[T * hop]`` float32, gain applied.
    states
        The snapshot after each of the T frames.
    frames
        ``[2, M, T]`` float32 denormalised representation frames (for a live view).
    """

    samples: np.ndarray
    states: list[SynthState]
    frames: np.ndarray


class FrameSynthesizer:
    """Representation frames -> audio, continuing from snapshots (module docstring).

    Parameters
    ----------
    spectrogram
        The model's inverse transform (its per-frame steps and its window).
    crossfade_frames
        Frames of the energy crossfade when a new cycle enters.
    gain_ramp_samples
        Samples a gain change from 0 to 1 takes (changes ramp linearly at that rate).
    seed
        Seed of PGHI's random phase of negligible coefficients.
    """

    def __init__(self, spectrogram: ComplexSpectrogram, *, crossfade_frames: int = 3,
                 gain_ramp_samples: int = 960, seed: int = 0) -> None:
        self.spectrogram = spectrogram
        self.crossfade_frames = max(1, crossfade_frames)
        self.gain_step = 1.0 / max(1, gain_ramp_samples)
        self.seed = seed
        cfg = spectrogram.config
        self.n_fft, self.hop = cfg.n_fft, cfg.hop_length
        if self.n_fft % self.hop:
            raise ValueError("the streaming overlap-add needs n_fft to be a multiple of hop_length")
        window = spectrogram.window.detach().float().cpu()
        self._window = window.numpy().astype(np.float32)
        # The summed squared window of a steady stream: _istft's envelope away from the edges.
        self._envelope = (window.square().reshape(-1, self.hop).sum(dim=0).clamp_min(1e-8)).numpy()
        self._inv_envelope = (1.0 / self._envelope).astype(np.float32)

    def initial_state(self) -> SynthState:
        """A silent synthesizer at frame 0."""
        return SynthState(0, (), (), (), self.crossfade_frames, 0.0, 0.0, None,
                          np.zeros(self.n_fft - self.hop, dtype=np.float32))

    # ------------------------------------------------------------------ control
    def with_control(self, state: SynthState, cycle: Cycle | None, gain_target: float) -> SynthState:
        """``state`` with ``cycle`` entering at the current read position and a new gain target.

        ``cycle`` None keeps what plays. From silence the cycle starts alone (the gain
        ramp is the fade-in) and the phase starts afresh.
        """
        gain_target = max(0.0, float(gain_target))
        if cycle is None:
            return replace(state, gain_target=gain_target)
        if state.silent:
            fresh = self.initial_state()
            return replace(fresh, frame=state.frame, voices=(cycle,), positions=(0,), gain_target=gain_target)
        weights = self._weights(state)
        position = state.positions[-1] % cycle.period
        voices = [*state.voices, cycle]
        positions = [*state.positions, position]
        start = list(weights)
        while len(voices) > MAX_VOICES:
            # Hand the crossfade on: the quietest outgoing voice leaves (renormalised).
            drop = int(np.argmin(start))
            del voices[drop], positions[drop], start[drop]
            total = sum(start)
            start = [w / total for w in start]
        return replace(state, voices=tuple(voices), positions=tuple(positions), start_weights=tuple(start),
                       fade_step=0, gain_target=gain_target)

    def _weights(self, state: SynthState) -> list[float]:
        """Energy weights of ``state``'s voices for its next frame (sum 1)."""
        if state.fade_step >= self.crossfade_frames or len(state.voices) < 2:
            return [0.0] * (len(state.voices) - 1) + [1.0]
        a = math.sin(0.5 * math.pi * (state.fade_step + 0.5) / self.crossfade_frames) ** 2
        return [w * (1.0 - a) for w in state.start_weights] + [a]

    def _advance(self, state: SynthState) -> tuple[np.ndarray, np.ndarray, SynthState]:
        """The next representation frame (energy [M], IF [M]) and the state one frame on."""
        weights = self._weights(state)
        energy = weighted = None
        for voice, pos, w in zip(state.voices, state.positions, weights, strict=True):
            if w <= 0.0:
                continue
            e, i = voice.energy[:, pos] * w, voice.weighted_if[:, pos] * w
            energy, weighted = (e, i) if energy is None else (energy + e, weighted + i)
        positions = tuple((p + 1) % v.period for v, p in zip(state.voices, state.positions, strict=True))
        step = state.fade_step + 1
        if step >= self.crossfade_frames and len(state.voices) > 1:
            nxt = replace(state, voices=state.voices[-1:], positions=positions[-1:], start_weights=(),
                          fade_step=step)
        else:
            nxt = replace(state, positions=positions, fade_step=step)
        if_frame = np.where(energy > 0, weighted / np.maximum(energy, 1e-30), 0.0).clip(-1.0, 1.0)
        return energy, if_frame, nxt

    # ------------------------------------------------------------------ synthesis
    def render(self, state: SynthState, n_frames: int) -> Rendered:
        """Synthesize ``n_frames`` frames after ``state``: ``n_frames * hop`` samples."""
        if not state.voices:
            raise ValueError("nothing to render: no cycle has entered yet")
        energies, ifs, mixes = [], [], []
        mix = state
        for _ in range(n_frames + 1):  # one frame of lookahead for the phase's frequency derivative
            energy, if_frame, mix = self._advance(mix)
            energies.append(energy)
            ifs.append(if_frame)
            mixes.append(mix)
        frames = np.stack([np.log1p(np.stack(energies, axis=1)), np.stack(ifs, axis=1)]).astype(np.float32)
        spec = torch.from_numpy(frames)[None].to(self.spectrogram.window.device)
        with torch.inference_mode():
            freq = self.spectrogram._frequency_frames(spec)
            magnitude = self.spectrogram._listening_magnitude(spec, freq)  # numba: same values, faster
        freq_np = freq[0].float().cpu().numpy()
        magnitude_np = magnitude[0].float().cpu().numpy()
        phase, pstates = pghi_continue(np.log(np.maximum(magnitude_np, 1e-30)), freq_np[:n_frames],
                                       state.phase, self.spectrogram.config, self.spectrogram.sample_rate,
                                       self.seed)
        spectra = magnitude_np[:n_frames] * np.exp(1j * phase)
        grains = np.fft.irfft(spectra, n=self.n_fft, axis=-1).astype(np.float32) * self._window
        samples = np.empty(n_frames * self.hop, dtype=np.float32)
        states = []
        tail, gain = state.tail, state.gain
        hop = self.hop
        for t in range(n_frames):
            acc = grains[t].copy()
            acc[:-hop] += tail
            block = samples[t * hop:(t + 1) * hop]
            np.multiply(acc[:hop], self._inv_envelope, out=block)
            tail = acc[hop:]
            gain = self._apply_gain(block, gain, mixes[t].gain_target)
            states.append(replace(mixes[t], gain=gain, phase=pstates[t], tail=tail,
                                  frame=state.frame + t + 1))
        return Rendered(samples, states, frames[:, :, :n_frames])

    def _apply_gain(self, block: np.ndarray, gain: float, target: float) -> float:
        """Multiply ``block`` by the gain ramping from ``gain`` toward ``target``; returns the end gain."""
        if gain == target:
            if gain != 1.0:
                block *= gain
            return gain
        step = self.gain_step if target > gain else -self.gain_step
        ramp = gain + step * np.arange(1, block.shape[0] + 1, dtype=np.float32)
        ramp = np.minimum(ramp, target) if step > 0 else np.maximum(ramp, target)
        block *= ramp
        return float(ramp[-1])
