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
    pinv
        ``[K, M]`` pseudo-inverse of ``filters`` (mel energy -> linear energy).
    centres
        ``[M]`` band centre frequencies in Hz.
    if_scale
        ``[M]`` Hz that map to an IF value of +-1: the band's half-width plus one bin.
    bin_freqs
        ``[K]`` centre frequency of every linear bin in Hz.
    """

    filters: np.ndarray
    pinv: np.ndarray
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
    pinv = np.linalg.pinv(filters)
    bin_freqs = np.arange(n_fft // 2 + 1) * bin_width
    arrays = (filters, pinv, centres, if_scale, bin_freqs)
    for a in arrays:
        a.setflags(write=False)
    return MelGeometry(*arrays)
