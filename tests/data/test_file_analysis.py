"""Analysing one file: the samples the cache would hold and their 2-channel spectrogram."""

from __future__ import annotations

import numpy as np
import pytest

from distill.audio import synth
from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data.file_analysis import analyse_file
from distill.errors import AudioFileError
from tests.conftest import write_audio


@pytest.fixture(scope="module")
def transform() -> ComplexSpectrogram:
    return ComplexSpectrogram(ComplexSpectrogramConfig())


def test_a_file_becomes_a_waveform_and_a_spectrogram(tmp_path, transform):
    path = write_audio(tmp_path / "tone.wav", synth.harmonic(220, 1.0))
    analysis = analyse_file(path, transform, max_seconds=None)
    assert analysis.path == path
    assert analysis.waveform.dtype == np.float32 and analysis.waveform.shape == (48_000,)
    spec = analysis.spectrogram
    assert spec.dtype == np.float32 and spec.flags.c_contiguous
    assert spec.shape == (2, transform.config.n_mels, 1 + 48_000 // transform.config.hop_length)
    assert spec[0].min() >= 0 and np.abs(spec[1]).max() <= 1 and spec[0].max() > 0


def test_long_files_are_cut_like_the_cache_cuts_them(tmp_path, transform):
    path = write_audio(tmp_path / "long.flac", synth.harmonic(110, 3.0))
    analysis = analyse_file(path, transform, max_seconds=1.5)
    assert analysis.waveform.shape == (72_000,)
    assert analysis.spectrogram.shape[-1] == 1 + 72_000 // transform.config.hop_length


def test_a_too_short_file_is_refused_with_its_path(tmp_path, transform):
    path = write_audio(tmp_path / "click.wav", np.full(100, 0.5, np.float32))
    with pytest.raises(AudioFileError, match=r"click\.wav"):
        analyse_file(path, transform, max_seconds=None)
