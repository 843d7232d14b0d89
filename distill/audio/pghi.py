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

import numba
import numpy as np
import torch

from distill.audio.config import ComplexSpectrogramConfig

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


@numba.njit(cache=True, nogil=True, inline="always")
def _noise(m, t, seed):
    """Uniform in [-pi, pi) from a splitmix64 hash of (bin, frame, seed)."""
    z = (np.uint64(m) * np.uint64(0x9E3779B97F4A7C15)) ^ (np.uint64(t) * np.uint64(0xC2B2AE3D27D4EB4F))
    z ^= np.uint64(seed) * np.uint64(0x165667B19E3779F9)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0) - 0.5) * 2 * math.pi


@numba.njit(cache=True, nogil=True, inline="always")
def _push(head, link, code_of, nodes, bucket, code):
    """Push ``code`` into ``bucket`` of the queue; returns the new node count."""
    code_of[nodes] = code
    link[nodes] = head[bucket]
    head[bucket] = nodes
    return nodes + 1


@numba.njit(cache=True, nogil=True, inline="always")
def _reach(n, phase, cur, todo, levels, head, link, code_of, nodes, top):
    """Bin ``n`` of this frame gets ``phase`` and joins the queue; returns (nodes, top)."""
    cur[n] = phase
    todo[n] = False
    bucket = levels[n]
    return _push(head, link, code_of, nodes, bucket, n), max(top, bucket)


@numba.njit(cache=True, nogil=True)
def _rtpghi(logmag, freq, level, time_scale, freq_scale, inv_bin_hz, bin_offset, seed, n_buckets, out):
    """Fill ``out`` ``[T, K]`` with wrapped torch-convention phase.

    The arrays hold bins ``[bin_offset, bin_offset + K)`` of the full spectrum.
    ``level[t, m]`` is the queue bucket of a significant coefficient, -1 otherwise.
    """
    n_frames, n_bins = logmag.shape
    work = _workspace(n_bins, n_buckets)
    prev = np.zeros(n_bins, dtype=np.float64)  # unwrapped centred phase of frame t - 1
    cur = np.zeros(n_bins, dtype=np.float64)
    fgrad = np.empty(n_bins, dtype=np.float64)
    for t in range(n_frames):
        before = t - 1 if t > 0 else 0
        after = t + 1 if t + 1 < n_frames else n_frames - 1
        grad_scale = freq_scale / max(after - before, 1)
        for m in range(n_bins):
            fgrad[m] = grad_scale * (logmag[after, m] - logmag[before, m])
        _integrate_frame(t, t > 0, level[max(t - 1, 0)], level[t], freq[max(t - 1, 0)], freq[t], fgrad,
                         prev, cur, time_scale, inv_bin_hz, bin_offset, seed, work)
        _store_frame(cur, prev, bin_offset, out[t])


@numba.njit(cache=True, nogil=True)
def _rtpghi_continue(logmag, freq, prev_logmag, prev_freq, prev, has_prev, first_frame, time_scale,
                     freq_scale, inv_bin_hz, log_tolerance, seed, n_buckets, out, states):
    """Continue the integration for frames ``t0 .. t0 + T`` from the state of frame ``t0 - 1``.

    ``logmag`` ``[T + 1, K]`` holds the T frames and one frame of lookahead (the
    frequency gradient is a centred difference); ``freq`` ``[T, K]``; ``prev_logmag``,
    ``prev_freq``, ``prev`` (unwrapped centred phase, float64) are frame ``t0 - 1``'s.
    Significance is relative to the louder of each frame and its predecessor (a stream
    has no global maximum). Writes wrapped torch-convention phase to ``out`` ``[T, K]``
    and each frame's unwrapped centred phase to ``states`` ``[T, K]``.
    """
    n_frames = freq.shape[0]
    n_bins = logmag.shape[1]
    work = _workspace(n_bins, n_buckets)
    last = prev.copy()
    cur = np.zeros(n_bins, dtype=np.float64)
    fgrad = np.empty(n_bins, dtype=np.float64)
    level_prev = np.empty(n_bins, dtype=np.int32)
    level_cur = np.empty(n_bins, dtype=np.int32)
    width = -log_tolerance / n_buckets
    for t in range(n_frames):
        before = prev_logmag if t == 0 else logmag[t - 1]
        known = has_prev or t > 0
        grad_scale = freq_scale / (2.0 if known else 1.0)
        base = before if known else logmag[t]
        peak = -np.inf
        for m in range(n_bins):
            fgrad[m] = grad_scale * (logmag[t + 1, m] - base[m])
            peak = max(peak, logmag[t, m], before[m] if known else -np.inf)
        threshold = peak + log_tolerance
        for m in range(n_bins):
            level_cur[m] = _level(logmag[t, m], threshold, width, n_buckets)
            level_prev[m] = _level(before[m], threshold, width, n_buckets) if known else -1
        _integrate_frame(first_frame + t, known, level_prev, level_cur, prev_freq if t == 0 else freq[t - 1],
                         freq[t], fgrad, last, cur, time_scale, inv_bin_hz, 0, seed, work)
        _store_frame(cur, last, 0, out[t])
        states[t] = cur


