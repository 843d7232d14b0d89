"""Output path and format rules, and what ``export_audio`` writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from distill.errors import AudioFileError
from distill.render import export_audio, output_path


@pytest.mark.parametrize("name,fmt,expected", [
    ("take.flac", None, ("take.flac", "flac")),
    ("take.WAV", None, ("take.WAV", "wav")),
    ("take.wave", "wav", ("take.wave", "wav")),
    ("take", None, ("take.wav", "wav")),
    ("take", "mp3", ("take.mp3", "mp3")),
    ("take.ogg", "ogg", ("take.ogg", "ogg")),
])
def test_output_path(name, fmt, expected):
    path, chosen = output_path(Path("out") / name, fmt)
    assert (path.name, chosen) == expected


def test_contradictions_are_refused():
    with pytest.raises(AudioFileError, match="extension says wav"):
        output_path("take.wav", "flac")
    with pytest.raises(AudioFileError, match="unsupported export format"):
        output_path("take", "aiff")


def test_export_writes_the_samples(tmp_path):
    wave = (0.5 * np.sin(np.arange(4800) * 0.1)).astype(np.float32)
    path = export_audio(tmp_path / "sub" / "x", wave, "flac", make_parents=True)
    assert path == tmp_path / "sub" / "x.flac"
    data, sr = sf.read(str(path), dtype="float32")
    assert sr == 48_000 and np.allclose(data, wave, atol=1e-6)
