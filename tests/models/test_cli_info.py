"""``distill info``: audio files, model files, JSON output, errors as messages (exit 2)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from distill.audio import synth
from distill.cli import main
from distill.models import ConvVAE, save_model
from distill.training.config import TrainingConfig

from ..conftest import write_audio


@pytest.fixture
def model_file(tmp_path, tiny_configs, normalization):
    _, spectrogram, data = tiny_configs
    torch.manual_seed(0)
    model = ConvVAE.from_config(*tiny_configs).eval()
    return save_model(
        tmp_path / "pad.distill", model, spectrogram=spectrogram, data=data, normalization=normalization,
        training=TrainingConfig(epochs=3), history=[{"epoch": e, "total": 1.0 / e} for e in (1, 2, 3)],
        extra_tensors={"latent.basis": torch.zeros(2, 6)},
        extra_metadata={"latent": {"axes": [{"label": "Brightness", "correlation": 0.93},
                                            {"label": "Loudness", "correlation": -0.8}]}})


def test_audio_file_text(tmp_path, capsys):
    left, right = synth.sine(440, 0.5, amp=0.5, sr=44_100), synth.sine(220, 0.5, amp=0.25, sr=44_100)
    wave = np.stack([left, right], axis=1)
    path = write_audio(tmp_path / "tone.wav", wave, sr=44_100, subtype="PCM_16")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    for text in ("WAV (PCM_16)", "44100 Hz", "channels      2", "0.500 s", "peak          -6.0 dBFS"):
        assert text in out


def test_audio_file_json(tmp_path, capsys):
    path = write_audio(tmp_path / "tone.flac", synth.sine(1000, 1.0, amp=0.5))
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "audio" and info["format"] == "FLAC" and info["channels"] == 1
    assert info["sample_rate"] == 48_000 and info["duration_seconds"] == pytest.approx(1.0)
    assert info["peak_dbfs"] == pytest.approx(-6.02, abs=0.05)
    assert info["rms_dbfs"] == pytest.approx(-9.03, abs=0.05)  # a sine's RMS is 3 dB under its peak


def test_silent_audio_has_no_level(tmp_path, capsys):
    path = write_audio(tmp_path / "silence.wav", np.zeros(4800, dtype=np.float32))
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["peak_dbfs"] is None and info["rms_dbfs"] is None
    assert main(["info", str(path)]) == 0
    assert "-inf dBFS (silent)" in capsys.readouterr().out


def test_model_file_text(model_file, capsys):
    assert main(["info", str(model_file)]) == 0
    out = capsys.readouterr().out
    params = ConvVAE(latent_dim=6, n_mels=16, n_frames=12, channels=(4, 8, 8)).num_parameters()
    for text in ("distill-model version 1", f"{params:,}", "epochs        3", "n_mels=16",
                 "magnitude_scale=14.5", "latent_dim=6", "axis 1        Brightness (correlation=0.93)",
                 "axis 2        Loudness"):
        assert text in out


def test_model_file_json(model_file, capsys):
    assert main(["info", str(model_file), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "model" and info["format_version"] == 1
    assert info["epochs"] == 3 and info["last_epoch"] == {"epoch": 3, "total": pytest.approx(1 / 3)}
    assert info["model"]["latent_dim"] == 6 and info["spectrogram"]["n_mels"] == 16
    assert info["data"]["clip_frames"] == 12 and info["training"]["epochs"] == 3
    assert info["normalization"]["magnitude_scale"] == 14.5
    assert info["input_shape"] == [2, 16, 12] and info["parameters"] > 0
    assert [a["label"] for a in info["latent_axes"]] == ["Brightness", "Loudness"]
    assert info["extra_tensors"] == {"latent.basis": [2, 6]}


def test_a_safetensors_model_with_another_extension_is_recognised(model_file, capsys):
    renamed = model_file.rename(model_file.with_suffix(".bak"))
    assert main(["info", str(renamed), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "model"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.wav", None, "file not found"),
    ("notes.txt", b"hello\n", "not a readable audio file"),
    ("model.pt", pickle.dumps({"weights": [1, 2]}, protocol=4), "pickle-based"),
    ("broken.distill", b"\x10\x00\x00\x00\x00\x00\x00\x00{", "truncated"),
])
def test_errors_are_messages_with_exit_status_2(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.err.startswith("distill info: error:")
