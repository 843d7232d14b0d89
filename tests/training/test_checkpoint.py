"""Checkpoints: safe round trip of every state, rotation, write failures, foreign files."""

from __future__ import annotations

import errno
import json
import random

import numpy as np
import pytest
import torch

from distill.errors import ModelFileError, TrainingError
from distill.models import read_tensor_file, save_model, write_tensor_file
from distill.training import checkpoint as checkpoint_module
from distill.training.checkpoint import CheckpointFolder, read_checkpoint, write_checkpoint
from distill.training.codec import decode_state, encode_state
from distill.training.device import capture_rng, restore_rng
from distill.training.events import CheckpointSaved
from distill.training.steps import make_optimizer, make_scheduler
from tests.training.conftest import tiny_run, train_tiny


def test_optimizer_and_scheduler_state_survive_the_tensor_file(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    config = tiny_run().training
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, total_steps=20)
    for _ in range(3):
        model(torch.randn(5, 4)).square().mean().backward()
        optimizer.step()
        scheduler.step()
    tensors: dict[str, torch.Tensor] = {}
    document = {"optimizer": encode_state(optimizer.state_dict(), "optimizer", tensors),
                "scheduler": encode_state(scheduler.state_dict(), "scheduler", tensors)}
    write_tensor_file(tmp_path / "s.safetensors", tensors, {"doc": json.dumps(document)})
    read, metadata = read_tensor_file(tmp_path / "s.safetensors")
    doc = json.loads(metadata["doc"])

    restored = decode_state(doc["optimizer"], read)
    original = optimizer.state_dict()
    assert set(restored["state"]) == set(original["state"]) == {0, 1, 2, 3}  # int keys come back
    assert restored["param_groups"][0]["betas"] == (0.9, 0.999)  # tuples too
    for key, state in original["state"].items():
        for name, value in state.items():
            assert torch.equal(restored["state"][key][name], value)
    other = make_optimizer(model, config)
    other.load_state_dict(restored)
    assert float(other.state_dict()["state"][0]["step"]) == 3.0
    sched = make_scheduler(other, config, total_steps=20)
    sched.load_state_dict(decode_state(doc["scheduler"], read))
    assert sched.last_epoch == 3 and sched.get_last_lr() == scheduler.get_last_lr()


def test_random_states_round_trip():
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    tensors: dict[str, torch.Tensor] = {}
    encoded = json.loads(json.dumps(encode_state(capture_rng(), "rng", tensors)))
    expected = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng(decode_state(encoded, tensors))
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1])
    assert expected[2] == again[2]


def test_codec_refuses_what_json_cannot_hold():
    with pytest.raises(TypeError, match="cannot store a object"):
        encode_state({"x": object()}, "p", {})


def test_run_checkpoints_rotate_and_hold_everything(tiny_cache, tmp_path):
    events = []
    train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=4, keep_checkpoints=2),
               on_event=events.append, checkpoint_dir=tmp_path / "ckpt")
    saved = [e.path for e in events if isinstance(e, CheckpointSaved)]
    assert len(saved) == 4
    assert sorted((tmp_path / "ckpt").glob("*.ckpt")) == sorted(saved[-2:])
    last = read_checkpoint(saved[-1])
    assert last.run == tiny_run(epochs=4, keep_checkpoints=2)
    assert (last.state.epoch, last.state.step, len(last.state.history)) == (4, 24, 4)
    assert set(last.rng) >= {"python", "numpy", "torch"}
    assert {float(s["step"]) for s in last.optimizer_state["state"].values()} == {24.0}
    assert saved[-1].read_bytes()[8:9] == b"{"  # a safetensors header, not a zip of pickles


def test_disk_full_while_checkpointing_is_a_clear_error_and_keeps_the_last_one(tiny_cache, tmp_path,
                                                                               monkeypatch):
    real, calls = checkpoint_module.write_checkpoint, {"n": 0}

    def fills_the_disk(path, checkpoint):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, checkpoint)

    monkeypatch.setattr(checkpoint_module, "write_checkpoint", fills_the_disk)
    with pytest.raises(TrainingError, match="the disk is full") as caught:
        train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=3),
                   checkpoint_dir=tmp_path / "ckpt")
    (first,) = (tmp_path / "ckpt").glob("*.ckpt")
    assert str(first) in str(caught.value) and "--resume" in str(caught.value)
    assert read_checkpoint(first).state.epoch == 1


def test_a_model_file_or_garbage_is_not_a_checkpoint(tmp_path, tiny_cache):
    from distill.models import ConvVAE
    from tests.training.conftest import TINY_DATA, TINY_MODEL, TINY_SPECTROGRAM

    model = ConvVAE.from_config(TINY_MODEL, TINY_SPECTROGRAM, TINY_DATA)
    save_model(tmp_path / "m.distill", model, spectrogram=TINY_SPECTROGRAM, data=TINY_DATA,
               normalization=tiny_cache.normalization_stats())
    with pytest.raises(ModelFileError, match="not a training checkpoint \\(a distill model file\\)"):
        read_checkpoint(tmp_path / "m.distill")
    torch.save({"x": 1}, tmp_path / "pickled.ckpt")
    with pytest.raises(ModelFileError, match="refuses it for safety"):
        read_checkpoint(tmp_path / "pickled.ckpt")


def test_a_failed_save_is_a_training_error_and_leaves_earlier_files_alone(tmp_path, monkeypatch):
    folder = CheckpointFolder(tmp_path, keep=3)
    folder.check_writable()
    (tmp_path / "ckpt-e00001-s00000001.ckpt").write_bytes(b"previous")

    def broken(path, tensors, metadata):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(checkpoint_module, "write_tensor_file", broken)
    run = tiny_run()
    from distill.audio.normalization import NormalizationStats
    from distill.training.checkpoint import Checkpoint
    from distill.training.state import TrainState

    ckpt = Checkpoint(run, NormalizationStats(), TrainState(epoch=2, step=9), {}, {}, {}, {})
    with pytest.raises(OSError):
        write_checkpoint(tmp_path / "x.ckpt", ckpt)
    folder.last = tmp_path / "ckpt-e00001-s00000001.ckpt"
    with pytest.raises(TrainingError, match=r"Input/output error.*ckpt-e00001-s00000001\.ckpt is intact"):
        folder.save(ckpt)
    assert (tmp_path / "ckpt-e00001-s00000001.ckpt").read_bytes() == b"previous"
