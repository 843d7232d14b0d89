"""The epochs the Train tab shows are the epochs the run makes (real runs, tiny model)."""

from __future__ import annotations

import pytest

from app.train.train_panel import TrainPanel
from distill.training.events import Finished, TrainingStarted
from distill.training.presets import PRESETS
from tests.app.conftest import TINY_MODEL, Recorder, build_tiny_cache

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    return build_tiny_cache(tmp_path_factory.mktemp("tiny_dataset"))


@pytest.fixture
def panel(qtbot, settings, silent_audio, tmp_path, tiny_cache):
    """A panel on the tiny cache whose runs use the tiny model and the settings as shown."""
    panel = TrainPanel(settings, silent_audio, models_dir=tmp_path / "models",
                       checkpoint_dir=tmp_path / "checkpoints")
    qtbot.addWidget(panel)
    panel.set_model_config(TINY_MODEL)
    panel.set_dataset(tiny_cache)
    panel.settings_widget.set_value("num_threads", 1)
    yield panel
    panel.shutdown()


def started(qtbot, panel: TrainPanel) -> tuple[TrainingStarted, Recorder]:
    events = Recorder()
    panel.trainingEvent.connect(events.add)
    assert panel.start()
    qtbot.waitUntil(lambda: any(isinstance(e, TrainingStarted) for e in events.items), timeout=TIMEOUT_MS)
    return next(e for e in events.items if isinstance(e, TrainingStarted)), events


def test_a_run_makes_the_epochs_the_settings_show(qtbot, panel):
    shown = panel.settings_widget.inputs["epochs"].value()
    assert "epochs" not in panel.settings_widget.explicit()
    assert shown > PRESETS["tiny"]["epochs"]  # raised by min_steps, and shown raised
    event, _ = started(qtbot, panel)
    assert event.epochs == shown
    assert event.steps_per_epoch == panel.settings_widget.epoch_plan.steps_per_epoch
    assert event.train_clips == panel.settings_widget.epoch_plan.train_clips


def test_epochs_the_user_set_run_exactly_even_below_min_steps(qtbot, panel):
    panel.settings_widget.set_value("epochs", 2)
    assert "as you set" in panel.settings_widget.epochs_note.text()
    event, events = started(qtbot, panel)
    assert event.epochs == 2
    qtbot.waitUntil(lambda: not panel.is_busy, timeout=TIMEOUT_MS)
    finished = [e for e in events.items if isinstance(e, Finished)]
    assert finished and finished[0].epochs == 2 and panel.loss_plot.epoch_count == 2
