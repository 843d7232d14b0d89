"""Mel filterbank geometry shared by the forward transform and the inverse.

All matrices are computed once per configuration (cached) in float64 numpy and turned
into torch buffers by ``ComplexSpectrogram``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from distill.constants import SAMPLE_RATE
from distill.training.config import ComplexSpectrogramConfig


@dataclass(frozen=True)
class MelGeometry:
    """Mel filterbank and what the IF channel needs to know about each band.

    Attributes
    ----------
    filters
        ``[M, K]`` Slaney-normalised triangular filters (M mel bands, K = n_fft/2+1 bins).
    synthesis
        ``[K, M]`` interpolation weights from band to bin (rows sum to 1): each bin's log
        energy density is the weighted mean of the log densities of the bands covering it.
    band_area
        ``[M]`` sum of each filter's weights: band energy / area = energy density per bin.
    centres
        ``[M]`` band centre frequencies in Hz.
    if_scale
        ``[M]`` Hz that map to an IF value of +-1: the band's half-width plus one bin.
    bin_freqs
        ``[K]`` centre frequency of every linear bin in Hz.
    """

    filters: np.ndarray
    synthesis: np.ndarray
    band_area: np.ndarray
    centres: np.ndarray
    if_scale: np.ndarray
    bin_freqs: np.ndarray


def mel_geometry(config: ComplexSpectrogramConfig, sample_rate: int = SAMPLE_RATE) -> MelGeometry:
    """The filterbank of ``config`` (cached; the arrays are read-only)."""
    return _mel_geometry(config.n_fft, config.n_mels, sample_rate)


@lru_cache(maxsize=8)
def _mel_geometry(n_fft: int, n_mels: int, sample_rate: int) -> MelGeometry:
    import librosa  # slow import, kept out of module import time

    filters = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=0.0,
                                  fmax=sample_rate / 2, htk=False, norm="slaney",
                                  dtype=np.float64)
    edges = librosa.mel_frequencies(n_mels + 2, fmin=0.0, fmax=sample_rate / 2, htk=False)
    centres = edges[1:-1]
    bin_width = sample_rate / n_fft
    if_scale = (edges[2:] - edges[:-2]) / 2 + bin_width
    band_area = filters.sum(axis=1)
    synthesis = _interpolation_weights(filters)
    bin_freqs = np.arange(n_fft // 2 + 1) * bin_width
    arrays = (filters, synthesis, band_area, centres, if_scale, bin_freqs)
    for a in arrays:
        a.setflags(write=False)
    return MelGeometry(*arrays)


def _interpolation_weights(filters: np.ndarray) -> np.ndarray:
    """``[K, M]``: the filters transposed, rows normalised to sum 1.

    Bins no filter covers (DC and Nyquist lie on the outer edges of the outer triangles)
    borrow the row of the nearest covered bin, so no bin is left without a band.
    """
    weights = filters.T.copy()
    sums = weights.sum(axis=1)
    covered = np.flatnonzero(sums > 0)
    for k in np.flatnonzero(sums <= 0):
        weights[k] = weights[covered[np.argmin(np.abs(covered - k))]]
    return weights / weights.sum(axis=1, keepdims=True)
