"""TrainingWorker: ``train`` in a child process; events in order, pause/resume/cancel forwarded,
a killed child reported."""

from __future__ import annotations

import os
import signal

import pytest

from app.workers import TrainingWorker, live_workers
from distill.data import DatasetCache
from distill.models import load_model
from distill.training.checkpoint import read_checkpoint
from distill.training.config import (
    RunConfig,
    TrainingConfig,
)
from distill.training.events import (
    CheckpointSaved,
    EpochEnd,
    Failed,
    Finished,
    Paused,
    Preview,
    Resumed,
    StepProgress,
    TrainingStarted,
)
from tests.app.conftest import (
    QUICK,
    TINY_DATA,
    TINY_MODEL,
    TINY_SPECTROGRAM,
    Recorder,
    build_empty_cache,
    build_tiny_cache,
)

TIMEOUT_MS = 60_000


def tiny_setup(**training) -> tuple[RunConfig, set[str]]:
    settings = {**QUICK, **training}
    return (RunConfig(TINY_SPECTROGRAM, TINY_DATA, TINY_MODEL, TrainingConfig(**settings)),
            set(settings))


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory) -> DatasetCache:
    return build_tiny_cache(tmp_path_factory.mktemp("tiny_dataset"))


def make_worker(cache, tmp_path, **training) -> tuple[TrainingWorker, Recorder]:
    setup, explicit = tiny_setup(**training)
    worker = TrainingWorker(cache, tmp_path / "models" / "m.distill", setup, explicit=explicit,
                            checkpoint_dir=tmp_path / "checkpoints")
    events = Recorder()
    worker.progress.connect(events.add)
    return worker, events


def of_type(events: Recorder, kind: type) -> list:
    return [e for e in events.items if isinstance(e, kind)]


def count(events: Recorder, kind: type) -> int:
    return len(of_type(events, kind))


def test_events_arrive_in_order_then_the_model_path(qtbot, tiny_cache, tmp_path):
    worker, events = make_worker(tiny_cache, tmp_path)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as blocker:
        worker.start()
    assert worker.wait(TIMEOUT_MS) and not live_workers()
    path = blocker.args[0]
    assert path == tmp_path / "models" / "m.distill" and path.is_file()
    kinds = [type(e) for e in events.items]
    assert kinds[0] is TrainingStarted and kinds[1] is StepProgress
    assert isinstance(events.items[-1], Finished) and events.items[-1].model_path == path
    assert not events.items[-1].cancelled
    epochs = of_type(events, EpochEnd)
    assert [e.epoch for e in epochs] == [1, 2]
    assert set(epochs[0].train) >= {"total", "magnitude", "instantaneous_frequency", "stft", "kl"}
    steps = [e.step for e in of_type(events, StepProgress)]
    assert steps == sorted(steps) and steps[0] == 1
    first_epoch_end = kinds.index(EpochEnd)
    assert kinds.index(Preview) > first_epoch_end and kinds.index(CheckpointSaved) > first_epoch_end
    assert len(load_model(path).history) == 2


def test_pause_holds_the_run_and_resume_and_cancel_are_forwarded(qtbot, tiny_cache, tmp_path):
    worker, events = make_worker(tiny_cache, tmp_path, epochs=500)
    worker.start()
    try:
        qtbot.waitUntil(lambda: count(events, StepProgress) > 0, timeout=TIMEOUT_MS)
        worker.pause()
        assert worker.paused
        qtbot.waitUntil(lambda: count(events, Paused) == 1, timeout=TIMEOUT_MS)
        held = count(events, StepProgress)
        qtbot.wait(300)
        assert count(events, StepProgress) == held  # no step while paused

        worker.resume()
        qtbot.waitUntil(lambda: count(events, StepProgress) > held + 2, timeout=TIMEOUT_MS)
        assert count(events, Resumed) == 1 and not worker.paused
        worker.pause()
        with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as blocker:
            worker.cancel()  # releases the paused run; it saves what it trained
    finally:
        assert worker.close(TIMEOUT_MS)
    finished = events.items[-1]
    assert isinstance(finished, Finished) and finished.cancelled and finished.epochs < 500
    assert load_model(blocker.args[0]).model_config == TINY_MODEL


def test_cancelled_before_the_first_step_finishes_with_nothing(qtbot, tiny_cache, tmp_path):
    worker, events = make_worker(tiny_cache, tmp_path)
    worker.cancel()
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as blocker:
        worker.start()
    assert worker.wait(TIMEOUT_MS)
    assert blocker.args == [None] and not (tmp_path / "models" / "m.distill").exists()
    assert not of_type(events, StepProgress)


def test_an_unusable_dataset_is_an_error_for_the_user(qtbot, tmp_path):
    worker, events = make_worker(build_empty_cache(tmp_path), tmp_path)
    finished = Recorder()
    worker.finished.connect(finished.add)
    with qtbot.waitSignal(worker.errored, timeout=TIMEOUT_MS) as blocker:
        worker.start()
    assert worker.wait(TIMEOUT_MS)
    assert "no usable clips" in blocker.args[0]
    assert [type(e) for e in events.items] == [Failed] and events.items[0].message == blocker.args[0]
    assert not finished.items


def test_a_killed_training_process_is_a_clear_error_and_keeps_its_checkpoints(qtbot, tiny_cache, tmp_path):
    worker, events = make_worker(tiny_cache, tmp_path, epochs=500)
    finished = Recorder()
    worker.finished.connect(finished.add)
    worker.start()
    try:
        qtbot.waitUntil(lambda: count(events, CheckpointSaved) > 0, timeout=TIMEOUT_MS)
        with qtbot.waitSignal(worker.errored, timeout=TIMEOUT_MS) as blocker:
            os.kill(worker.process.pid, signal.SIGKILL)
    finally:
        assert worker.close(TIMEOUT_MS)
    message = blocker.args[0]
    assert "the training process ended unexpectedly (signal 9, SIGKILL" in message
    saved = of_type(events, CheckpointSaved)[-1]
    assert str(saved.path) in message and read_checkpoint(saved.path).state.epoch == saved.epoch
    assert isinstance(events.items[-1], Failed) and events.items[-1].message == message
    assert not finished.items and not (tmp_path / "models" / "m.distill").exists()
