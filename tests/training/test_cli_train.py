"""``distill train``: the real model end to end, Ctrl-C, resume, user errors."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from distill.audio import synth
from distill.cli import main
from distill.models import load_model
from tests.conftest import write_audio
from tests.training.conftest import TINY_DATA, TINY_MODEL, TINY_SPECTROGRAM, make_sounds


def _tiny_config(tmp_path: Path, **training) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({"spectrogram": TINY_SPECTROGRAM.to_dict(), "data": TINY_DATA.to_dict(),
                                "model": TINY_MODEL.to_dict(), "training": training}))
    return path


def test_train_the_real_model_for_two_epochs(tmp_path, capsys):
    folder = tmp_path / "sounds"
    write_audio(folder / "tone.wav", synth.harmonic(220, 0.9))
    write_audio(folder / "pluck.wav", synth.pluck(330, 0.9, seed=1))
    write_audio(folder / "bell.wav", synth.fm_bell(440, 0.9))
    out = tmp_path / "model.distill"
    code = main(["train", str(folder), "-o", str(out), "--epochs", "2", "--latent-dim", "16",
                 "--batch-size", "2", "--threads", "2", "--seed", "3", "--cache-dir", str(tmp_path / "cache"),
                 "--checkpoint-dir", str(tmp_path / "ckpt")])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert stdout.strip() == str(out)
    assert "Traceback" not in stdout + stderr
    assert "training on cpu" in stderr and "preset tiny" in stderr and "(by clip)" in stderr
    assert "epoch 1/2  train " in stderr and "epoch 2/2  train " in stderr and " val " in stderr
    loaded = load_model(out)
    assert loaded.model_config.latent_dim == 16 and loaded.model_config.channels[-1] == 1024
    assert (loaded.training["epochs"], loaded.training["batch_size"], loaded.training["seed"]) == (2, 2, 3)
    assert [h["epoch"] for h in loaded.history] == [1, 2]
    terms = {"magnitude", "instantaneous_frequency", "stft", "level", "kl", "total"}
    assert set(loaded.history[1]["train"]) == set(loaded.history[1]["validation"]) == terms
    assert list((tmp_path / "ckpt").glob("*.ckpt"))


def test_ctrl_c_stops_cleanly_saves_and_resume_goes_on(tmp_path, capsys):
    folder = make_sounds(tmp_path / "sounds")
    out, ckpt = tmp_path / "m.distill", tmp_path / "ckpt"
    config = _tiny_config(tmp_path, checkpoint_every_epochs=1, preview_every_epochs=50)
    args = ["train", str(folder), "-o", str(out), "--config", str(config), "--cache-dir",
            str(tmp_path / "cache"), "--checkpoint-dir", str(ckpt)]

    def interrupt_after_first_checkpoint():
        deadline = time.monotonic() + 60
        while not list(ckpt.glob("*.ckpt")) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)  # delivered to the main thread, as Ctrl-C is

    # The handler in force before (SIG_IGN when the test run itself was started in the
    # background by a shell) must be the one in force after.
    before = signal.getsignal(signal.SIGINT)
    threading.Thread(target=interrupt_after_first_checkpoint, daemon=True).start()
    code = main([*args, "--epochs", "500"])
    stdout, stderr = capsys.readouterr()
    assert code == 130, stderr
    assert "stopping after this step" in stderr and "the model trained so far is saved" in stderr
    assert "Traceback" not in stdout + stderr
    epochs_done = len(load_model(out).history)
    assert 1 <= epochs_done < 500
    assert signal.getsignal(signal.SIGINT) is before  # handler restored

    latest = max(ckpt.glob("*.ckpt"), key=lambda p: p.stat().st_mtime_ns)
    assert main([*args, "--resume", str(latest), "--epochs", str(epochs_done + 1)]) == 0
    assert len(load_model(out).history) == epochs_done + 1


def test_user_errors_are_messages(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m.distill")]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("distill train: error: dataset folder not found") and "Traceback" not in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"training": {"epochs": 0}}')
    assert main(["train", str(tmp_path), "-o", str(tmp_path / "m.distill"), "--config", str(bad)]) == 2
    assert "epochs must be >= 1" in capsys.readouterr().err
    assert main(["train", str(tmp_path), "-o", str(tmp_path / "m.distill"), "--resume",
                 str(bad)]) == 2
    assert "not a distill model file" in capsys.readouterr().err


def test_precision_option_is_an_explicit_training_setting(tmp_path):
    from distill.cli import build_parser
    from distill.cli.train import run_config

    argv = ["train", str(tmp_path), "-o", str(tmp_path / "m.distill"), "--precision", "float32"]
    config, explicit = run_config(build_parser(argv).parse_args(argv))
    assert config.training.precision == "float32" and "precision" in explicit
    default = ["train", str(tmp_path), "-o", str(tmp_path / "m.distill")]
    config, explicit = run_config(build_parser(default).parse_args(default))
    assert config.training.precision == "auto" and "precision" not in explicit
    with pytest.raises(SystemExit):  # argparse refuses a precision it does not know
        bad = [*argv[:-1], "float16"]
        build_parser(bad).parse_args(bad)


def test_a_config_files_partial_section_keeps_the_presets_other_fields(tmp_path):
    from distill.cli import build_parser
    from distill.cli.train import run_config
    from distill.training.presets import PRESETS, resolve_preset

    config_file = tmp_path / "run.json"
    config_file.write_text(json.dumps({"training": {"augmentation": {"crop_offsets": True},
                                                    "loss_weights": {"level": 1.0}, "epochs": 7}}))
    argv = ["train", "sounds", "-o", str(tmp_path / "m.distill"), "--config", str(config_file)]
    config, explicit = run_config(build_parser(argv).parse_args(argv))
    assert explicit == {"augmentation.crop_offsets", "loss_weights.level", "epochs"}
    resolved = resolve_preset(config.training, 50, explicit)  # the small preset
    small = PRESETS["small"]["augmentation"]
    assert resolved.augmentation == small.replace(crop_offsets=True)  # still enabled, gain only
    assert resolved.augmentation.enabled
    assert resolved.loss_weights.level == 1.0 and resolved.epochs == 7


def test_the_progress_line_leaves_out_the_optional_terms_while_they_are_not_computed():
    from distill.cli.train import describe_step
    from distill.training.events import StepProgress

    def line(stft: float, level: float = 0.0) -> str:
        losses = {"total": 0.9, "magnitude": 0.5, "instantaneous_frequency": 0.3, "stft": stft,
                  "level": level, "kl": 10.0}
        return describe_step(StepProgress(epoch=1, epochs=3, step=1, step_in_epoch=1, steps_per_epoch=3,
                                          total_steps=9, progress=0.1, losses=losses, eta_seconds=None))

    assert line(0.0) == "epoch 1/3 step 1/3 loss 0.9000 (mag 0.500 if 0.300 kl 10.000)"
    assert line(1.25) == "epoch 1/3 step 1/3 loss 0.9000 (mag 0.500 if 0.300 stft 1.250 kl 10.000)"
    assert line(0.0, 0.02) == "epoch 1/3 step 1/3 loss 0.9000 (mag 0.500 if 0.300 level 0.020 kl 10.000)"
