"""Cancel, pause and resume: from the training thread's callback and from another thread."""

from __future__ import annotations

import threading

import pytest

from distill.models import load_model
from distill.training.checkpoint import read_checkpoint
from distill.training.events import (
    CheckpointSaved,
    Finished,
    Paused,
    Resumed,
    StepProgress,
    TrainingCancelledError,
    TrainingControl,
    TrainingStarted,
)
from tests.training.conftest import tiny_run, train_tiny


def _optimizer_steps(checkpoint) -> set[float]:
    return {float(s["step"]) for s in checkpoint.optimizer_state["state"].values()}


def test_cancel_then_resume_continues_where_it_stopped(tiny_cache, tmp_path):
    run = tiny_run(epochs=3, checkpoint_every_epochs=2)
    straight = []
    train_tiny(tiny_cache, tmp_path / "straight.distill", run, on_event=straight.append,
          checkpoint_dir=tmp_path / "straight")
    total = straight[0].total_steps

    control, events = TrainingControl(), []

    def cancel_mid_epoch_2(event):
        events.append(event)
        if isinstance(event, StepProgress) and event.step == 9:
            control.cancel()

    path = train_tiny(tiny_cache, tmp_path / "part.distill", run, on_event=cancel_mid_epoch_2,
                      control=control, checkpoint_dir=tmp_path / "part")
    steps = [e.step for e in events if isinstance(e, StepProgress)]
    assert steps[-1] == 9  # cancelled before the next step
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.cancelled and finished.epochs == 1
    assert [h["epoch"] for h in load_model(path).history] == [1]  # the model so far is saved
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert (saved[-1].epoch, saved[-1].step) == (1, 9)
    partial = read_checkpoint(saved[-1].path)
    assert partial.state.batch_in_epoch == 3 and _optimizer_steps(partial) == {9.0}

    resumed = []
    path = train_tiny(tiny_cache, tmp_path / "part.distill", run, on_event=resumed.append,
                 resume=saved[-1].path)
    started = resumed[0]
    assert isinstance(started, TrainingStarted) and (started.start_epoch, started.start_step) == (1, 9)
    assert [e.step for e in resumed if isinstance(e, StepProgress)] == list(range(10, total + 1))
    assert resumed[-1].epochs == 3 and not resumed[-1].cancelled
    history = load_model(path).history
    assert [h["epoch"] for h in history] == [1, 2, 3]

    final = read_checkpoint(next(e.path for e in reversed(resumed) if isinstance(e, CheckpointSaved)))
    reference = read_checkpoint(next(e.path for e in reversed(straight) if isinstance(e, CheckpointSaved)))
    assert (final.state.epoch, final.state.step) == (reference.state.epoch, reference.state.step)
    assert _optimizer_steps(final) == _optimizer_steps(reference) == {float(total)}
    # Same seed, order and random draws: on the CPU the continuation matches the straight run.
    for ours, theirs in zip(history, reference.state.history, strict=True):
        assert ours["train"]["total"] == pytest.approx(theirs["train"]["total"], rel=1e-5)


def test_pause_blocks_until_resumed_from_another_thread(tiny_cache, tmp_path):
    control, events = TrainingControl(), []
    first_step, paused = threading.Event(), threading.Event()

    def on_event(event):
        events.append(event)
        if isinstance(event, StepProgress):
            first_step.set()
        elif isinstance(event, Paused):
            paused.set()

    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("path", train_tiny(
        tiny_cache, tmp_path / "m.distill", tiny_run(epochs=2), on_event=on_event, control=control,
        checkpoint_dir=tmp_path / "ckpt")))
    worker.start()
    try:
        assert first_step.wait(60)
        control.pause()
        assert paused.wait(60)
        steps_when_paused = sum(isinstance(e, StepProgress) for e in events)
        worker.join(0.3)  # a paused run stays blocked
        assert worker.is_alive() and control.paused
        assert sum(isinstance(e, StepProgress) for e in events) == steps_when_paused
    finally:
        control.resume()
        worker.join(60)
    assert not worker.is_alive()
    kinds = [type(e) for e in events]
    assert kinds.index(Resumed) == kinds.index(Paused) + 1
    assert isinstance(events[-1], Finished) and not events[-1].cancelled
    assert result["path"] == tmp_path / "m.distill"


def test_cancel_releases_a_paused_run(tiny_cache, tmp_path):
    control = TrainingControl()

    def on_event(event):
        if isinstance(event, StepProgress) and event.step == 2:
            control.pause()
        elif isinstance(event, Paused):
            threading.Timer(0.05, control.cancel).start()

    events = []
    train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(epochs=2),
          on_event=lambda e: (events.append(e), on_event(e)), control=control,
          checkpoint_dir=tmp_path / "ckpt")
    assert isinstance(events[-1], Finished) and events[-1].cancelled
    assert max(e.step for e in events if isinstance(e, StepProgress)) == 2


def test_cancelled_before_any_step_saves_nothing(tiny_cache, tmp_path):
    control = TrainingControl()
    control.cancel()
    with pytest.raises(TrainingCancelledError, match="nothing was saved"):
        train_tiny(tiny_cache, tmp_path / "m.distill", tiny_run(), control=control,
              checkpoint_dir=tmp_path / "ckpt")
    assert not (tmp_path / "m.distill").exists()
    assert not list((tmp_path / "ckpt").glob("*.ckpt"))


def test_control_is_safe_to_use_from_many_threads():
    control = TrainingControl()
    threads = [threading.Thread(target=op) for _ in range(20)
               for op in (control.pause, control.resume, control.cancel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert control.cancelled and not control.paused  # cancel always wins over pause
    assert control.checkpoint() is False
