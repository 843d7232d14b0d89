"""The numba magnitude estimate equals the differentiable torch one (``distill.audio.reassign``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distill.audio import synth
from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.reassign import magnitude_frames
from distill.audio.spectrogram import ComplexSpectrogram


@pytest.fixture(scope="module")
def cs() -> ComplexSpectrogram:
    return ComplexSpectrogram()


def signals() -> torch.Tensor:
    """``[3, 1, S]``: a harmonic tone, a glide (reassignment far from the bin) and a drum."""
    n = 48_000
    waves = [synth.harmonic(220, 1.0, 16), synth.chirp(100, 8000, 1.0), synth.drum()]
    return torch.stack([torch.tensor(np.resize(w, n), dtype=torch.float32) for w in waves])[:, None]


@pytest.mark.parametrize("workers", [1, 2])
def test_same_values_as_the_torch_path(cs, workers):
    spec = cs.waveform_to_complex_mel(signals())
    freq = cs._frequency_frames(spec)
    expected = cs._magnitude_frames(spec, freq)
    got = magnitude_frames(cs._log_density(spec), freq, cs.config, cs.sample_rate, workers=workers)
    assert got.shape == expected.shape == (3, spec.shape[-1], cs.n_bins)
    torch.testing.assert_close(got, expected, rtol=2e-4, atol=1e-7)


def test_a_random_spectrogram_with_glides_off_the_ends(cs):
    # IF at the extremes moves energy past bin 0 and past Nyquist: the clamped edges.
    gen = torch.Generator().manual_seed(0)
    spec = torch.stack([torch.rand(2, 128, 40, generator=gen) * 30,
                        (torch.rand(2, 128, 40, generator=gen) * 2 - 1).sign()], dim=1)  # [2, 2, M, T]
    freq = cs._frequency_frames(spec)
    torch.testing.assert_close(magnitude_frames(cs._log_density(spec), freq, cs.config, cs.sample_rate),
                               cs._magnitude_frames(spec, freq), rtol=2e-4, atol=1e-7)


def test_gradients_still_use_the_torch_path(cs):
    spec = cs.waveform_to_complex_mel(signals()[:1]).requires_grad_(True)
    wave = cs.complex_mel_to_waveform(spec, phase="pghi")
    wave.square().sum().backward()
    assert spec.grad is not None and torch.isfinite(spec.grad).all()


def test_another_filterbank():
    small = ComplexSpectrogram(ComplexSpectrogramConfig(n_fft=256, hop_length=64, n_mels=32))
    spec = small.waveform_to_complex_mel(signals()[:, :, :8000])
    freq = small._frequency_frames(spec)
    got = magnitude_frames(small._log_density(spec), freq, small.config, small.sample_rate)
    torch.testing.assert_close(got, small._magnitude_frames(spec, freq), rtol=2e-4, atol=1e-7)
