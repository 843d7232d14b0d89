"""Mel filterbank geometry shared by the forward transform and the inverse.

All matrices are computed once per configuration (cached) in float64 numpy and turned
into torch buffers by ``ComplexSpectrogram``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from distill.audio.config import ComplexSpectrogramConfig
from distill.constants import SAMPLE_RATE


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
    edges = mel_frequencies(n_mels + 2, 0.0, sample_rate / 2)
    filters = mel_filters(sample_rate, n_fft, edges)
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


# Slaney's mel scale (Auditory Toolbox; librosa's default): linear below 1 kHz, log above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = _F_SP * mel
    log = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mel - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log, linear)


def mel_frequencies(n: int, fmin: float, fmax: float) -> np.ndarray:
    """``n`` frequencies (Hz) evenly spaced on the Slaney mel scale from fmin to fmax."""
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n))


def mel_filters(sample_rate: int, n_fft: int, edges: np.ndarray) -> np.ndarray:
    """``[M, K]`` triangular filters between consecutive ``edges``, Slaney area-normalised.

    Equal to ``librosa.filters.mel(norm="slaney", htk=False)`` (tested), without
    importing librosa (and numba) on the representation's path.
    """
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    filters = np.maximum(0.0, np.minimum(lower, upper))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[:, None]


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
