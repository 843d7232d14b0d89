"""``distill.audio.io.resample`` (soxr) gives librosa's ``soxr_hq`` result: values, length, dtype."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from distill.audio import synth
from distill.audio.io import resample
from distill.constants import SAMPLE_RATE


@pytest.mark.parametrize("orig_sr", [8_000, 22_050, 44_100, 88_200, 96_000])
@pytest.mark.parametrize("n_samples", [2_047, 44_101, 100_003])
def test_equals_librosa_soxr_hq(orig_sr, n_samples):
    # A chord with a noise burst: content near Nyquist shows a different filter at once.
    wave = np.resize(synth.harmonic(330, 1.0, 16) + 0.3 * synth.noise_burst(1.0, 6000, seed=4), n_samples)
    wave = wave.astype(np.float32)
    expected = librosa.resample(wave, orig_sr=orig_sr, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    got = resample(wave, orig_sr, SAMPLE_RATE)
    assert got.dtype == expected.dtype == np.float32
    assert got.shape == expected.shape == (int(np.ceil(n_samples * SAMPLE_RATE / orig_sr)),)
    np.testing.assert_array_equal(got, expected)


def test_the_same_rate_returns_the_samples():
    wave = synth.sine(440, 0.1).astype(np.float32)
    np.testing.assert_array_equal(resample(wave, SAMPLE_RATE, SAMPLE_RATE), wave)
