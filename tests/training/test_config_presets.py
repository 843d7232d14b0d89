"""Training configuration: JSON round trip, validation, presets and explicit settings."""

from __future__ import annotations

import pytest

from distill.data.config import AugmentationConfig
from distill.models.config import LossWeights, ModelConfig
from distill.training.config import RunConfig, TrainingConfig
from distill.training.presets import PRESETS, apply_preset, choose_preset, resolve_preset


def test_run_config_json_round_trip():
    run = RunConfig(model=ModelConfig(latent_dim=16, channels=(8, 16, 32, 64, 128)),
                    training=TrainingConfig(epochs=7, loss_weights=LossWeights(stft=0.0), preset="tiny",
                                            augmentation=AugmentationConfig(enabled=True, gain_db=1.5)))
    again = RunConfig.from_json(run.to_json())
    assert again == run and isinstance(again.model.channels, tuple)
    assert RunConfig.from_dict({"training": {"epochs": 3}}).training == TrainingConfig(epochs=3)


@pytest.mark.parametrize("bad", [
    {"preset": "huge"}, {"rollback_lr_factor": 1.0}, {"divergence_factor": 0.5},
    {"keep_checkpoints": 0}, {"stft_loss_clips": -1}, {"stft_start_fraction": 2.0}, {"device": "tpu"},
])
def test_invalid_settings_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrainingConfig(**bad)


def test_unknown_setting_is_named():
    with pytest.raises(ValueError, match=r"unknown setting.*epoch_count"):
        RunConfig.from_dict({"training": {"epoch_count": 3}})


@pytest.mark.parametrize(("files", "preset"), [(1, "tiny"), (5, "tiny"), (20, "tiny"), (21, "small"),
                                               (100, "small"), (101, "large"), (500, "large")])
def test_preset_follows_the_number_of_files(files, preset):
    assert choose_preset(files) == preset


def test_tiny_preset_regularises_more_than_large():
    tiny, large = apply_preset(TrainingConfig(), "tiny"), apply_preset(TrainingConfig(), "large")
    assert tiny.augmentation.enabled and not large.augmentation.enabled
    assert tiny.weight_decay > large.weight_decay
    assert tiny.kl_warmup_fraction > large.kl_warmup_fraction and tiny.epochs > large.epochs
    assert (tiny.preset, large.preset) == ("tiny", "large")


def test_explicit_settings_win_over_the_preset():
    user = TrainingConfig(epochs=12, batch_size=4, augmentation=AugmentationConfig(enabled=False, gain_db=6))
    applied = apply_preset(user, "tiny", explicit={"epochs", "augmentation.enabled"})
    assert applied.epochs == 12  # explicit
    assert applied.batch_size == PRESETS["tiny"]["batch_size"]  # not explicit: the preset's
    assert applied.augmentation.enabled is False  # one explicit field of the augmentation ...
    assert applied.augmentation.gain_db == PRESETS["tiny"]["augmentation"].gain_db  # ... the rest preset
    kept = apply_preset(user, "tiny", explicit={"augmentation"})
    assert kept.augmentation == user.augmentation


def test_auto_resolves_from_the_file_count_and_a_named_preset_is_kept():
    assert resolve_preset(TrainingConfig(), 8).preset == "tiny"
    assert resolve_preset(TrainingConfig(preset="large"), 8).preset == "large"
    with pytest.raises(ValueError, match="unknown preset"):
        apply_preset(TrainingConfig(), "auto")


def test_small_datasets_get_enough_optimiser_steps():
    from distill.training.presets import ensure_min_steps

    tiny = apply_preset(TrainingConfig(), "tiny")
    raised = ensure_min_steps(tiny, train_clips=40)  # 5 steps per epoch at batch 8
    assert raised.epochs == 500 and raised.epochs * 5 >= tiny.min_steps
    assert ensure_min_steps(tiny, train_clips=4000).epochs == tiny.epochs  # already enough
    assert ensure_min_steps(tiny.replace(epochs=20), 40, explicit={"epochs"}).epochs == 20
    large = apply_preset(TrainingConfig(), "large")
    assert large.min_steps == 0 and ensure_min_steps(large, 40).epochs == large.epochs


def test_the_epoch_plan_is_what_the_run_makes_and_says_why():
    from distill.data.split import split_clips
    from distill.training.batches import steps_per_epoch
    from distill.training.presets import ensure_min_steps, plan_epochs

    tiny = apply_preset(TrainingConfig(), "tiny")
    clips = [3, 1, 1, 1, 2, 2]  # six files, ten clips: split by clip, two held out
    train_clips = len(split_clips(clips, tiny.validation_fraction, tiny.min_files_for_file_split,
                                  tiny.seed).train)
    plan = plan_epochs(tiny, clips)
    assert plan.train_clips == train_clips == 8
    assert plan.steps_per_epoch == steps_per_epoch(8, tiny.batch_size) == 1
    assert plan.epochs == ensure_min_steps(tiny, train_clips).epochs == 2500
    assert plan.raised and plan.requested == 300 and not plan.explicit
    assert plan.steps >= tiny.min_steps == plan.min_steps

    mine = plan_epochs(tiny.replace(epochs=20), clips, explicit={"epochs"})
    assert mine.epochs == 20 and not mine.raised  # a number the user set runs as set
    assert mine.explicit and mine.short_of_min_steps and mine.steps == 20

    more_held_out = plan_epochs(tiny.replace(validation_fraction=0.5), clips)
    assert more_held_out.train_clips == 5 and more_held_out.epochs == 2500
    large = plan_epochs(apply_preset(TrainingConfig(), "large"), [40] * 200)
    assert not large.raised and large.epochs == PRESETS["large"]["epochs"]
    assert large.train_clips == 40 * 170  # split by file: 30 of 200 files held out
    empty = plan_epochs(tiny, [0, 0])
    assert empty.train_clips == 0 and empty.epochs == tiny.epochs and empty.steps == 0