@numba.njit(cache=True, nogil=True, inline="always")
def _level(logmag, threshold, width, n_buckets):
    """Queue bucket of a coefficient (-1: under the tolerance)."""
    if logmag <= threshold:
        return -1
    return min(max(math.floor((logmag - threshold) / width), 0), n_buckets - 1)


@numba.njit(cache=True, nogil=True)
def _store_frame(cur, prev, bin_offset, out):
    """``cur`` -> ``out`` (centred -> torch convention, wrapped); ``prev`` takes ``cur``."""
    two_pi = 2 * math.pi
    inv_two_pi = 1 / two_pi
    for m in range(cur.shape[0]):
        # centred -> torch convention, wrapped in float64 before the float32 store
        # (floor instead of %: numba's float modulo costs several times more).
        value = cur[m] - math.pi * ((m + bin_offset) & 1)
        out[m] = value - two_pi * math.floor(value * inv_two_pi)
        prev[m] = cur[m]


@numba.njit(cache=True, nogil=True)
def _workspace(n_bins, n_buckets):
    """Scratch arrays of one frame's walk: todo, queue (head, link, code_of), island starts."""
    # Island starts: every significant bin of the frame in a second bucket queue, so the
    # loudest unreached bin is found in amortised O(1) instead of a scan.
    return (np.zeros(n_bins, dtype=np.bool_), np.empty(n_buckets, dtype=np.int32),
            np.empty(2 * n_bins, dtype=np.int32), np.empty(2 * n_bins, dtype=np.int32),
            np.empty(n_buckets, dtype=np.int32), np.empty(n_bins, dtype=np.int32))


@numba.njit(cache=True, nogil=True)
def _integrate_frame(t, has_prev, level_prev, level, freq_prev, freq, fgrad, prev, cur, time_scale,
                     inv_bin_hz, bin_offset, seed, work):
    """Integrate frame ``t``: fill ``cur`` (unwrapped centred phase) from ``prev`` and ``fgrad``.

    Queue codes: ``m`` = bin m of this frame (spreads along frequency to m +- 1);
    ``m + K`` = bin m of the previous frame (spreads along time to bin m).
    """
    todo, head, link, code_of, seed_head, seed_link = work
    n_bins = cur.shape[0]
    head[:] = -1
    seed_head[:] = -1
    remaining = 0
    nodes = 0
    top = -1
    seed_top = -1
    for m in range(n_bins):
        if level[m] >= 0:
            todo[m] = True
            remaining += 1
            b = level[m]
            seed_link[m] = seed_head[b]
            seed_head[b] = m
            seed_top = max(seed_top, b)
            if has_prev and level_prev[m] >= 0:
                b = level_prev[m]
                nodes = _push(head, link, code_of, nodes, b, m + n_bins)
                top = max(top, b)
        else:
            todo[m] = False
            cur[m] = _noise(m + bin_offset, t, seed)
    while remaining > 0:
        while top >= 0 and head[top] < 0:
            top -= 1
        if top < 0:
            # A new island (onset, or a region cut off from the previous frame):
            # start at its loudest unreached coefficient with a random phase.
            best = -1
            while best < 0:
                while seed_head[seed_top] < 0:
                    seed_top -= 1
                m = seed_head[seed_top]
                seed_head[seed_top] = seed_link[m]
                if todo[m]:
                    best = m
            nodes, top = _reach(best, _noise(best + bin_offset, t, seed), cur, todo, level,
                                head, link, code_of, nodes, top)
            remaining -= 1
            continue
        node = head[top]
        head[top] = link[node]
        code = code_of[node]
        if code >= n_bins:
            m = code - n_bins
            # Follow the partial: bin m's frequency now points at bin n (n == m for a
            # steady partial; many bins away for a fast glide).
            n = int(freq[m] * inv_bin_hz + 0.5) - bin_offset
            if n < 0 or n >= n_bins or not todo[n]:
                n = m
            if todo[n]:
                phase = prev[m] + 0.5 * time_scale * (freq_prev[m] + freq[n])
                nodes, top = _reach(n, phase, cur, todo, level, head, link, code_of, nodes, top)
                remaining -= 1
            continue
        m = code
        n = m + 1
        if n < n_bins and todo[n]:
            phase = cur[m] + 0.5 * (fgrad[m] + fgrad[n])
            nodes, top = _reach(n, phase, cur, todo, level, head, link, code_of, nodes, top)
            remaining -= 1
        n = m - 1
        if n >= 0 and todo[n]:
            phase = cur[m] - 0.5 * (fgrad[m] + fgrad[n])
            nodes, top = _reach(n, phase, cur, todo, level, head, link, code_of, nodes, top)
            remaining -= 1
