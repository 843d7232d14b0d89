"""The training loop: events and their order, learning, divergence, model files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from distill.data import make_datasets
from distill.errors import TrainingError
from distill.models import load_model
from distill.models.config import LossWeights
from distill.training import steps
from distill.training.batches import load_batches, sequential_batches
from distill.training.checkpoint import CheckpointFolder
from distill.training.events import (
    CheckpointSaved,
    EpochEnd,
    Failed,
    Finished,
    Preview,
    RolledBack,
    StepProgress,
    TrainingStarted,
)
from distill.training.trainer import Trainer
from tests.training.conftest import TINY_DATA, TINY_SPECTROGRAM, tiny_run, train_tiny

TERMS = {"magnitude", "instantaneous_frequency", "stft", "level", "kl", "total"}


def test_events_arrive_in_order(tiny_cache, tmp_path):
    events = []
    path = train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=2), on_event=events.append,
                 checkpoint_dir=tmp_path / "ckpt")
    kinds = [type(e) for e in events]
    assert kinds[0] is TrainingStarted and kinds[-1] is Finished
    started = events[0]
    assert started.split_mode == "by clip"  # 4 files: too few to hold whole files out
    assert started.num_clips == 28 and started.train_clips + started.validation_clips == 28
    assert started.total_steps == 2 * started.steps_per_epoch
    assert started.device.startswith("cpu")
    # Per epoch: the steps, then the epoch's losses, its preview, its checkpoint.
    per_epoch = [StepProgress] * started.steps_per_epoch + [EpochEnd, Preview, CheckpointSaved]
    assert kinds[1:1 + 2 * len(per_epoch)] == per_epoch * 2
    steps_seen = [e for e in events if isinstance(e, StepProgress)]
    assert [e.step for e in steps_seen] == list(range(1, started.total_steps + 1))
    assert steps_seen[-1].progress == 1.0 and steps_seen[-1].eta_seconds is not None
    for end in (e for e in events if isinstance(e, EpochEnd)):
        assert set(end.train) == TERMS and set(end.validation) == TERMS
        assert all(math.isfinite(v) for v in [*end.train.values(), *end.validation.values()])
    preview = next(e for e in events if isinstance(e, Preview))
    assert preview.input_spectrogram.shape == preview.reconstruction.shape == (2, 32, 32)
    assert preview.input_audio.dtype == preview.reconstruction_audio.dtype == np.float32
    assert preview.input_audio.shape == preview.reconstruction_audio.shape
    assert preview.input_spectrogram[0].min() >= 0 and preview.sample_rate == 48_000
    finished = events[-1]
    assert finished.model_path == path and finished.epochs == 2 and not finished.cancelled

    loaded = load_model(path)
    assert [h["epoch"] for h in loaded.history] == [1, 2]
    assert set(loaded.history[0]["train"]) == set(loaded.history[0]["validation"]) == TERMS
    assert loaded.spectrogram == TINY_SPECTROGRAM and loaded.data == TINY_DATA
    assert loaded.training["epochs"] == 2 and loaded.model_config.latent_dim == 8


def _trainer(cache, tmp_path, **training) -> Trainer:
    run = tiny_run(**training)
    return Trainer(run, make_datasets(cache, run.training),
                   checkpoints=CheckpointFolder(tmp_path / "ckpt", keep=2))


def test_tiny_model_overfits_four_clips(four_clip_cache, tmp_path):
    # The spectrogram terms alone (the waveform term is checked below): 200 steps of batch 4.
    trainer = _trainer(four_clip_cache, tmp_path, epochs=200, learning_rate=5e-3, validation_fraction=0.0,
                       loss_weights=LossWeights(stft=0.0), checkpoint_every_epochs=1000,
                       preview_every_epochs=1000)
    assert trainer.run().status == "finished"
    first, last = trainer.state.history[0]["train"], trainer.state.history[-1]["train"]
    assert last["total"] <= 0.2 * first["total"], (first, last)
    assert last["magnitude"] <= 0.2 * first["magnitude"], (first, last)


def test_the_level_term_is_measured_on_the_datasets_own_scale(four_clip_cache, tmp_path):
    trainer = _trainer(four_clip_cache, tmp_path, epochs=2, validation_fraction=0.25,
                       loss_weights=LossWeights(level=1.0), checkpoint_every_epochs=1000,
                       preview_every_epochs=1000)
    assert trainer.losses.magnitude_scale == trainer.datasets.stats.magnitude_scale != 1.0
    assert trainer.run().status == "finished"
    for split in ("train", "validation"):
        assert all(math.isfinite(h[split]["level"]) and h[split]["level"] > 0 for h in trainer.state.history)


def test_waveform_loss_goes_down(four_clip_cache, tmp_path):
    trainer = _trainer(four_clip_cache, tmp_path, epochs=120, learning_rate=5e-3, validation_fraction=0.0,
                       loss_weights=LossWeights(stft=0.005), checkpoint_every_epochs=1000,
                       preview_every_epochs=1000)
    full = steps.LossSetup(LossWeights(stft=0.005), trainer.losses.synthesize)

    def measure() -> dict[str, float]:
        batches = load_batches(trainer.datasets.train, sequential_batches(4, 4), trainer.device)
        return steps.validate(trainer.model, batches, full, beta=0.0)

    before = measure()
    trainer.run()
    after = measure()
    assert after["stft"] < 0.7 * before["stft"], (before, after)


def test_injected_nan_rolls_back_and_training_goes_on(tiny_cache, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = steps.batch_losses

    def poisoned(model, batch, setup, beta, **kwargs):
        terms = real(model, batch, setup, beta, **kwargs)
        if model.training:
            calls["n"] += 1
            if calls["n"] == 9:  # epoch 2 (6 steps per epoch): after the first checkpoint
                return type(terms)(**{**vars(terms), "total": terms.total * float("nan")})
        return terms

    monkeypatch.setattr(steps, "batch_losses", poisoned)
    events = []
    path = train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=3), on_event=events.append,
                 checkpoint_dir=tmp_path / "ckpt")
    rolled = [e for e in events if isinstance(e, RolledBack)]
    assert len(rolled) == 1
    assert "nan" in rolled[0].reason and rolled[0].rollbacks == 1
    assert (rolled[0].epoch, rolled[0].step) == (1, 6)  # back to the checkpoint after epoch 1
    lr_before = next(e for e in events if isinstance(e, EpochEnd)).lr
    assert rolled[0].new_lr == pytest.approx(0.5 * lr_before, rel=0.3)
    assert isinstance(events[-1], Finished) and events[-1].epochs == 3
    assert [h["epoch"] for h in load_model(path).history] == [1, 2, 3]


def test_divergence_stops_after_max_rollbacks_and_saves_the_last_good_model(tiny_cache, tmp_path,
                                                                            monkeypatch):
    real = steps.batch_losses
    state = {"steps": 0}

    def diverging(model, batch, setup, beta, **kwargs):
        terms = real(model, batch, setup, beta, **kwargs)
        if model.training:
            state["steps"] += 1
            if state["steps"] > 8:
                return type(terms)(**{**vars(terms), "total": terms.total * float("inf")})
        return terms

    monkeypatch.setattr(steps, "batch_losses", diverging)
    events = []
    with pytest.raises(TrainingError, match=r"diverged .* after 2 rollback\(s\).*lower learning rate"):
        train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=4, max_rollbacks=2),
              on_event=events.append, checkpoint_dir=tmp_path / "ckpt")
    assert len([e for e in events if isinstance(e, RolledBack)]) == 2
    failed = events[-1]
    assert isinstance(failed, Failed) and failed.model_path == tmp_path / "m.distill"
    assert str(failed.model_path) in failed.message
    assert [h["epoch"] for h in load_model(failed.model_path).history] == [1]  # the last checkpoint's


def test_spike_over_the_running_median_counts_as_divergence(tiny_cache, tmp_path, monkeypatch):
    real = steps.batch_losses
    count = {"n": 0}

    def spiking(model, batch, setup, beta, **kwargs):
        terms = real(model, batch, setup, beta, **kwargs)
        if model.training:
            count["n"] += 1
            if count["n"] == 5:
                return type(terms)(**{**vars(terms), "total": terms.total * 1e6})
        return terms

    monkeypatch.setattr(steps, "batch_losses", spiking)
    events = []
    train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=1, divergence_min_steps=3),
          on_event=events.append, checkpoint_dir=tmp_path / "ckpt")
    rolled = [e for e in events if isinstance(e, RolledBack)]
    assert len(rolled) == 1 and "jumped" in rolled[0].reason
    assert (rolled[0].epoch, rolled[0].step) == (0, 0)  # no checkpoint yet: back to the start
    assert isinstance(events[-1], Finished)


def test_early_stopping_when_validation_stops_improving(tiny_cache, tmp_path, monkeypatch):
    real, totals = steps.validate, iter([3.0, 2.0, 2.5, 2.6, 1.0])

    def scripted(*args, **kwargs):
        return {**real(*args, **kwargs), "total": next(totals)}

    monkeypatch.setattr(steps, "validate", scripted)
    events = []
    train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=5, early_stop_patience=2),
               on_event=events.append, checkpoint_dir=tmp_path / "ckpt")
    assert isinstance(events[-1], Finished) and events[-1].stopped_early and events[-1].epochs == 4
