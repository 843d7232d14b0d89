"""Dotted-key settings: one reading and one writing of ``"section.field"`` for studio and presets."""

from __future__ import annotations

import pytest

from distill.training.config import TrainingConfig
from distill.training.overrides import config_value, config_with, dotted_keys
from distill.training.presets import PRESETS, apply_preset


def test_dotted_keys_read_and_write_nested_settings():
    base = TrainingConfig()
    changed = config_with(base, {"epochs": 7, "loss_weights.kl": 0.5, "augmentation.enabled": True,
                                 "augmentation.noise_level": 0.05})
    assert changed.epochs == 7 and config_value(changed, "epochs") == 7
    assert changed.loss_weights.kl == 0.5 and config_value(changed, "loss_weights.kl") == 0.5
    assert changed.augmentation.enabled and changed.augmentation.noise_level == 0.05
    # everything not named keeps its value, and the original is untouched (frozen configs)
    assert changed.loss_weights.magnitude == base.loss_weights.magnitude
    assert changed.augmentation.gain_db == base.augmentation.gain_db
    assert base.epochs != 7 and config_with(base, {}) == base


@pytest.mark.parametrize("key", ["epoch", "loss_weights.kll", "epochs.value", "nothing.at_all"])
def test_unknown_keys_are_refused(key):
    with pytest.raises(KeyError):
        config_with(TrainingConfig(), {key: 1})
    with pytest.raises(KeyError):
        config_value(TrainingConfig(), key)


@pytest.mark.parametrize(("key", "value"), [("epochs", True), ("epochs", 2.5), ("learning_rate", "fast"),
                                            ("augmentation.enabled", 1), ("loss_weights.kl", False)])
def test_values_of_another_type_are_refused(key, value):
    with pytest.raises(TypeError):
        config_with(TrainingConfig(), {key: value})


def test_a_float_setting_takes_a_whole_number():
    assert config_with(TrainingConfig(), {"learning_rate": 1}).learning_rate == 1


def test_presets_keep_a_users_field_inside_the_section_they_replace():
    user = config_with(TrainingConfig(), {"augmentation.enabled": False, "epochs": 3})
    tiny = apply_preset(user, "tiny", explicit={"augmentation.enabled", "epochs"})
    assert PRESETS["tiny"]["augmentation"].enabled and not tiny.augmentation.enabled
    assert tiny.augmentation.noise_level == PRESETS["tiny"]["augmentation"].noise_level
    assert tiny.epochs == 3 and tiny.batch_size == PRESETS["tiny"]["batch_size"]


def test_dotted_keys_name_a_sections_fields_not_the_section():
    document = {"epochs": 5, "augmentation": {"enabled": True, "crop_offsets": True},
                "loss_weights": {}, "seed": None}
    keys = dotted_keys(document)
    assert keys == {"epochs", "augmentation.enabled", "augmentation.crop_offsets", "seed"}
    for key in keys:  # each one a setting the presets and the studio read the same way
        config_value(TrainingConfig(), key)
