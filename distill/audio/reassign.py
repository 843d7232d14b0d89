"""The inverse's magnitude estimate in one compiled pass (listening and export; not differentiable).

``ComplexSpectrogram._magnitude_frames`` in torch takes a dense ``[T, M] @ [M, K]``
product, an ``exp``, four ``scatter_add`` passes over ``[T, K]`` (the cubic B-spline
frequency reassignment) and a square root, each a full pass through memory with its own
temporaries: on 2 threads it was ~45 % of PGHI's whole inverse (``benchmarks/
representation.py``). Here the same arithmetic runs per frame in one loop: the
band-to-bin interpolation uses only each bin's non-zero weights (at most two bands cover
a bin), the reassignment adds straight into the output row. Frames are independent, so
halves of the frame range run in parallel (the kernel releases the GIL). Same values as
the torch path to float32 rounding (tests/audio/test_reassign.py); the differentiable
torch path stays the training loss's. The kernel's code is ``distill.audio.
reassign_kernels``, compiled as ``distill.audio.kernels`` chooses (JIT or ahead of time).
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
import torch

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.kernels import magnitude as _magnitude
from distill.audio.melbank import mel_geometry
from distill.constants import SAMPLE_RATE


def magnitude_frames(log_density: torch.Tensor, freq: torch.Tensor, config: ComplexSpectrogramConfig,
                     sample_rate: int = SAMPLE_RATE, workers: int = 1) -> torch.Tensor:
    """``[B, T, K]`` linear magnitude: interpolate log densities to bins, reassign, square root.

    Parameters
    ----------
    log_density
        ``[B, M, T]`` natural log of each band's energy per bin (energy / filter area).
    freq
        ``[B, T, K]`` per-bin frequency in Hz (where each bin's energy moves).
    config, sample_rate
        Representation settings (the filterbank and bin width).
    workers
        Threads over the frame range (the result does not depend on it).
    """
    from distill.audio.pghi import run_tasks

    index, weight = _band_weights(config, sample_rate)
    dens = log_density.detach().float().cpu().transpose(-1, -2).contiguous().numpy()  # [B, T, M]
    position = (freq.detach().float().cpu() * (config.n_fft / sample_rate)).contiguous().numpy()
    out = np.zeros(position.shape, dtype=np.float32)
    n_frames = out.shape[1]
    parts = max(1, min(workers, n_frames // 16))
    cuts = [round(i * n_frames / parts) for i in range(parts + 1)]
    tasks = [(b, lo, hi) for b in range(out.shape[0]) for lo, hi in itertools.pairwise(cuts)]

    def run(task: tuple[int, int, int]) -> None:
        b, lo, hi = task
        _magnitude(dens[b], position[b], index, weight, lo, hi, out[b])

    run_tasks(run, tasks, workers)
    return torch.from_numpy(out).to(device=freq.device)


@lru_cache(maxsize=8)
def _band_weights(config: ComplexSpectrogramConfig, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``[K, P]`` band indices and weights of the synthesis matrix's non-zeros (P = most per bin)."""
    synthesis = mel_geometry(config, sample_rate).synthesis
    width = int((synthesis > 0).sum(axis=1).max())
    index = np.zeros((synthesis.shape[0], width), dtype=np.int64)
    weight = np.zeros((synthesis.shape[0], width), dtype=np.float32)
    for k, row in enumerate(synthesis):
        bands = np.flatnonzero(row > 0)
        index[k, :len(bands)] = bands
        weight[k, :len(bands)] = row[bands]
    return index, weight
