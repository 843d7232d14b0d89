"""Objective reconstruction quality, shared by tests and benchmarks.

Both measures compare the STFT magnitudes of a reference and an estimate at several
resolutions (FFT 512/1024/2048, hop = FFT/4, Hann) and average over resolutions:

- log-magnitude L1: mean ``|log10(|S| + 1e-7) - log10(|S^| + 1e-7)|``;
- spectral convergence: ``|| |S| - |S^| ||_F / || |S| ||_F``.
"""

from __future__ import annotations

import numpy as np
import torch

RESOLUTIONS = (512, 1024, 2048)
LOG_FLOOR = 1e-7


def _magnitudes(wave: np.ndarray | torch.Tensor, n_fft: int) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32)).reshape(-1)
    window = torch.hann_window(n_fft)
    return torch.stft(x, n_fft, n_fft // 4, window=window, center=True, return_complex=True).abs()


def _aligned(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float32).reshape(-1)
    est = np.asarray(estimate, dtype=np.float32).reshape(-1)
    n = min(ref.shape[0], est.shape[0])
    return ref[:n], est[:n]


def log_magnitude_l1(reference, estimate, resolutions=RESOLUTIONS) -> float:
    """Multi-resolution log10-magnitude L1 distance (0 = identical magnitudes)."""
    ref, est = _aligned(reference, estimate)
    values = []
    for n_fft in resolutions:
        a, b = _magnitudes(ref, n_fft), _magnitudes(est, n_fft)
        values.append(float((torch.log10(a + LOG_FLOOR) - torch.log10(b + LOG_FLOOR)).abs().mean()))
    return float(np.mean(values))


def spectral_convergence(reference, estimate, resolutions=RESOLUTIONS) -> float:
    """Multi-resolution spectral convergence (0 = identical magnitudes)."""
    ref, est = _aligned(reference, estimate)
    values = []
    for n_fft in resolutions:
        a, b = _magnitudes(ref, n_fft), _magnitudes(est, n_fft)
        values.append(float(torch.linalg.norm(a - b) / torch.linalg.norm(a).clamp_min(1e-12)))
    return float(np.mean(values))
