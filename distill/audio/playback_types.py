"""What the playback engine hands out: prepared sounds and telemetry snapshots.

Both are immutable, so a caller's thread and the audio callback can share them by
reference (``distill.audio.playback``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sound:
    """An immutable, prepared sound: the unit handed from a caller to the callback."""

    data: np.ndarray  # [N] float32, edges ramped (one-shot) or seam crossfaded (loop)
    loop: bool
    requested_at: float  # time.perf_counter() when the user asked for it


@dataclass(frozen=True)
class Telemetry:
    """A snapshot of the engine's counters (safe to read from any thread).

    Latencies are control-to-sound: from the time stamp of the event that asked for a
    sound to its first sample at the DAC, in ms (None before the first one).
    """

    running: bool
    playing: bool
    underruns: int  # the device's, while something was audible (in silence none is heard)
    blocks: int
    peak: float  # decaying peak of the output (falls by 1/e in ``PEAK_DECAY_S``)
    latency_ms: float | None  # the latest
    device: str | None
    rms: float = 0.0  # RMS of the output over ~``RMS_WINDOW_S``
    dropouts: int = 0  # blocks the stream was meant to play but its ring ran dry
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_max_ms: float | None = None
    latency_count: int = 0
