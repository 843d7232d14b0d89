"""``render_performance``: a recorded sequence of control states -> audio, offline.

The same frame synthesizer as the real-time loop, driven by the states' time stamps
instead of the clock, so an export sounds like what was played (bar the random phase of
negligible coefficients and where a live splice fell on a frame boundary) and the same
inputs always give the same samples. Thread: any (it builds its own synthesizer).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from distill.render.realtime_config import ControlState, RealtimeConfig
from distill.render.renderer import Renderer
from distill.render.stream import Cycle, FrameSynthesizer, SynthState, clip_cycle

#: Frames synthesized per call while filling the gaps between states.
CHUNK_FRAMES = 64


def make_synthesizer(renderer: Renderer, config: RealtimeConfig) -> FrameSynthesizer:
    """The frame synthesizer of ``renderer``'s representation with ``config``'s settings."""
    return FrameSynthesizer(renderer.spectrogram, crossfade_frames=config.crossfade_frames,
                            gain_ramp_samples=round(config.gain_ramp_ms * renderer.sample_rate / 1000),
                            seed=config.seed)


def effect_frame(sample: int, hop: int) -> int:
    """The first frame a control change at ``sample`` shapes: frame ``n`` starts at ``n * hop``."""
    return -(-sample // hop)


def render_performance(renderer: Renderer, states: Sequence[ControlState], num_samples: int, *,
                       config: RealtimeConfig | None = None) -> np.ndarray:
    """Play ``states`` offline: ``[num_samples]`` float32.

    State ``i`` takes effect at sample ``round((states[i].stamp - states[0].stamp) * sr)``
    (state 0 at sample 0), rounded up to the next frame boundary (a multiple of the hop):
    the output before that boundary is what it would be without the state.

    Parameters
    ----------
    renderer
        The model.
    states
        Control states in time order (``stamp`` non-decreasing).
    num_samples
        Output length.
    config
        Synthesizer settings (the real-time loop's defaults when None).
    """
    config = config or RealtimeConfig()
    synth = make_synthesizer(renderer, config)
    hop, sr = synth.hop, renderer.sample_rate
    out = np.zeros(num_samples, dtype=np.float32)
    if not states:
        return out
    stamps = [s.stamp for s in states]
    if any(b < a for a, b in itertools.pairwise(stamps)):
        raise ValueError("control states must be in time order")
    cycles = _cycles(renderer, states, config)
    total = math.ceil(num_samples / hop)
    state = synth.initial_state()
    last: tuple[torch.Tensor, str] | None = None
    for control, cycle in zip(states, cycles, strict=True):
        frame = min(total, effect_frame(round((control.stamp - stamps[0]) * sr), hop))
        state = _fill(synth, state, frame, out)
        if control.playing:
            same = last is not None and last[1] == control.mode and torch.equal(last[0], control.latent)
            state = synth.with_control(state, None if same else cycle, control.gain)
            last = (control.latent, control.mode)
        else:
            state = synth.with_control(state, None, 0.0)
            last = None if state.silent else last
    _fill(synth, state, total, out)
    return out


def _cycles(renderer: Renderer, states: Sequence[ControlState], config: RealtimeConfig) -> list[Cycle]:
    """One cycle per state, each decoded alone as the live loop does: a batch would change
    the last bits of every clip with its company, and a state's sound must not."""
    return [clip_cycle(renderer.decode(torch.as_tensor(s.latent, dtype=torch.float32).reshape(1, -1))[0],
                       s.mode, config.loop_join_frames) for s in states]


def _fill(synth: FrameSynthesizer, state: SynthState, until: int, out: np.ndarray) -> SynthState:
    """Synthesize frames ``state.frame .. until`` into ``out`` (silence where nothing plays)."""
    hop = synth.hop
    while state.frame < until:
        if state.silent:
            return replace(state, frame=until)
        n = min(CHUNK_FRAMES, until - state.frame)
        rendered = synth.render(state, n)
        start = state.frame * hop
        span = min(rendered.samples.shape[0], out.shape[0] - start)
        out[start:start + span] = rendered.samples[:span]
        state = rendered.states[-1]
    return state
