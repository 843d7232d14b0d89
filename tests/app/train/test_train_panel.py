"""TrainPanel: settings, Start/Pause/Resume/Stop, live curves and previews, saving, errors, closing."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QValidator

from app.train.model_paths import default_models_dir, new_model_path
from app.train.train_panel import IDLE, PAUSED, RUNNING, TrainPanel
from app.train.training_settings_widget import DEFAULT_LATENT, SETTINGS_KEY, LogSpinBox
from app.workers import live_workers
from distill.errors import TrainingError
from distill.models import load_model
from distill.training.events import Failed, RolledBack, TrainingStarted
from tests.app.conftest import QUICK, TINY_MODEL, build_empty_cache, build_tiny_cache

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    return build_tiny_cache(tmp_path_factory.mktemp("tiny_dataset"))


@pytest.fixture
def make_panel(qtbot, settings, silent_audio, tmp_path, monkeypatch):
    panels: list[TrainPanel] = []

    def make(cache=None, **training) -> TrainPanel:
        """A panel on ``cache`` whose runs use the tiny model and ``QUICK`` + ``training``."""
        panel = TrainPanel(settings, silent_audio, models_dir=tmp_path / "models",
                           checkpoint_dir=tmp_path / "checkpoints")
        qtbot.addWidget(panel)
        panel.resize(1200, 800)
        panel.show()
        panel.set_model_config(TINY_MODEL)
        real = panel.run_config

        def quick_run_config():
            run, explicit = real()
            changes = {**QUICK, **training}
            return run.replace(training=run.training.replace(**changes)), explicit | set(changes)

        monkeypatch.setattr(panel, "run_config", quick_run_config)
        if cache is not None:
            panel.set_dataset(cache)
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        panel.shutdown()


def buttons(panel: TrainPanel) -> tuple[bool, bool, bool, bool]:
    """Whether Start, Pause, Resume and Stop are enabled."""
    return panel.controls.enabled_states()


def steps_shown(panel: TrainPanel) -> int:
    return panel.loss_plot.step_count


def test_without_a_dataset_nothing_can_start(make_panel):
    panel = make_panel()
    assert buttons(panel) == (False, False, False, False)
    assert "No dataset" in panel.dataset_label.text()
    assert not panel.start() and not panel.is_busy
    panel.stop()
    panel.pause()  # all harmless while idle
    assert panel.state == IDLE


def test_a_dataset_shows_its_size_and_the_auto_preset(make_panel, tiny_cache):
    panel = make_panel(tiny_cache)
    text = panel.dataset_label.text()
    assert tiny_cache.report.folder.name in text and "4 usable file(s)" in text
    assert "auto preset: tiny" in text
    assert panel.settings_widget.preset_combo.currentText() == "auto (tiny)"
    plan = panel.settings_widget.epoch_plan  # the tiny preset, raised to make its min_steps
    assert panel.settings_widget.inputs["epochs"].value() == plan.epochs > 300 == plan.requested
    assert plan.train_clips < tiny_cache.report.summary.clips  # the training split's clips
    assert buttons(panel) == (True, False, False, False)


def test_only_changed_settings_are_explicit_and_they_are_remembered(make_panel, tiny_cache, settings,
                                                                    silent_audio, qtbot):
    panel = make_panel(tiny_cache)
    form = panel.settings_widget
    assert form.explicit() == set()
    form.set_value("epochs", 42)
    form.set_value("loss_weights.stft", 0.5)
    form.set_value("augmentation.enabled", False)
    assert form.explicit() == {"epochs", "loss_weights", "augmentation.enabled"}
    config = form.training_config()
    assert config.preset == "auto" and config.epochs == 42 and config.loss_weights.stft == 0.5
    assert form.labels["epochs"].font().bold() and not form.labels["batch_size"].font().bold()
    form.set_preset("large")
    assert form.inputs["batch_size"].value() == 32 and form.inputs["epochs"].value() == 42

    again = TrainPanel(settings, silent_audio)  # a new session remembers the choices
    qtbot.addWidget(again)
    assert again.settings_widget.preset == "large"
    assert again.settings_widget.explicit_values() == {"epochs": 42, "loss_weights.stft": 0.5,
                                                       "augmentation.enabled": False}
    assert again.settings_widget.latent_dim == TINY_MODEL.latent_dim
    again.settings_widget.reset_to_preset()
    assert again.settings_widget.explicit() == set()
    again.shutdown()


def test_start_trains_plots_previews_then_stop_saves_a_model(qtbot, make_panel, tiny_cache, tmp_path):
    panel = make_panel(tiny_cache, epochs=500)
    busy, ready, errors = [], [], []
    panel.busyChanged.connect(busy.append)
    panel.modelReady.connect(ready.append)
    panel.errorOccurred.connect(errors.append)
    qtbot.mouseClick(panel.controls.start_button, Qt.MouseButton.LeftButton)
    assert panel.is_busy and panel.state == RUNNING and buttons(panel) == (False, True, False, True)
    assert not panel.settings_widget.isEnabled()
    assert not panel.start()  # one run at a time

    qtbot.waitUntil(lambda: panel.loss_plot.epoch_count >= 1 and panel.preview.preview is not None,
                    timeout=TIMEOUT_MS)
    assert not panel.preview.input_view.is_empty and not panel.preview.reconstruction_view.is_empty
    levels = panel.preview.input_view.magnitude_levels
    assert levels == panel.preview.reconstruction_view.magnitude_levels and levels[1] > 0
    assert "Epoch" in panel.preview.caption.text()
    status = panel.status.text
    assert "split by clip" in status and "preset large" in status and "cpu" in status
    assert re.fullmatch(r"Epoch \d+/500 · step \d+/\d+ · %p% · ETA .+", panel.status.progress.format())
    qtbot.waitUntil(lambda: panel.checkpoints.list.count() >= 1, timeout=TIMEOUT_MS)

    panel.preview.play_reconstruction_button.click()  # no audio device in the tests
    assert panel.status.notice_label.text().startswith("No audio output")

    with qtbot.waitSignal(panel.modelReady, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(panel.controls.stop_button, Qt.MouseButton.LeftButton)
        # stopping: only Stop again (= skip the analysis) can be clicked
        assert buttons(panel) == (False, False, False, True)
    path = blocker.args[0]
    assert path == panel.output_path and path.parent == tmp_path / "models"
    assert re.fullmatch(re.escape(tiny_cache.report.folder.name) + r"-\d{8}-\d{6}\.distill", path.name)
    model = load_model(path)
    assert model.model_config == TINY_MODEL and len(model.history) >= 1
    assert "latent" in model.extra_metadata  # a stopped run is analysed: explorable at once
    assert busy == [True, False] and ready == [path] and not errors
    assert not panel.is_busy and buttons(panel) == (True, False, False, False)
    assert panel.status.text.startswith("Stopped after") and str(path) in panel.status.text
    assert not live_workers()


def test_pause_stops_progress_until_resume(qtbot, make_panel, tiny_cache):
    panel = make_panel(tiny_cache, epochs=500)
    panel.start()
    qtbot.waitUntil(lambda: steps_shown(panel) > 0, timeout=TIMEOUT_MS)
    panel.pause()
    assert panel.state == PAUSED and buttons(panel) == (False, False, True, True)
    qtbot.waitUntil(lambda: panel.status.text.startswith("Paused at epoch"), timeout=TIMEOUT_MS)
    held = steps_shown(panel), panel.status.progress.value()
    qtbot.wait(300)
    assert (steps_shown(panel), panel.status.progress.value()) == held

    panel.toggle_pause()  # Ctrl+P's slot: resumes
    assert panel.state == RUNNING and buttons(panel) == (False, True, False, True)
    qtbot.waitUntil(lambda: steps_shown(panel) > held[0] + 2, timeout=TIMEOUT_MS)
    panel.toggle_pause()
    with qtbot.waitSignal(panel.modelReady, timeout=TIMEOUT_MS):
        panel.stop()  # stopping a paused run saves it too
    assert panel.state == IDLE


def test_keyboard_shortcuts_drive_the_run(qtbot, make_panel, tiny_cache):
    panel = make_panel(tiny_cache, epochs=500)
    keys = {s.key().toString(): s for s in panel.controls.shortcuts}
    assert {"Ctrl+Return", "Ctrl+P", "Ctrl+."} <= set(keys)
    keys["Ctrl+Return"].activated.emit()
    qtbot.waitUntil(lambda: steps_shown(panel) > 0, timeout=TIMEOUT_MS)
    keys["Ctrl+P"].activated.emit()
    assert panel.state == PAUSED
    keys["Ctrl+P"].activated.emit()
    assert panel.state == RUNNING
    with qtbot.waitSignal(panel.modelReady, timeout=TIMEOUT_MS):
        keys["Ctrl+."].activated.emit()


def test_resume_from_a_checkpoint_continues_the_run(qtbot, make_panel, tiny_cache):
    panel = make_panel(tiny_cache, epochs=500)
    panel.start()
    qtbot.waitUntil(lambda: panel.checkpoints.list.count() >= 1, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(panel.modelReady, timeout=TIMEOUT_MS):
        panel.stop()
    first = panel.output_path
    done = load_model(first).history[-1]["epoch"]
    checkpoint = panel.checkpoints.selected_path()  # the newest: the one saved on stop
    assert checkpoint.exists() and panel.checkpoints.resume_button.isEnabled()
    messages = []
    panel.message.connect(messages.append)
    set_epochs(panel, done + 1)  # one more epoch (epochs may be extended on resume)
    with qtbot.waitSignal(panel.modelReady, timeout=TIMEOUT_MS) as blocker:
        panel.checkpoints.resume_button.click()
        assert panel.is_busy and not panel.checkpoints.resume_button.isEnabled()
    assert blocker.args[0] != first
    assert any(f"resuming at epoch {done + 1}" in m for m in messages), messages
    assert load_model(blocker.args[0]).history[-1]["epoch"] == done + 1


def set_epochs(panel: TrainPanel, epochs: int) -> None:
    patched = panel.run_config

    def with_epochs():
        run, explicit = patched()
        return run.replace(training=run.training.replace(epochs=epochs)), explicit

    panel.run_config = with_epochs


def test_rapid_clicks_never_make_two_workers(qtbot, make_panel, tiny_cache):
    panel = make_panel(tiny_cache, epochs=500)
    seen = []
    for _ in range(5):
        panel.controls.start_button.click()
        panel.controls.start_button.click()
        seen.append(len(live_workers()))
        panel.controls.stop_button.click()
        panel.controls.stop_button.click()
        seen.append(len(live_workers()))
        qtbot.waitUntil(lambda: not panel.is_busy, timeout=TIMEOUT_MS)
    assert max(seen) == 1 and not live_workers()
    assert buttons(panel) == (True, False, False, False)


def test_shutdown_during_training_joins_and_leaves_a_loadable_model(qtbot, make_panel, tiny_cache):
    panel = make_panel(tiny_cache, epochs=500)
    ready = []
    panel.modelReady.connect(ready.append)
    panel.start()
    qtbot.waitUntil(lambda: steps_shown(panel) > 3, timeout=TIMEOUT_MS)
    panel.pause()  # even a paused run is released and saved
    panel.shutdown()
    assert not live_workers() and not panel.is_busy
    assert load_model(panel.output_path).model_config == TINY_MODEL
    panel.shutdown()  # idempotent
    assert not panel.start() and buttons(panel) == (False, False, False, False)
    qtbot.wait(50)
    assert not ready  # the window is closing: it opens nothing


def test_shutdown_when_idle_is_harmless(make_panel):
    panel = make_panel()
    panel.shutdown()
    panel.shutdown()
    assert not panel.is_busy


def test_an_unusable_dataset_is_an_error_and_the_panel_returns_to_idle(qtbot, make_panel, tmp_path):
    panel = make_panel(build_empty_cache(tmp_path))
    busy = []
    panel.busyChanged.connect(busy.append)
    with qtbot.waitSignal(panel.errorOccurred, timeout=TIMEOUT_MS) as blocker:
        panel.start()
    assert "no usable clips" in blocker.args[0]
    assert busy == [True, False] and panel.state == IDLE and buttons(panel) == (True, False, False, False)
    assert panel.settings_widget.isEnabled() and "Training failed" in panel.status.text


def diverging(source, output, setup=None, *, on_event, **kwargs):
    """A scripted run (in the training process) that rolls back once, then fails."""
    on_event(TrainingStarted(device="cpu (1 threads)", split_mode="by clip", train_files=4,
                             validation_files=4, train_clips=8, validation_clips=2, num_clips=10,
                             preset="tiny", epochs=5, steps_per_epoch=2, total_steps=10))
    on_event(RolledBack(epoch=1, step=2, reason="the loss became nan", new_lr=5e-4, rollbacks=1))
    message = "the loss diverged 4 times; lower the learning rate"
    on_event(Failed(message))
    raise TrainingError(message)


def test_a_divergence_warns_then_fails_without_a_model(qtbot, make_panel, tiny_cache, monkeypatch):
    import distill.training.child

    monkeypatch.setattr(distill.training.child, "TRAIN_ENTRY", f"{__name__}:diverging")
    panel = make_panel(tiny_cache)
    ready = []
    panel.modelReady.connect(ready.append)
    with qtbot.waitSignal(panel.errorOccurred, timeout=TIMEOUT_MS) as blocker:
        panel.start()
    assert blocker.args == ["the loss diverged 4 times; lower the learning rate"]
    warning = panel.status.warning_label
    assert not warning.isHidden() and "the loss became nan" in warning.text()
    assert panel.status.text.startswith("Training failed")
    assert not ready and panel.state == IDLE


def test_a_vanished_checkpoint_is_not_resumed(qtbot, make_panel, tiny_cache, tmp_path):
    panel = make_panel(tiny_cache)
    gone = tmp_path / "ckpt-e1-s1.ckpt"
    gone.write_bytes(b"")
    panel.checkpoints.add_checkpoint(gone, 1, 1)
    gone.unlink()
    messages = []
    panel.message.connect(messages.append)
    assert not panel.resume_from_checkpoint(Path(gone))
    assert panel.checkpoints.list.count() == 0 and "no longer exists" in messages[-1]
    assert not panel.is_busy


def test_model_files_are_named_after_the_dataset_and_never_overwritten(tmp_path):
    when = datetime(2024, 5, 6, 7, 8, 9)
    first = new_model_path(tmp_path, "field rec/ 2024", when)
    assert first == tmp_path / "field_rec_2024-20240506-070809.distill"
    first.write_bytes(b"model")
    again = new_model_path(tmp_path, "field rec/ 2024", when)
    assert again.name == "field_rec_2024-20240506-070809~2.distill"
    assert new_model_path(tmp_path, "...", when).name.startswith("model-")
    assert default_models_dir() == Path(os.environ["XDG_DATA_HOME"]) / "distill-studio" / "models"


def test_saved_choices_that_make_no_sense_are_ignored(qtbot, settings, silent_audio):
    settings.set_value(SETTINGS_KEY, {"preset": "huge", "latent_dim": "wide", "explicit": {
        "epochs": -5, "batch_size": 8, "bogus": 1, "augmentation.enabled": "yes", "seed": True}})
    panel = TrainPanel(settings, silent_audio)
    qtbot.addWidget(panel)
    form = panel.settings_widget
    assert form.preset == "auto" and form.explicit_values() == {"batch_size": 8}
    assert form.latent_dim == DEFAULT_LATENT
    panel.shutdown()


def test_learning_rates_are_typed_and_stepped_in_decades(qtbot):
    box = LogSpinBox(1e-6, 1.0)
    qtbot.addWidget(box)
    box.setValue(1e-3)
    assert box.text() == "0.001"
    box.stepBy(4)
    assert box.value() == pytest.approx(1e-2)
    assert box.valueFromText("2e-4") == pytest.approx(2e-4)
    assert box.validate("3e-5", 0)[0] == QValidator.State.Acceptable
    assert box.validate("abc", 0)[0] == QValidator.State.Invalid
