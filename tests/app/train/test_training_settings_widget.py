"""TrainingSettingsWidget: the Epochs field shows the epochs a run will make, and why."""

from __future__ import annotations

import pytest

from app.train.training_settings_widget import TrainingSettingsWidget
from distill.training.config import TrainingConfig
from distill.training.presets import PRESETS, apply_preset, ensure_min_steps

#: Six files, ten clips (what six short demo sounds give): eight train clips, one step an epoch.
CLIPS = [3, 1, 1, 1, 2, 2]


@pytest.fixture
def form(qtbot, settings) -> TrainingSettingsWidget:
    widget = TrainingSettingsWidget(settings)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def epochs(form: TrainingSettingsWidget) -> int:
    return form.inputs["epochs"].value()


def test_the_epochs_field_shows_what_min_steps_makes_of_the_preset_and_says_why(form):
    form.set_dataset_size(len(CLIPS), CLIPS)
    runs = ensure_min_steps(apply_preset(TrainingConfig(), "tiny"), train_clips=8).epochs
    assert runs == 2500 > PRESETS["tiny"]["epochs"]
    assert epochs(form) == runs == form.epoch_plan.epochs
    note = form.epochs_note.text()
    assert form.epochs_note.isVisible()
    assert "2,500 epochs" in note and "at least 2,500 steps" in note and "tiny folder" in note
    assert "300" in note  # what the preset asked for
    assert form.explicit() == set()  # shown, not set: the run computes the same number itself
    assert not form.labels["epochs"].font().bold()

    form.set_value("batch_size", 4)  # two steps an epoch over eight clips: half the epochs
    assert form.epoch_plan.steps_per_epoch == 2 and epochs(form) == 1250
    assert "1,250 epochs" in form.epochs_note.text()


def test_with_only_the_file_count_the_note_says_what_it_can_then_updates(form):
    form.set_dataset_size(len(CLIPS))
    assert epochs(form) == PRESETS["tiny"]["epochs"] and form.epoch_plan is None
    assert "At least 2,500 steps for a tiny folder" in form.epochs_note.text()
    form.set_dataset_size(len(CLIPS), CLIPS)  # the clips are counted
    assert epochs(form) == 2500 and "2,500 epochs" in form.epochs_note.text()


def test_epochs_the_user_types_are_never_raised_and_the_note_says_so(form):
    form.set_dataset_size(len(CLIPS), CLIPS)
    form.set_value("epochs", 20)
    assert epochs(form) == 20 and form.explicit() == {"epochs"}
    assert form.training_config().epochs == 20 and form.epoch_plan.epochs == 20
    note = form.epochs_note.text()
    assert "20 epochs as you set" in note and "20 steps" in note and "at least 2,500" in note
    form.set_value("batch_size", 2)  # more steps an epoch change nothing in what was typed
    assert epochs(form) == 20 and form.epoch_plan.steps == 80
    form.reset_to_preset()
    assert epochs(form) == 2500 and form.explicit() == set()


def test_a_preset_without_min_steps_shows_the_steps_only(form):
    form.set_preset("large")
    form.set_dataset_size(len(CLIPS), CLIPS)
    assert epochs(form) == PRESETS["large"]["epochs"]
    assert form.epochs_note.text() == "60 steps (1 step per epoch)"
    form.set_dataset_size(None)
    assert not form.epochs_note.isVisible()


def test_the_level_weight_typed_in_the_form_reaches_the_training_config(form):
    assert form.training_config().loss_weights.level == 0.0
    box = form.inputs["loss_weights.level"]
    box.setValue(1.5)
    box.editingFinished.emit()  # what typing and leaving the field does
    assert "loss_weights" in form.explicit()
    config = form.training_config()
    assert config.loss_weights.level == 1.5 and config.loss_weights.magnitude == 1.0
