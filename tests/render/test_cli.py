"""``distill generate`` / ``morph`` / ``reconstruct``: files of the requested length and format,
and user errors as one message with exit status 2."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from distill.audio.io import load_audio
from distill.cli import main

from ..conftest import write_audio
from .conftest import tone


def frames(path) -> int:
    return sf.info(str(path)).frames


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg", "mp3"])
def test_generate_formats_and_duration(tmp_path, tone_model, fmt, capsys):
    out = tmp_path / f"gen.{fmt}"
    assert main(["generate", str(tone_model.path), "-o", str(out), "--duration", "0.75"]) == 0
    info = sf.info(str(out))
    assert info.samplerate == 48_000 and info.channels == 1
    assert info.format == {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}[fmt]
    assert info.frames == 36_000
    assert f"wrote {out}" in capsys.readouterr().out


def test_generate_format_option_and_seed(tmp_path, tone_model):
    base = ["generate", str(tone_model.path), "--duration", "0.3", "--format", "flac"]
    assert main([*base, "-o", str(tmp_path / "a"), "--seed", "3"]) == 0
    assert main([*base, "-o", str(tmp_path / "b"), "--seed", "3"]) == 0
    a, b = sf.read(str(tmp_path / "a.flac"))[0], sf.read(str(tmp_path / "b.flac"))[0]
    assert a.shape == (14_400,) and np.array_equal(a, b)


def test_generate_with_axes(tmp_path, tone_model):
    labels = [a.label for a in tone_model.analysis.axes]
    out_low, out_high = tmp_path / "low.wav", tmp_path / "high.wav"
    common = ["generate", str(tone_model.path), "--duration", "0.5", "--variation", "0"]
    assert main([*common, "-o", str(out_low), "--axis", f"{labels[0]}=0", "--axis", "2=0.5"]) == 0
    assert main([*common, "-o", str(out_high), "--axis", f"{labels[0].lower()}=1"]) == 0
    low, high = sf.read(str(out_low))[0], sf.read(str(out_high))[0]
    assert low.shape == high.shape == (24_000,) and not np.allclose(low, high, atol=1e-3)


@pytest.mark.parametrize("args,message", [
    (["--axis", "Warmth=0.5"], "unknown axis 'Warmth'; the axes are 1 "),
    (["--axis", "1=loud"], "is not a number"),
    (["--axis", "1=9"], "is not a number from -0.5 to 1.5"),
    (["--axis", "Brightness"], "expected NAME=POSITION"),
    (["--variation", "-1"], "--variation must be"),
])
def test_generate_axis_errors(tmp_path, tone_model, capsys, args, message):
    code = main(["generate", str(tone_model.path), "-o", str(tmp_path / "x.wav"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_generate_needs_an_analysis_for_axes(tmp_path, tone_model, capsys):
    code = main(["generate", str(tone_model.plain_path), "-o", str(tmp_path / "x.wav"), "--axis", "1=0.5"])
    assert code == 2 and "without latent analysis" in capsys.readouterr().err
    # Without --axis the same model generates fine.
    assert main(["generate", str(tone_model.plain_path), "-o", str(tmp_path / "x.wav"),
                 "--duration", "0.2"]) == 0


def test_missing_or_bad_model(tmp_path, capsys):
    assert main(["generate", str(tmp_path / "nope.distill"), "-o", str(tmp_path / "x.wav")]) == 2
    assert "nope.distill" in capsys.readouterr().err
    fake = tmp_path / "fake.distill"
    fake.write_bytes((write_audio(tmp_path / "t.wav", tone(220, 1.0))).read_bytes())
    assert main(["generate", str(fake), "-o", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err
    assert "fake.distill" in err and "Traceback" not in err


def test_morph(tmp_path, tone_model, capsys):
    out = tmp_path / "morph.ogg"
    a, b = tone_model.folder / "tone_220_0.5.wav", tone_model.folder / "tone_330_3.0.wav"
    assert main(["morph", str(tone_model.path), str(a), str(b), "-o", str(out), "--duration", "1.25"]) == 0
    assert frames(out) == 60_000 and sf.info(str(out)).format == "OGG"
    assert main(["morph", str(tone_model.path), str(a), str(b), "-o", str(tmp_path / "m"),
                 "--format", "mp3", "--duration", "0.5"]) == 0
    assert frames(tmp_path / "m.mp3") == 24_000
    capsys.readouterr()
    assert main(["morph", str(tone_model.path), str(a), str(tmp_path / "missing.wav"), "-o", str(out)]) == 2
    assert "missing.wav: file not found" in capsys.readouterr().err
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 50)
    assert main(["morph", str(tone_model.path), str(text), str(b), "-o", str(out)]) == 2
    assert "not a readable audio file" in capsys.readouterr().err


def test_reconstruct_without_and_with_a_model(tmp_path, tone_model):
    source = write_audio(tmp_path / "in.wav", tone(330, 1.5, duration=0.9))
    length = load_audio(source).shape[0]
    assert main(["reconstruct", str(source), "-o", str(tmp_path / "repr.flac")]) == 0
    assert frames(tmp_path / "repr.flac") == length
    assert main(["reconstruct", str(tone_model.path), str(source), "-o", str(tmp_path / "model.wav")]) == 0
    assert frames(tmp_path / "model.wav") == length
    resampled = write_audio(tmp_path / "in_24k.wav", tone(330, 1.5, duration=0.5)[::2], sr=24_000)
    assert main(["reconstruct", str(resampled), "-o", str(tmp_path / "r.wav")]) == 0
    assert frames(tmp_path / "r.wav") == 24_000  # at the project's rate


def test_reconstruct_errors(tmp_path, tone_model, capsys):
    source = write_audio(tmp_path / "in.wav", tone(330, 1.5))
    three = [str(tone_model.path), str(source), str(source)]
    assert main(["reconstruct", *three, "-o", str(tmp_path / "x")]) == 2
    assert "expected [MODEL] IN" in capsys.readouterr().err
    assert main(["reconstruct", str(tmp_path / "gone.distill"), str(source), "-o", str(tmp_path / "x")]) == 2
    assert "gone.distill" in capsys.readouterr().err
    assert main(["reconstruct", str(tmp_path / "gone.wav"), "-o", str(tmp_path / "x")]) == 2
    assert "gone.wav: file not found" in capsys.readouterr().err
    assert main(["reconstruct", str(source), "-o", str(tmp_path / "x.wav"), "--format", "flac"]) == 2
    assert "extension says wav" in capsys.readouterr().err
