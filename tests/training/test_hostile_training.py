"""Unlucky training runs: a checkpoint folder that fills up, a short run killed before its
first epoch checkpoint, a cache entry poisoned with NaN. Each ends with a clear message
and keeps what was already written."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from distill.data import build_cache
from distill.errors import TrainingError
from distill.models import load_model
from distill.training import checkpoint as checkpoint_module
from distill.training.checkpoint import read_checkpoint
from distill.training.events import (
    CheckpointSaved,
    Failed,
    Finished,
    RolledBack,
    StepProgress,
    TrainingControl,
)
from tests.training.conftest import TINY_DATA, TINY_SPECTROGRAM, make_sounds, tiny_run, train_tiny


# ---------------------------------------------------------------- item 7: checkpoint disk full
def test_a_full_checkpoint_folder_still_writes_the_model(tiny_cache, tmp_path, monkeypatch):
    """Checkpoint 1 is written, checkpoint 2 hits a full disk: the run stops, the model
    trained so far goes to -o (another disk), the message says why, checkpoint 1 stays."""
    real = checkpoint_module.write_checkpoint
    written = []

    def fills_up(path, checkpoint):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(real(path, checkpoint))
        return written[-1]

    monkeypatch.setattr(checkpoint_module, "write_checkpoint", fills_up)
    events = []
    out = tmp_path / "models" / "m.distill"
    with pytest.raises(TrainingError) as info:
        train_tiny(tiny_cache, out, tiny_run(epochs=4), on_event=events.append,
                   checkpoint_dir=tmp_path / "ckpt")
    message = str(info.value)
    assert "could not write a checkpoint" in message and "the disk is full" in message
    assert f"last good checkpoint {written[0]} is intact" in message
    assert f"The model trained so far was saved to {out}" in message
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.model_path == out and failed.message == message
    loaded = load_model(out)
    assert [h["epoch"] for h in loaded.history] == [1, 2]  # trained through epoch 2, not lost
    assert read_checkpoint(written[0]).state.epoch == 1
    assert list((tmp_path / "ckpt").iterdir()) == [written[0]]


def test_the_cli_reports_a_full_checkpoint_folder_in_one_line(tiny_cache, tmp_path, monkeypatch, capsys):
    from distill.cli import main

    def full(path, checkpoint):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint_module, "write_checkpoint", full)
    out = tmp_path / "m.distill"
    config = tmp_path / "run.json"
    config.write_text(tiny_run(epochs=1).to_json())
    code = main(["train", str(tiny_cache.report.folder), "-o", str(out), "--config", str(config),
                 "--cache-dir", str(tmp_path / "cache"), "--checkpoint-dir", str(tmp_path / "ckpt")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "the disk is full" in err and "saved to" in err
    assert load_model(out).history  # the model is there


# ---------------------------------------------------------------- item 9: wall-clock checkpoints
def test_checkpoints_on_wall_clock_time_within_an_epoch(tiny_cache, tmp_path):
    events, states = [], []

    def on_event(event):
        events.append(event)
        if isinstance(event, CheckpointSaved):  # read now: older ones are pruned (keep 3)
            states.append(read_checkpoint(event.path).state)

    # Epoch checkpoints never come (every 100 epochs); the clock one after every step.
    train_tiny(tiny_cache, tmp_path / "m.distill",
               tiny_run(epochs=2, checkpoint_every_epochs=100, checkpoint_every_minutes=1e-9),
               on_event=on_event, checkpoint_dir=tmp_path / "ckpt")
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    steps_per_epoch = next(e for e in events if isinstance(e, StepProgress)).steps_per_epoch
    assert steps_per_epoch > 1
    assert [e.step for e in saved][:2] == [1, 2]  # mid-epoch, from the first step on
    assert (states[0].epoch, states[0].step, states[0].batch_in_epoch) == (0, 1, 1)


def test_a_mid_epoch_clock_checkpoint_resumes(tiny_cache, tmp_path):
    control = TrainingControl()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, CheckpointSaved) and event.step == 2:
            control.cancel()  # as if killed right after the clock checkpoint

    train_tiny(tiny_cache, tmp_path / "m.distill",
               tiny_run(epochs=2, checkpoint_every_epochs=100, checkpoint_every_minutes=1e-9,
                        keep_checkpoints=10),
               on_event=on_event, control=control, checkpoint_dir=tmp_path / "ckpt")
    resume_from = next(e.path for e in events if isinstance(e, CheckpointSaved) and e.step == 2)
    resumed = []
    train_tiny(tiny_cache, tmp_path / "m2.distill", tiny_run(epochs=2, checkpoint_every_epochs=100),
               on_event=resumed.append, resume=resume_from)
    first = next(e for e in resumed if isinstance(e, StepProgress))
    assert first.step == 3 and isinstance(resumed[-1], Finished)
    assert [h["epoch"] for h in load_model(tmp_path / "m2.distill").history] == [1, 2]


def test_stop_writes_a_checkpoint_before_the_first_epoch_ends(tiny_cache, tmp_path):
    control = TrainingControl()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, StepProgress) and event.step == 2:
            control.finish()

    train_tiny(tiny_cache, tmp_path / "m.distill",
               tiny_run(epochs=3, checkpoint_every_epochs=25, checkpoint_every_minutes=0),
               on_event=on_event, control=control, checkpoint_dir=tmp_path / "ckpt")
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert [e.step for e in saved] == [2] and read_checkpoint(saved[0].path).state.step == 2


def test_the_default_clock_interval_is_ten_minutes():
    assert tiny_run().training.checkpoint_every_minutes == 10.0
    with pytest.raises(ValueError, match="checkpoint_every_minutes"):
        tiny_run(checkpoint_every_minutes=-1)


# ---------------------------------------------------------------- item 10: a NaN cache entry
def test_a_nan_cache_entry_names_its_source_file(tmp_path):
    cache = build_cache(make_sounds(tmp_path / "sounds"), TINY_SPECTROGRAM, TINY_DATA, tmp_path / "cache")
    victim = next(e for e in cache.files if e.path.name == "bell.wav")
    clips = np.array(cache.load_clips(victim))
    clips[0, 0, :4, :4] = np.nan
    np.save(cache.clip_path(victim), clips)
    events = []
    with pytest.raises(TrainingError) as info:
        train_tiny(cache, tmp_path / "m.distill", tiny_run(epochs=2), on_event=events.append,
                   checkpoint_dir=tmp_path / "ckpt")
    message = str(info.value)
    assert "cancelled" not in message
    assert str(victim.path) in message and "NaN" in message and "clip 1 of" in message
    assert str(cache.clip_path(victim)) in message
    assert not [e for e in events if isinstance(e, RolledBack)]  # no rollbacks on bad data
    assert isinstance(events[-1], Failed) and events[-1].message == message
