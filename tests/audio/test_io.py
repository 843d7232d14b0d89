"""Audio file input/output: decoding, resampling, clear errors, atomic export in every format."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import soundfile as sf

from distill.audio import synth
from distill.audio.io import audio_info, load_audio, save_audio
from distill.constants import SAMPLE_RATE
from distill.errors import AudioFileError
from tests.conftest import write_audio


def test_stereo_44k_file_is_mixed_down_and_resampled(tmp_path):
    left, right = synth.sine(440, 1.0), synth.sine(660, 1.0)
    path = write_audio(tmp_path / "stereo.wav", np.stack([left, right], axis=1)[::1], sr=SAMPLE_RATE)
    assert load_audio(path).shape == (SAMPLE_RATE,)
    t = np.arange(44_100) / 44_100
    path = write_audio(tmp_path / "cd.flac", 0.5 * np.sin(2 * np.pi * 1000 * t).astype(np.float32), sr=44_100)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and abs(len(wave) - SAMPLE_RATE) <= 1
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(wave) - 1000) < 2


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("empty.wav", lambda p: p.write_bytes(b""), "empty"),
    ("notes.wav", lambda p: p.write_text("this is not audio\n" * 20), "not a readable audio file"),
    ("nan.wav", lambda p: sf.write(str(p), np.full(4800, np.nan, np.float32), SAMPLE_RATE,
                                   subtype="FLOAT"), "invalid samples"),
    ("short.wav", lambda p: sf.write(str(p), synth.sine(440, 0.03), SAMPLE_RATE), "too short"),
    ("silent.wav", lambda p: sf.write(str(p), np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE), "silent"),
])
def test_unusable_files_raise_with_path_and_reason(tmp_path, name, make, reason):
    path = tmp_path / name
    make(path)
    with pytest.raises(AudioFileError) as info:
        load_audio(path)
    assert info.value.path == path
    assert reason in info.value.reason
    assert name in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(AudioFileError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_audio_info_reads_the_header(tmp_path):
    path = write_audio(tmp_path / "a.flac", np.zeros((22_050, 2), np.float32), sr=44_100)
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.frames, info.format) == (44_100, 2, 22_050, "FLAC")
    assert info.duration == pytest.approx(0.5)


@pytest.mark.parametrize(("fmt", "subtype", "tolerance"), [
    ("wav", "PCM_16", 1e-4), ("wav", "PCM_24", 1e-6), ("wav", "FLOAT", 0.0),
    ("flac", None, 1e-6), ("ogg", None, None), ("mp3", None, None),
])
def test_save_audio_round_trip(tmp_path, fmt, subtype, tolerance):
    wave = synth.harmonic(330, 1.0)
    path = save_audio(tmp_path / f"out.{fmt}", wave, subtype=subtype)
    back, sr = sf.read(str(path), dtype="float32")
    assert sr == SAMPLE_RATE
    if tolerance is None:  # lossy codecs: same length (give or take codec padding), same content
        assert abs(len(back) - len(wave)) < 3000
        n = min(len(back), len(wave))
        spectrum = np.abs(np.fft.rfft(back[:n]))
        assert abs(np.argmax(spectrum) * SAMPLE_RATE / n - 330) < 2
    else:
        np.testing.assert_allclose(back, wave, atol=tolerance)


def test_save_audio_is_atomic_and_readable_by_others(tmp_path, monkeypatch):
    target = tmp_path / "take.wav"
    save_audio(target, synth.sine(220, 0.5))
    before = target.read_bytes()

    def disk_full_halfway(file, *args, **kwargs):
        file.write(b"RIFF....partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("distill.audio.io.sf.write", disk_full_halfway)
    with pytest.raises(OSError, match="No space"):
        save_audio(target, synth.sine(440, 0.5))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["take.wav"]
    mode = stat.S_IMODE(os.stat(target).st_mode)
    assert mode & stat.S_IROTH


def test_save_audio_refuses_unknown_formats(tmp_path):
    with pytest.raises(AudioFileError, match="unsupported export format"):
        save_audio(tmp_path / "x.xyz", synth.sine(220, 0.1))


def test_save_audio_clips_instead_of_wrapping(tmp_path):
    path = save_audio(tmp_path / "loud.wav", np.full(1000, 3.0, np.float32), subtype="PCM_16")
    back, _ = sf.read(str(path))
    assert back.max() > 0.99 and back.min() > 0
