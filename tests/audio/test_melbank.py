"""The mel filterbank equals librosa's (Slaney) without importing it on the hot path."""

import subprocess
import sys

import librosa
import numpy as np
import pytest

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.melbank import mel_geometry


@pytest.mark.parametrize(("n_fft", "n_mels"), [(2048, 128), (1024, 64), (4096, 160)])
def test_filters_equal_librosa(n_fft, n_mels):
    geo = mel_geometry(ComplexSpectrogramConfig(n_fft=n_fft, n_mels=n_mels))
    ref = librosa.filters.mel(sr=48_000, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=24_000.0,
                              htk=False, norm="slaney", dtype=np.float64)
    np.testing.assert_allclose(geo.filters, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(geo.centres, librosa.mel_frequencies(n_mels + 2, fmin=0, fmax=24_000)[1:-1])


def test_synthesis_rows_cover_every_bin():
    geo = mel_geometry(ComplexSpectrogramConfig())
    np.testing.assert_allclose(geo.synthesis.sum(axis=1), 1.0)
    assert (geo.band_area > 0).all()


def test_representation_does_not_import_librosa():
    code = ("import torch, sys; from distill.audio.spectrogram import ComplexSpectrogram;"
            "cs = ComplexSpectrogram(); x = torch.randn(1, 1, 4800);"
            "cs.complex_mel_to_waveform(cs.waveform_to_complex_mel(x), phase='pghi');"
            "print('librosa' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
