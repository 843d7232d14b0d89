"""What a control change is (``ControlState``) and how the real-time loop plays it (``RealtimeConfig``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from distill.config_base import ConfigBase
from distill.models.inference import PRECISIONS
from distill.render.stream import MODES


@dataclass(frozen=True)
class ControlState:
    """What the instrument should play, as of one UI/MIDI event (immutable; any thread).

    Attributes
    ----------
    latent
        ``[D]`` the latent to play.
    stamp
        ``time.perf_counter()`` of the event that made this state: latency is measured
        from it to the first sample of the new sound at the DAC.
    mode
        ``"stream"`` (the clip re-entering every half clip, a held sound) or ``"loop"``
        (the clip repeating with a seamless wrap).
    gain
        Linear output gain (volume, MIDI velocity); changes ramp.
    playing
        False fades the instrument out (Stop).
    """

    latent: torch.Tensor
    stamp: float
    mode: str = "stream"
    gain: float = 1.0
    playing: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if not math.isfinite(self.gain) or self.gain < 0:
            raise ValueError(f"gain must be a finite number >= 0, got {self.gain}")


@dataclass(frozen=True)
class RealtimeConfig(ConfigBase):
    """Settings of the real-time loop and the frame synthesizer.

    Defaults measured with ``benchmarks/realtime.py`` (2-core machine, JACK dummy backend,
    256-frame blocks at 48 kHz; idle and while training: latency p50 22-25 ms, p95 26-31 ms,
    no underruns, no gaps); see its docstring for the figures.

    Attributes
    ----------
    lead_ms
        Audio kept written ahead of the callback: how long a render may stall before
        the stream starves. It costs no latency: a change rewrites the lead (a splice).
    margin_blocks
        Callback blocks of slack a splice synthesizes past its planned point, on top of
        the synthesis' own time (measured as it runs), so that it can still land right
        after the callback's block if the callback claimed blocks meanwhile. It costs
        synthesis, not latency.
    splice_blend_ms
        A splice's first samples fade from the audio written there into the new one
        (raised cosine). Old and new differ by under 2 % of the peak within a hop of the
        snapshot, but up to 30 % two hops on (a join the callback pushed late): the blend
        keeps every join continuous.
    splice_frames
        Frames synthesized before a splice is written (the rest of the lead follows
        at once): fewer frames, sooner written, lower latency.
    top_up_frames
        The lead is topped up when this many frames are missing, all at once: a call
        costs ~0.75 ms of fixed overhead plus ~0.13 ms a frame, and the CPU saved is the
        audio callback's (and the JACK server's) on a small machine.
    crossfade_frames
        Frames of the energy crossfade when a new latent enters (in the representation).
    loop_join_frames
        Frames over which a loop's tail is joined into its head.
    gain_ramp_ms
        Time a gain change from 0 to 1 takes; also the fade-in at start and the fade-out
        at Stop.
    history_seconds
        Frames ``RealtimeLoop.recent_frames`` returns.
    seed
        Seed of PGHI's random phase of negligible coefficients.
    realtime_scheduling
        Ask for real-time scheduling (SCHED_FIFO, under JACK's and the audio callback's)
        for the loop's thread while the host runs its audio path real-time, where the
        system allows it (``distill.threads``; ``RealtimeLoop._follow_host_scheduling``):
        other programs and training then cannot starve the stream.
    decode_precision
        The loop's own decoder copy: "auto" (bfloat16 where the CPU computes it natively,
        about 2x faster there and under 0.3 dB from float32; see
        ``distill.models.inference``), "float32" or "bfloat16". Offline renders and
        exports always decode in float32.
    """

    lead_ms: float = 120.0
    margin_blocks: float = 1.0
    splice_blend_ms: float = 2.0
    splice_frames: int = 1
    top_up_frames: int = 4
    crossfade_frames: int = 3
    loop_join_frames: int = 4
    gain_ramp_ms: float = 20.0
    history_seconds: float = 2.0
    seed: int = 0
    decode_precision: str = "auto"
    realtime_scheduling: bool = True

    def __post_init__(self) -> None:
        if self.decode_precision not in PRECISIONS:
            raise ValueError(f"decode_precision must be one of {PRECISIONS}, got {self.decode_precision!r}")
        if self.lead_ms <= 0:
            raise ValueError(f"lead_ms must be positive, got {self.lead_ms}")
        if self.splice_blend_ms < 0:
            raise ValueError(f"splice_blend_ms must be >= 0, got {self.splice_blend_ms}")
        if self.margin_blocks < 0:
            raise ValueError(f"margin_blocks must be >= 0, got {self.margin_blocks}")
        for name in ("splice_frames", "top_up_frames", "crossfade_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.loop_join_frames < 0:
            raise ValueError(f"loop_join_frames must be >= 0, got {self.loop_join_frames}")
        if self.gain_ramp_ms <= 0:
            raise ValueError(f"gain_ramp_ms must be positive, got {self.gain_ramp_ms}")
        if self.history_seconds < 0:
            raise ValueError(f"history_seconds must be >= 0, got {self.history_seconds}")
