"""The numba kernel of ``distill.audio.reassign``: one frame range of the magnitude estimate.

The njit function is the one source of this kernel's code: a source checkout JIT-compiles
it (cached on disk), the bundle carries it compiled ahead of time (``distill.audio.kernels``).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _magnitude(dens, position, index, weight, lo, hi, out):
    """Frames ``[lo, hi)`` of ``out`` ``[T, K]`` (zeroed) from ``dens`` [T, M] and ``position`` [T, K]."""
    n_bins = out.shape[1]
    width = index.shape[1]
    for t in range(lo, hi):
        row = out[t]
        for k in range(n_bins):
            acc = np.float32(0.0)
            for j in range(width):
                acc += weight[k, j] * dens[t, index[k, j]]
            power = np.float32(math.exp(acc))
            pos = position[t, k]
            base = math.floor(pos)
            u = np.float32(pos - base)
            u2 = u * u
            u3 = u2 * u
            one = np.float32(1.0) - u
            b = int(base)
            # Cubic B-spline weights over bins b-1 .. b+2 (as ``_reassign``), clamped at the ends.
            row[min(max(b - 1, 0), n_bins - 1)] += power * (one * one * one / 6)
            row[min(max(b, 0), n_bins - 1)] += power * ((3 * u3 - 6 * u2 + 4) / 6)
            row[min(max(b + 1, 0), n_bins - 1)] += power * ((-3 * u3 + 3 * u2 + 3 * u + 1) / 6)
            row[min(max(b + 2, 0), n_bins - 1)] += power * (u3 / 6)
        for k in range(n_bins):
            row[k] = math.sqrt(max(row[k], 1e-30))
