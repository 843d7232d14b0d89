"""Differentiable phase reconstruction from per-bin frequencies: identity phase locking.

Every bin's phase advances by ``2*pi*f*hop/sr`` per frame (trapezoidal cumulative sum,
wrapped per step so long clips keep float32 precision); then, frame by frame, every bin
takes the phase of the magnitude peak whose region it lies in (regions split halfway
between peaks). Locking happens in the centred phase convention, where all bins of a
stationary partial share one phase; the result is returned in torch's convention
(centred - pi * k), which is where a Hann window's "+pi per bin" comes from.
Vectorised, batched and differentiable with respect to the frequencies.
"""

from __future__ import annotations

import math

import torch


def advance_per_frame(freq: torch.Tensor, hop: int, sample_rate: int) -> torch.Tensor:
    """Phase advance per hop, wrapped to [0, 2*pi), for frequencies in Hz."""
    return torch.remainder(freq * (2 * math.pi * hop / sample_rate), 2 * math.pi)


def integrate_phase(freq: torch.Tensor, hop: int, sample_rate: int) -> torch.Tensor:
    """Centred-convention phase ``[B, T, K]`` of every bin, 0 at frame 0 (trapezoid rule)."""
    step = advance_per_frame(freq, hop, sample_rate)
    mean_step = 0.5 * (step[..., 1:, :] + step[..., :-1, :])
    zeros = torch.zeros_like(step[..., :1, :])
    return torch.cat([zeros, torch.cumsum(mean_step, dim=-2)], dim=-2)


def nearest_peak(magnitude: torch.Tensor) -> torch.Tensor:
    """Index ``[B, T, K]`` of the spectral peak whose region each bin belongs to.

    Peaks are local maxima along frequency; each bin goes to the nearer of the peaks on
    its left and right (ties go left).
    """
    mag = magnitude.detach()
    k = mag.shape[-1]
    left = torch.nn.functional.pad(mag[..., :-1], (1, 0), value=-1.0)
    right = torch.nn.functional.pad(mag[..., 1:], (0, 1), value=-1.0)
    is_peak = (mag > left) & (mag >= right)
    idx = torch.arange(k, device=mag.device).expand_as(mag)
    last = torch.where(is_peak, idx, torch.full_like(idx, -1)).cummax(dim=-1).values
    nxt = torch.where(is_peak, idx, torch.full_like(idx, k)).flip(-1).cummin(dim=-1).values.flip(-1)
    use_left = (last >= 0) & ((nxt >= k) | (idx - last <= nxt - idx))
    peak = torch.where(use_left, last, nxt)
    # A frame without any peak (all equal) keeps every bin's own phase.
    return torch.where((peak < 0) | (peak >= k), idx, peak)


def locked_phase(magnitude: torch.Tensor, freq: torch.Tensor, hop: int,
                 sample_rate: int) -> torch.Tensor:
    """Phase ``[B, T, K]`` (torch/librosa convention) for magnitude and per-bin frequency.

    Parameters
    ----------
    magnitude
        ``[B, T, K]`` linear STFT magnitude, frame-major (picks the peaks; no gradient).
    freq
        ``[B, T, K]`` per-bin instantaneous frequency in Hz.
    """
    centred = integrate_phase(freq, hop, sample_rate)
    locked = torch.gather(centred, -1, nearest_peak(magnitude))
    k = torch.arange(magnitude.shape[-1], device=magnitude.device, dtype=locked.dtype)
    return locked - math.pi * k
