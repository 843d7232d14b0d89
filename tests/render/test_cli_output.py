"""Where generate/reconstruct write: paths taken as given, and write failures (unwritable
folder, a path under a file, a full disk) as one line and exit 2, checked BEFORE the
render, with any file already there left byte-identical."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from distill import fileio
from distill.cli import main
from distill.constants import SAMPLE_RATE
from distill.errors import AudioFileError
from distill.render import Renderer, export_audio
from distill.render.export import EXPORT_CHOICES, check_output

from ..conftest import write_audio
from .conftest import tone


@pytest.fixture
def unwritable_folder(tmp_path) -> Path:
    """A folder this process may not write to (chmod, or /sys when running as root)."""
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    try:
        with tempfile.TemporaryFile(dir="/sys"):
            pass
    except PermissionError:
        yield Path("/sys")
        return
    pytest.skip("no unwritable folder available to root here")


@pytest.fixture
def render_counter(monkeypatch):
    """Counts renders, to prove a bad output fails before any."""
    calls = []
    for name in ("generate", "reconstruct"):
        original = getattr(Renderer, name)

        def counted(self, *args, _original=original, **kwargs):
            calls.append(1)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Renderer, name, counted)
    return calls


def _generate(tone_model, out, *extra):
    return main(["generate", str(tone_model.path), "-o", str(out), "--duration", "0.2", *extra])


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def test_unwritable_folder_fails_before_rendering(tone_model, unwritable_folder, render_counter, capsys):
    assert _generate(tone_model, unwritable_folder / "x.wav") == 2
    _one_line_error(capsys, "cannot write to", "no permission")
    assert render_counter == []


def test_a_path_under_a_file(tmp_path, tone_model, render_counter, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file")
    assert _generate(tone_model, blocker / "x.wav") == 2
    _one_line_error(capsys, "notes.txt is a file, not a folder")
    assert _generate(tone_model, blocker / "deeper" / "x.wav", "--mkdir") == 2
    _one_line_error(capsys, "is a file, not a folder")
    assert render_counter == [] and blocker.read_text() == "a file"


def _full_disk(monkeypatch):
    """Every atomic write goes to /dev/full: the kernel's own ENOSPC, on a real write."""
    real_fdopen = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        os.close(fd)
        return real_fdopen(os.open("/dev/full", os.O_WRONLY), mode, *args, **kwargs)

    monkeypatch.setattr(fileio.os, "fdopen", fdopen)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["generate", "reconstruct"])
def test_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path, tone_model, monkeypatch, capsys, command):
    out = tmp_path / "x.wav"
    old = write_audio(out, tone(220, 1.0, duration=0.2))
    before = old.read_bytes()
    source = write_audio(tmp_path / "in.wav", tone(330, 1.5, duration=0.3))
    _full_disk(monkeypatch)
    args = (["generate", str(tone_model.path), "--duration", "0.2"] if command == "generate"
            else ["reconstruct", str(tone_model.path), str(source)])
    assert main([*args, "-o", str(out)]) == 2
    _one_line_error(capsys, "x.wav: could not write the file: the disk is full")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "x.wav"]  # no .part left


def test_export_audio_full_disk_raises_audio_file_error(tmp_path, monkeypatch):
    _full_disk(monkeypatch)
    with pytest.raises(AudioFileError, match="the disk is full") as info:
        export_audio(tmp_path / "y.flac", np.zeros(4800, np.float32))
    assert info.value.path == tmp_path / "y.flac" and not list(tmp_path.iterdir())


# ---------------------------------------------------------------- item 5: paths as given
def test_a_missing_folder_is_an_error_unless_mkdir(tmp_path, tone_model, render_counter, capsys):
    out = tmp_path / "new" / "dir" / "x.wav"
    assert _generate(tone_model, out) == 2
    _one_line_error(capsys, "does not exist", "--mkdir")
    assert not (tmp_path / "new").exists() and render_counter == []
    assert _generate(tone_model, out, "--mkdir") == 0
    assert sf.info(str(out)).frames == round(0.2 * SAMPLE_RATE)


def test_an_unknown_extension_lists_the_formats(tmp_path, tone_model, render_counter, capsys):
    assert _generate(tone_model, tmp_path / "x.xyz") == 2
    _one_line_error(capsys, "unknown audio extension .xyz", "wav, flac, ogg, mp3")
    assert not list(tmp_path.iterdir()) and render_counter == []


def test_a_folder_as_output_is_an_error(tmp_path, tone_model, render_counter, capsys):
    folder = tmp_path / "takes"
    folder.mkdir()
    assert _generate(tone_model, folder) == 2
    _one_line_error(capsys, "is a folder")
    assert sorted(tmp_path.iterdir()) == [folder] and not list(folder.iterdir())
    assert render_counter == []


def test_no_extension_still_takes_the_format(tmp_path):
    assert check_output(tmp_path / "take", "flac") == (tmp_path / "take.flac", "flac")
    assert check_output(tmp_path / "take") == (tmp_path / "take.wav", "wav")


@pytest.mark.parametrize("choice", sorted(EXPORT_CHOICES))
def test_every_export_choice_writes_and_reads_back(tmp_path, choice):
    fmt, subtype, label = EXPORT_CHOICES[choice]
    seconds = 0.75
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    wave = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = export_audio(tmp_path / f"take-{choice}", wave, fmt, subtype=subtype)
    info = sf.info(str(path))
    assert label and path.suffix == f".{fmt}"
    assert info.samplerate == SAMPLE_RATE and info.subtype == subtype
    # Lossy codecs pad or trim by less than a frame of theirs.
    assert abs(info.duration - seconds) < (0.06 if fmt in ("ogg", "mp3") else 1e-9)
    data, _ = sf.read(str(path), dtype="float32")
    assert np.max(np.abs(data)) > 0.3


def test_a_subtype_the_format_cannot_hold(tmp_path):
    with pytest.raises(AudioFileError, match="cannot be written as"):
        export_audio(tmp_path / "x.flac", np.zeros(480, np.float32), subtype="FLOAT")
    assert not list(tmp_path.iterdir())


def test_errno_reasons():
    assert fileio.describe_os_error(OSError(errno.EROFS, "x")) == "the disk is read-only"
    assert fileio.describe_os_error(OSError(errno.ENOSPC, "x")) == "the disk is full"
