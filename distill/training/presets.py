"""Training presets chosen from the size of the dataset.

- ``tiny`` (5-20 files): a few minutes of audio at most, so the model sees every clip
  often and memorises fast. Augmentation on, decoupled weight decay, a longer and
  stronger KL warm-up (a smoother latent space rather than a lookup table), more epochs
  (each epoch is only a few steps) and smaller batches (more steps per epoch).
- ``min_steps`` (tiny, small): epochs are raised until the run makes that many optimiser
  steps. The demo (44 clips) at batch 16 makes 3 steps an epoch: 150 epochs are only 450
  steps, far from a fitted model.
- ``small`` (21-100 files): light regularisation, light augmentation (gain only).
- ``large`` (more): no augmentation, bigger batches, fewer epochs (each epoch is long).
- ``kl_max_beta``: a tenth of what it was (tiny 2e-3, small and large 1e-3). At 1e-3 the
  posterior collapsed: on 24 real recordings of 4 families (``benchmarks/quality.py``) the
  encoder kept 1.6 nats in all after 344 steps and 15-20 nats after full runs, so every
  clip came back as a blurred average, 10-14 dB too quiet. At 1e-4 it keeps ~65 nats, and
  in the same 30 minutes (with bfloat16 training) training clips came back with spectral
  convergence 0.51 instead of 0.64, 2.0 dB too quiet instead of 5.4, and random points
  of the map sound as close to the folder as held-out real clips do (feature distance 0.33
  vs 0.36; was 0.74). Draws from the N(0, I) prior moved further (1.50 vs 0.88): the
  studio never plays them, it plays the dataset's latents, sliders and map. Measured on
  ``small``; ``tiny`` and ``large`` follow by the same factor.

``apply_preset`` fills in the preset's values for every setting the user did not set
explicitly: explicit settings always win. ``plan_epochs`` says, before a run, how many
epochs it will make and why (what the studio shows next to the Epochs field).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distill.data.split import split_clips
from distill.training.batches import steps_per_epoch
from distill.training.config import PRESET_NAMES, AugmentationConfig, TrainingConfig
from distill.training.overrides import config_value, config_with

#: Largest file count of each preset, in order; above the last one: "large".
PRESET_LIMITS = (("tiny", 20), ("small", 100))

#: Settings of each preset (``TrainingConfig`` field -> value).
PRESETS: Mapping[str, Mapping[str, Any]] = {
    "tiny": {
        "epochs": 300,
        "min_steps": 2500,
        "batch_size": 8,
        "weight_decay": 1e-4,
        "kl_warmup_fraction": 0.5,
        "kl_max_beta": 2e-4,
        "augmentation": AugmentationConfig(enabled=True),
        "checkpoint_every_epochs": 25,
        "preview_every_epochs": 10,
    },
    "small": {
        "epochs": 150,
        "min_steps": 2500,
        "batch_size": 16,
        "weight_decay": 1e-5,
        "kl_warmup_fraction": 0.3,
        "kl_max_beta": 1e-4,
        "augmentation": AugmentationConfig(enabled=True, time_shift_frames=0, pitch_shift_bands=0,
                                           noise_level=0.0),
        "checkpoint_every_epochs": 10,
        "preview_every_epochs": 5,
    },
    "large": {
        "epochs": 60,
        "batch_size": 32,
        "weight_decay": 0.0,
        "kl_warmup_fraction": 0.2,
        "kl_max_beta": 1e-4,
        "augmentation": AugmentationConfig(enabled=False),
        "checkpoint_every_epochs": 5,
        "preview_every_epochs": 1,
    },
}


def choose_preset(num_files: int) -> str:
    """The preset for a dataset of ``num_files`` usable files: ``tiny``, ``small`` or ``large``."""
    for name, limit in PRESET_LIMITS:
        if num_files <= limit:
            return name
    return "large"


def apply_preset(config: TrainingConfig, preset: str, explicit: Iterable[str] = ()) -> TrainingConfig:
    """``config`` with the preset's settings, except those named in ``explicit``.

    Parameters
    ----------
    config
        The user's configuration (defaults plus whatever they changed).
    preset
        ``tiny``, ``small`` or ``large`` (resolve ``auto`` with ``choose_preset`` first).
    explicit
        ``TrainingConfig`` field names the user set: their values in ``config`` are kept.
        ``"augmentation.<field>"`` keeps one field of the augmentation and takes the rest
        from the preset; ``"augmentation"`` keeps all of it.

    Returns
    -------
    TrainingConfig
        A new config whose ``preset`` names the preset applied.
    """
    if preset not in PRESETS:
        choices = ", ".join(n for n in PRESET_NAMES if n != "auto")
        raise ValueError(f"unknown preset {preset!r} (choose {choices})")
    explicit = set(explicit)
    changes = {name: value for name, value in PRESETS[preset].items() if name not in explicit}
    # A field the user set inside a section the preset replaces (``augmentation.enabled``) wins.
    kept = {key: config_value(config, key) for key in explicit
            if key.partition(".")[0] in changes and "." in key}
    return config_with(config.replace(**changes, preset=preset), kept)


def ensure_min_steps(config: TrainingConfig, train_clips: int,
                     explicit: Iterable[str] = ()) -> TrainingConfig:
    """``config`` with epochs raised so the run makes ``config.min_steps`` optimiser steps
    over ``train_clips`` training clips (unchanged when the user set ``epochs``)."""
    if "epochs" in set(explicit) or config.min_steps <= 0 or train_clips <= 0:
        return config
    needed = math.ceil(config.min_steps / steps_per_epoch(train_clips, config.batch_size))
    return config if needed <= config.epochs else config.replace(epochs=needed)


def resolve_preset(config: TrainingConfig, num_files: int, explicit: Iterable[str] = ()) -> TrainingConfig:
    """Apply ``config.preset`` (``auto``: chosen from ``num_files``) under the explicit settings."""
    name = choose_preset(num_files) if config.preset == "auto" else config.preset
    return apply_preset(config, name, explicit)


@dataclass(frozen=True)
class EpochPlan:
    """How long a run on a given dataset will be, and why (``plan_epochs``).

    Attributes
    ----------
    epochs
        Epochs the run makes.
    requested
        Epochs of the configuration (the preset's or the user's) before ``min_steps``.
    steps_per_epoch
        Optimiser steps per epoch over ``train_clips``.
    train_clips
        Clips of the training split.
    min_steps
        The configuration's least number of steps (0: none).
    explicit
        The user set the epochs: they run exactly as set.
    """

    epochs: int
    requested: int
    steps_per_epoch: int
    train_clips: int
    min_steps: int
    explicit: bool

    @property
    def steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def raised(self) -> bool:
        """``min_steps`` raised the epochs above ``requested``."""
        return self.epochs > self.requested

    @property
    def short_of_min_steps(self) -> bool:
        """The user's epochs make fewer steps than the configuration's ``min_steps``."""
        return self.explicit and self.steps < self.min_steps


def train_clip_count(config: TrainingConfig, clips_per_file: Sequence[int]) -> int:
    """Clips in the training split of a cache whose usable files hold ``clips_per_file``
    clips (the split ``distill.data.make_datasets`` makes with ``config``); 0 without clips."""
    if sum(clips_per_file) <= 0:
        return 0
    split = split_clips(clips_per_file, config.validation_fraction, config.min_files_for_file_split,
                        config.seed)
    return len(split.train)


def plan_epochs(config: TrainingConfig, clips_per_file: Sequence[int],
                explicit: Iterable[str] = ()) -> EpochPlan:
    """The epochs a new run of ``config`` (preset already applied) will make over a cache
    whose usable files hold ``clips_per_file`` clips: ``ensure_min_steps`` over the
    training split, as ``distill.training.run.train`` applies it."""
    explicit = set(explicit)
    train_clips = train_clip_count(config, clips_per_file)
    planned = ensure_min_steps(config, train_clips, explicit)
    per_epoch = steps_per_epoch(train_clips, config.batch_size) if train_clips else 0
    return EpochPlan(planned.epochs, config.epochs, per_epoch, train_clips, config.min_steps,
                     "epochs" in explicit)
