"""The streaming entry of RTPGHI: the phase carries on across calls."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.pghi import pghi_continue, pghi_phase
from distill.audio.spectrogram import ComplexSpectrogram

CONFIG = ComplexSpectrogramConfig()
SR = 48_000


def random_frames(n_frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    bins = CONFIG.n_fft // 2 + 1
    logmag = np.log(rng.random((n_frames + 1, bins)) ** 4 + 1e-9).astype(np.float32)
    freq = (np.arange(bins) * SR / CONFIG.n_fft + rng.normal(0, 5, (n_frames, bins))).astype(np.float32)
    return logmag, freq


@pytest.mark.parametrize("cut", [1, 7, 20])
def test_chunked_integration_equals_one_call(cut):
    logmag, freq = random_frames(30)
    whole, states = pghi_continue(logmag, freq, None, CONFIG, SR, seed=3)
    first, first_states = pghi_continue(logmag[:cut + 1], freq[:cut], None, CONFIG, SR, seed=3)
    rest, _ = pghi_continue(logmag[cut:], freq[cut:], first_states[-1], CONFIG, SR, seed=3)
    np.testing.assert_array_equal(whole, np.concatenate([first, rest]))
    assert [s.frame for s in states] == list(range(30))


def test_a_steady_partial_advances_by_its_frequency_every_frame():
    # A sine through the real forward transform; the continued phase of its peak bin must
    # advance by 2*pi*f*hop/sr per frame, across the call boundary too.
    f0 = 1000.0
    t = np.arange(SR // 2) / SR
    wave = torch.from_numpy(0.5 * np.sin(2 * np.pi * f0 * t)).float()[None, None]
    transform = ComplexSpectrogram(CONFIG)
    spec = transform.waveform_to_complex_mel(wave)
    freq = transform._frequency_frames(spec)[0].numpy()
    mag = transform._magnitude_frames(spec, transform._frequency_frames(spec))[0].numpy()
    logmag = np.log(np.maximum(mag, 1e-30))
    n = 20
    a, sa = pghi_continue(logmag[5:5 + n // 2 + 1], freq[5:5 + n // 2], None, CONFIG, SR)
    b, sb = pghi_continue(logmag[5 + n // 2:5 + n + 1], freq[5 + n // 2:5 + n], sa[-1], CONFIG, SR)
    peak = int(np.argmax(mag[10]))
    phases = np.array([s.phase[peak] for s in sa + sb])
    expected = 2 * np.pi * freq[5:5 + n, peak].astype(np.float64) * CONFIG.hop_length / SR
    step = np.diff(phases) - 0.5 * (expected[:-1] + expected[1:])
    assert np.abs(np.angle(np.exp(1j * step))).max() < 1e-3
    assert a.shape == b.shape == (n // 2, CONFIG.n_fft // 2 + 1)
    assert np.all((a >= 0) & (a < 2 * math.pi))


def test_logmag_needs_one_frame_of_lookahead():
    logmag, freq = random_frames(4)
    with pytest.raises(ValueError, match="logmag"):
        pghi_continue(logmag[:-1], freq, None, CONFIG, SR)


def test_the_batch_integration_is_unchanged_by_the_streaming_entry():
    # The batch path still integrates a whole spectrogram at once from the loudest point:
    # a steady partial keeps one phase track (consecutive frames advance by its frequency).
    mag = torch.zeros(1, 12, CONFIG.n_fft // 2 + 1)
    mag[:, :, 40:45] = torch.tensor([0.1, 0.5, 1.0, 0.5, 0.1])
    bin_hz = SR / CONFIG.n_fft
    freq = torch.full_like(mag, 42 * bin_hz)
    phase = pghi_phase(mag, freq, CONFIG, SR)[0, :, 42].double().numpy()
    advance = 2 * np.pi * 42 * bin_hz * CONFIG.hop_length / SR
    step = np.angle(np.exp(1j * (np.diff(phase) - advance)))
    assert np.abs(step).max() < 1e-4
