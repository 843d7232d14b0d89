"""``train``: dataset in, model out — presets, splits, latent analysis, user errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import distill.training.finalize
from distill.data import CacheFinished, FileProcessed, ScanStarted
from distill.errors import DatasetError, TrainingError
from distill.models import load_model
from distill.training.config import TrainingConfig
from distill.training.device import select_device
from distill.training.events import AnalysisSkipped, AnalysisStarted, Failed, Finished, TrainingStarted
from distill.training.run import train
from tests.conftest import write_audio
from tests.training.conftest import make_sounds, tiny_run, train_tiny


def test_folder_to_model_with_the_auto_preset(tmp_path):
    folder = make_sounds(tmp_path / "sounds", seconds=0.04)
    events = []
    explicit = {"epochs", "batch_size", "checkpoint_every_epochs", "preview_every_epochs"}
    path = train(folder, tmp_path / "out" / "m.distill", tiny_run(epochs=1, preset="auto"),
                 explicit=explicit, on_event=events.append, cache_dir=tmp_path / "cache")
    kinds = [type(e) for e in events]
    assert kinds[:2] == [ScanStarted, FileProcessed]  # dataset events come first, forwarded
    assert kinds.index(CacheFinished) < kinds.index(TrainingStarted)
    started = events[kinds.index(TrainingStarted)]
    assert started.preset == "tiny" and started.epochs == 1  # 4 files: tiny; epochs were given
    assert isinstance(events[-1], Finished) and events[-1].model_path == path
    saved = TrainingConfig.from_dict(load_model(path).training)
    assert saved.preset == "tiny" and saved.augmentation.enabled and saved.batch_size == 4
    # No checkpoint folder given: one per run under the user data folder.
    run_dir = started.checkpoint_dir
    assert run_dir.parent == Path(os.environ["XDG_DATA_HOME"]) / "distill-studio" / "checkpoints"
    assert run_dir.name.startswith("m-") and list(run_dir.glob("*.ckpt"))


def test_enough_files_are_split_by_file(tmp_path):
    folder = make_sounds(tmp_path / "a", seconds=0.04)
    make_sounds(folder / "more", seconds=0.05)
    events = []
    train_tiny(folder, tmp_path / "m.distill", tiny_run(epochs=1), on_event=events.append,
               cache_dir=tmp_path / "cache", checkpoint_dir=tmp_path / "ckpt")
    started = next(e for e in events if isinstance(e, TrainingStarted))
    assert started.split_mode == "by file"
    assert (started.train_files, started.validation_files) == (7, 1)


def test_latent_analysis_is_stored_with_the_model(tiny_cache, tmp_path):
    events = []
    path = train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=1), on_event=events.append,
                      checkpoint_dir=tmp_path / "ckpt")
    assert any(isinstance(e, AnalysisStarted) for e in events)
    assert not any(isinstance(e, AnalysisSkipped) for e in events)
    assert "latent" in load_model(path).extra_metadata  # the analysis went into the model file


def test_model_is_saved_without_analysis_when_it_fails(tiny_cache, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(distill.training.finalize, "analyze_latents", broken)
    events = []
    path = train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=1), on_event=events.append,
                      checkpoint_dir=tmp_path / "ckpt")
    (skipped,) = [e for e in events if isinstance(e, AnalysisSkipped)]
    assert "boom" in skipped.reason
    assert isinstance(events[-1], Finished)
    assert load_model(path).extra_metadata == {} and len(load_model(path).history) == 1


def test_output_that_cannot_be_written_fails_before_training(tiny_cache, tmp_path):
    events = []
    (tmp_path / "folder.distill").mkdir()
    with pytest.raises(TrainingError, match="is a folder"):
        train_tiny(tiny_cache, tmp_path / "folder.distill", tiny_run(), on_event=events.append)
    assert events == [Failed(events[0].message)]
    (tmp_path / "file").write_text("")
    with pytest.raises(TrainingError, match="could not write the model"):
        train_tiny(tiny_cache, tmp_path / "file" / "m.distill", tiny_run())


def test_folder_without_usable_files(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no sounds here")
    write_audio(tmp_path / "notes" / "silence.wav", torch.zeros(4800).numpy())
    with pytest.raises(DatasetError, match=r"no usable audio files .*2 files: 0 ok, 2 skipped"):
        train(tmp_path / "notes", tmp_path / "m.distill", tiny_run(), cache_dir=tmp_path / "cache")
    with pytest.raises(DatasetError, match="not found"):
        train(tmp_path / "nowhere", tmp_path / "m.distill", tiny_run(), cache_dir=tmp_path / "cache")


def test_devices():
    assert select_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and select_device("auto").type == "mps":
        expected = "mps"
    assert select_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(TrainingError, match="no usable CUDA GPU"):
            select_device("cuda")


@pytest.mark.parametrize("request_stop", ["finish", "cancel"])
def test_stop_keeps_the_model_and_finish_also_analyses_it(tiny_cache, tmp_path, request_stop):
    from distill.training.events import StepProgress, TrainingControl

    control, events = TrainingControl(), []

    def on_event(event):
        events.append(event)
        if isinstance(event, StepProgress) and event.epoch == 2:
            getattr(control, request_stop)()  # from the GUI or Ctrl-C, any thread

    path = train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=50), on_event=on_event,
                      control=control, checkpoint_dir=tmp_path / "ckpt")
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.epochs < 50
    loaded = load_model(path)
    if request_stop == "finish":
        assert finished.stopped and not finished.cancelled
        assert any(isinstance(e, AnalysisStarted) for e in events)
        assert "latent" in loaded.extra_metadata
    else:
        assert finished.cancelled and not finished.stopped
        assert "latent" not in loaded.extra_metadata
