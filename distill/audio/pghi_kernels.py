"""The numba kernels of PGHI (``distill.audio.pghi``): the bucket queue and the per-frame walk.

These njit functions are the one source of the kernels' code. A source checkout
JIT-compiles them once and caches them on disk (``cache=True``); the bundle carries them
compiled ahead of time (``distill.audio.kernels`` chooses, and lists the exported
signatures). Frame-major ``[T, K]`` arrays, float64 phase inside, the centred phase
convention inside and torch's convention out; see ``distill.audio.pghi`` for the method
and the two entries that call these.
"""

from __future__ import annotations

import math

import numba
import numpy as np


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
