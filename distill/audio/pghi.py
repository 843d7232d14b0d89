"""Phase-gradient heap integration (PGHI, Průša et al. 2017), frame by frame (RTPGHI).

The time-direction phase derivative comes from OUR IF channel (``2*pi*f*hop/sr`` per
frame); the frequency-direction derivative from the time gradient of the log magnitude,
``-(gamma / (hop * n_fft)) * d log|S| / dt`` with ``gamma = 0.25645 * n_fft**2`` for a
Hann window. Within each frame, phase spreads outward from the loudest coefficients: a
priority queue holds the previous frame's coefficients (integrated along time) and the
current frame's (integrated along frequency to their neighbours). Coefficients under a
tolerance get a seeded pseudo-random phase. Centred phase convention inside; torch's out.

The queue is a bucket queue over the log magnitude (``N_BUCKETS`` levels between the
tolerance and the loudest coefficient): O(1) per push/pop instead of a binary heap's
O(log n); measured ~5x faster with the same quality (within seed noise). Arrays are
frame-major ``[T, K]`` so the walk along frequency stays in cache. Sequential, so it
runs in numba on the CPU (compiled once, cached on disk). Not differentiable: training
uses ``distill.audio.phase.locked_phase``.

Two entries share the per-frame walk (``_integrate_frame``): ``pghi_phase`` integrates a
whole spectrogram (significance relative to its loudest coefficient), ``pghi_continue``
continues a stream frame by frame from the previous frame's state (``PghiState``), so the
real-time synthesizer's phase carries on across renders.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.kernels import rtpghi as _rtpghi
from distill.audio.kernels import rtpghi_continue as _rtpghi_continue

T = TypeVar("T")

#: Equivalent-Gaussian time-frequency ratio of a Hann window, times n_fft**2.
HANN_GAMMA = 0.25645
#: Coefficients this far below the loudest (magnitude ratio) get random phase.
TOLERANCE = 1e-5
#: Priority levels of the bucket queue between the tolerance and the loudest coefficient.
N_BUCKETS = 512
#: Frequency ranges walked independently (in parallel when threads allow).
PARALLEL_BANDS = 2


def pghi_phase(magnitude: torch.Tensor, freq: torch.Tensor, config: ComplexSpectrogramConfig,
               sample_rate: int, seed: int = 0, tolerance: float = TOLERANCE) -> torch.Tensor:
    """Phase ``[B, T, K]`` (torch convention, wrapped) by phase-gradient integration.

    Parameters
    ----------
    magnitude
        ``[B, T, K]`` linear STFT magnitude, frame-major.
    freq
        ``[B, T, K]`` per-bin instantaneous frequency in Hz (from the IF channel).
    config
        Representation settings (``n_fft``, ``hop_length``).
    seed
        Seed of the random phase of negligible coefficients (reproducible renders).
    tolerance
        Magnitude ratio to the loudest coefficient under which phase is random.
    """
    hop, n_fft = config.hop_length, config.n_fft
    logmag = torch.log(magnitude.detach().float().clamp_min(1e-30))
    threshold = logmag.amax(dim=(-1, -2), keepdim=True) + math.log(tolerance)
    width = -math.log(tolerance) / N_BUCKETS
    level = ((logmag - threshold) / width).floor().clamp(0, N_BUCKETS - 1).to(torch.int32)
    level = torch.where(logmag > threshold, level, -1)
    logmag_np = logmag.cpu().contiguous().numpy()
    level_np = level.cpu().contiguous().numpy()
    freq_np = freq.detach().float().cpu().contiguous().numpy()
    scales = (2 * math.pi * hop / sample_rate, -HANN_GAMMA * n_fft / hop, n_fft / sample_rate)
    out = np.empty(logmag_np.shape, dtype=np.float32)
    # The split is fixed (not the thread count) so a render is the same on any machine;
    # the two ranges run in parallel when torch may use more than one thread.
    tasks = [(b, lo, hi) for b in range(out.shape[0])
             for lo, hi in _bands(logmag_np[b], level_np[b], PARALLEL_BANDS)]

    def run(task: tuple[int, int, int]) -> None:
        b, lo, hi = task
        part = np.empty((out.shape[1], hi - lo), dtype=np.float32)
        _rtpghi(np.ascontiguousarray(logmag_np[b, :, lo:hi]), np.ascontiguousarray(freq_np[b, :, lo:hi]),
                np.ascontiguousarray(level_np[b, :, lo:hi]), *scales, lo, seed + b, N_BUCKETS, part)
        out[b, :, lo:hi] = part

    run_tasks(run, tasks, torch.get_num_threads())
    return torch.from_numpy(out).to(device=magnitude.device, dtype=magnitude.dtype)


def run_tasks(fn: Callable[[T], object], tasks: list[T], workers: int) -> None:
    """``fn`` over ``tasks``: on a shared pool of ``workers`` threads when more than one
    (numba kernels release the GIL), else in the calling thread."""
    workers = min(workers, len(tasks))
    if workers > 1:
        list(_pool(workers).map(fn, tasks))
    else:
        for task in tasks:
            fn(task)


@dataclass(frozen=True, eq=False)
class PghiState:
    """Where a frame-by-frame integration stands after one frame (a snapshot; never mutated).

    Attributes
    ----------
    phase
        ``[K]`` float64 unwrapped centred phase of the frame.
    logmag
        ``[K]`` float32 natural log of its linear magnitude.
    freq
        ``[K]`` float32 per-bin instantaneous frequency in Hz.
    frame
        Index of the frame (seeds the random phase of the next ones).
    """

    phase: np.ndarray
    logmag: np.ndarray
    freq: np.ndarray
    frame: int


def pghi_continue(logmag: np.ndarray, freq: np.ndarray, state: PghiState | None,
                  config: ComplexSpectrogramConfig, sample_rate: int, seed: int = 0,
                  tolerance: float = TOLERANCE) -> tuple[np.ndarray, list[PghiState]]:
    """Continue a frame-by-frame integration: the streaming entry of RTPGHI.

    Integrating ``T`` frames in one call or in several calls, each seeded with the last
    state of the one before, gives the same phases: a stream's phase carries on across
    renders. Thread: any (one integration at a time per caller; numba releases the GIL).

    Parameters
    ----------
    logmag
        ``[T + 1, K]`` natural log of the linear magnitude of the T frames to integrate
        plus one frame of lookahead (the frequency derivative is a centred difference).
    freq
        ``[T, K]`` per-bin instantaneous frequency in Hz.
    state
        The state after the frame before these (None: the stream starts here).
    config, sample_rate
        Representation settings.
    seed
        Seed of the random phase of negligible coefficients (hashed with the frame index).
    tolerance
        Magnitude ratio to the louder of a frame and its predecessor under which phase
        is random.

    Returns
    -------
    phase
        ``[T, K]`` float32 wrapped phase, torch convention (``torch.polar`` takes it).
    states
        The state after each of the T frames.
    """
    hop, n_fft = config.hop_length, config.n_fft
    logmag = np.ascontiguousarray(logmag, dtype=np.float32)
    freq = np.ascontiguousarray(freq, dtype=np.float32)
    n_frames, n_bins = freq.shape
    if logmag.shape != (n_frames + 1, n_bins):
        raise ValueError(f"expected logmag [{n_frames + 1}, {n_bins}], got {list(logmag.shape)}")
    first = 0 if state is None else state.frame + 1
    if state is None:
        prev, prev_logmag, prev_freq = np.zeros(n_bins), logmag[0], freq[0]
    else:
        prev, prev_logmag, prev_freq = state.phase, state.logmag, state.freq
    out = np.empty((n_frames, n_bins), dtype=np.float32)
    states = np.empty((n_frames, n_bins), dtype=np.float64)
    scales = (2 * math.pi * hop / sample_rate, -HANN_GAMMA * n_fft / hop, n_fft / sample_rate)
    _rtpghi_continue(logmag, freq, np.ascontiguousarray(prev_logmag, dtype=np.float32),
                     np.ascontiguousarray(prev_freq, dtype=np.float32),
                     np.ascontiguousarray(prev, dtype=np.float64), state is not None, first, *scales,
                     math.log(tolerance), seed, N_BUCKETS, out, states)
    return out, [PghiState(states[t], logmag[t], freq[t], first + t) for t in range(n_frames)]


def _bands(logmag: np.ndarray, level: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Split the bins ``[0, K)`` into ``parts`` ranges of similar work, cut at quiet bins.

    The walk is sequential inside a frame, but two frequency ranges can be walked in
    parallel: a cut only starts a new island, and cutting at the quietest bin near the
    balance point keeps partials whole.
    """
    n_bins = logmag.shape[1]
    if parts < 2 or n_bins < 64:
        return [(0, n_bins)]
    work = np.cumsum((level >= 0).sum(axis=0))
    loudness = logmag.max(axis=0)
    cuts = [0]
    for i in range(1, parts):
        balance = int(np.searchsorted(work, work[-1] * i / parts))
        lo, hi = max(cuts[-1] + 8, balance - 16), min(n_bins - 8, balance + 16)
        if lo >= hi:
            continue
        cuts.append(lo + int(np.argmin(loudness[lo:hi])))
    cuts.append(n_bins)
    return list(itertools.pairwise(cuts))


_POOL: ThreadPoolExecutor | None = None


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None or _POOL._max_workers != workers:
        _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pghi")
    return _POOL
