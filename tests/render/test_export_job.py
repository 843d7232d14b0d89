"""Export jobs: each source, each format read back with its duration, cancel, performances."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile as sf
import torch

from distill.errors import AudioFileError
from distill.render.export import EXPORT_CHOICES
from distill.render.export_job import (
    ExportCancelledError,
    ExportRequest,
    render_request,
    run_export,
    take_seconds,
)
from distill.render.performance import render_performance
from distill.render.realtime_config import ControlState

#: Lossy codecs may pad or trim a little at the ends (an MP3 frame is 1152 samples).
LOSSY_SLACK = 2 * 1152


def ends(renderer) -> tuple[torch.Tensor, torch.Tensor]:
    latents = renderer.analysis.clip_latents
    return latents[0], latents[-1]


def requests(renderer, tmp_path) -> dict[str, ExportRequest]:
    a, b = ends(renderer)
    take = (ControlState(a, 10.0), ControlState(b, 10.4), ControlState(b, 11.25))
    return {
        "point": ExportRequest("point", tmp_path / "point", seconds=1.0, latent=a),
        "morph": ExportRequest("morph", tmp_path / "morph", seconds=1.5, morph=(a, b)),
        "performance": ExportRequest("performance", tmp_path / "take", take=take),
    }


@pytest.mark.parametrize("source, seconds", [("point", 1.0), ("morph", 1.5), ("performance", 1.25)])
def test_each_source_writes_its_duration_of_sound(renderer, tmp_path, source, seconds):
    request = requests(renderer, tmp_path)[source]
    events = []
    path = run_export(renderer, request, events.append)
    assert path == tmp_path / f"{request.path.name}.wav" and path.is_file()
    data, sr = sf.read(path, dtype="float32")
    assert sr == renderer.sample_rate
    assert data.shape == (round(seconds * sr),)
    assert np.sqrt(np.mean(data ** 2)) > 1e-3  # sound, not silence
    assert [e.stage for e in events] == ["rendering", "writing", "done"]
    assert events[-1].path == path and events[-1].fraction == 1.0


def test_a_point_export_is_what_the_instrument_plays(renderer, tmp_path):
    a, _ = ends(renderer)
    request = ExportRequest("point", tmp_path / "p.wav", seconds=0.5, latent=a, mode="loop", gain=0.5)
    expected = render_performance(renderer, [ControlState(a, 0.0, mode="loop", gain=0.5)], 24_000)
    np.testing.assert_array_equal(render_request(renderer, request), expected)


def test_the_morph_goes_from_a_to_b(renderer, tmp_path):
    a, b = ends(renderer)
    wave = render_request(renderer, ExportRequest("morph", tmp_path / "m", seconds=2.0, morph=(a, b)))
    assert wave.shape == (2 * renderer.sample_rate,)
    np.testing.assert_array_equal(wave, renderer.morph(a, b, wave.shape[0]))


def test_a_performance_with_moves_differs_from_the_held_point(renderer, tmp_path):
    a, b = ends(renderer)
    assert not torch.allclose(a, b)
    sr = renderer.sample_rate
    moved = (ControlState(a, 0.0), ControlState(b, 0.5), ControlState(b, 1.0))
    held = (ControlState(a, 0.0), ControlState(a, 0.5), ControlState(a, 1.0))
    played = render_request(renderer, ExportRequest("performance", tmp_path / "x", take=moved))
    still = render_request(renderer, ExportRequest("performance", tmp_path / "y", take=held))
    assert played.shape == still.shape == (sr,)
    half = sr // 2
    # Before the move both are the held point; after it, another sound.
    np.testing.assert_allclose(played[:half - 1024], still[:half - 1024], atol=1e-6)
    after = slice(half + sr // 10, sr)
    assert np.abs(played[after] - still[after]).mean() > 0.1 * np.abs(still[after]).mean()


@pytest.mark.parametrize("choice", EXPORT_CHOICES)
def test_each_format_reads_back_with_the_right_duration(renderer, tmp_path, choice):
    fmt, subtype, label = EXPORT_CHOICES[choice]
    a, _ = ends(renderer)
    request = ExportRequest("point", tmp_path / "take", seconds=1.2, format=fmt, subtype=subtype, latent=a)
    path = run_export(renderer, request)
    assert path.suffix == f".{fmt}"
    info = sf.info(path)
    assert info.samplerate == renderer.sample_rate and info.channels == 1
    expected = round(1.2 * renderer.sample_rate)
    slack = LOSSY_SLACK if fmt in ("ogg", "mp3") else 0
    assert abs(info.frames - expected) <= slack, (label, info.frames, expected)
    if fmt == "wav":
        assert info.subtype == subtype
    data, _ = sf.read(path, dtype="float32")
    assert np.sqrt(np.mean(data ** 2)) > 1e-3


def test_cancel_during_rendering_leaves_no_file(renderer, tmp_path):
    a, b = ends(renderer)
    cancel = threading.Event()

    def on_event(event):
        if event.stage == "rendering":
            cancel.set()  # the user pressed Cancel while it rendered

    request = ExportRequest("morph", tmp_path / "out" / "gone.flac", seconds=1.0, format="flac", morph=(a, b))
    (tmp_path / "out").mkdir()
    with pytest.raises(ExportCancelledError):
        run_export(renderer, request, on_event, cancel)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_folder_that_cannot_be_written_is_refused_before_rendering(renderer, tmp_path):
    a, _ = ends(renderer)
    events = []
    request = ExportRequest("point", tmp_path / "missing" / "take.wav", seconds=1.0, latent=a)
    with pytest.raises(AudioFileError, match="does not exist"):
        run_export(renderer, request, events.append)
    assert events == []  # nothing rendered


def test_requests_are_checked(tmp_path):
    z = torch.zeros(4)
    with pytest.raises(ValueError, match="needs the latent"):
        ExportRequest("point", tmp_path / "a")
    with pytest.raises(ValueError, match="both ends"):
        ExportRequest("morph", tmp_path / "a")
    with pytest.raises(ValueError, match="recorded take"):
        ExportRequest("performance", tmp_path / "a", take=(ControlState(z, 1.0),))
    with pytest.raises(ValueError, match=r"0\.5 s to 10 min"):
        ExportRequest("point", tmp_path / "a", seconds=0.1, latent=z)
    with pytest.raises(ValueError, match=r"0\.5 s to 10 min"):
        ExportRequest("point", tmp_path / "a", seconds=601, latent=z)
    assert take_seconds((ControlState(z, 3.0), ControlState(z, 5.5))) == 2.5
