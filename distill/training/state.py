"""The mutable state of a training run: counters, running sums, history, rollbacks.

Everything here is plain Python (JSON in checkpoints); tensors (model, optimizer,
scheduler, RNG) are stored beside it by ``distill.training.checkpoint``.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Literal

from distill.training.config import TrainingConfig


@dataclass
class TrainState:
    """Where a run stands.

    Attributes
    ----------
    epoch
        Epochs completed.
    step
        Optimiser steps completed over the whole run.
    batch_in_epoch
        Batches of epoch ``epoch + 1`` already trained (non-zero only in a checkpoint
        written on cancel, so resuming continues mid-epoch).
    epoch_sums, epoch_batches, epoch_seconds
        Running sums of the current epoch's training losses, its batch count and time.
    best_validation, epochs_since_best
        Best validation total so far (None before the first) and epochs since it.
    lr_scale, rollbacks
        Learning-rate factor left by rollbacks (``rollback_lr_factor ** rollbacks``).
    recent_losses
        Last step totals (the window of the running median divergence check).
    history
        One record per completed epoch: ``{"epoch", "train": {...}, "validation": {...},
        "lr", "beta", "seconds"}``.
    """

    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    epoch_sums: dict[str, float] = field(default_factory=dict)
    epoch_batches: int = 0
    epoch_seconds: float = 0.0
    best_validation: float | None = None
    epochs_since_best: int = 0
    lr_scale: float = 1.0
    rollbacks: int = 0
    recent_losses: list[float] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainState:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown training state field(s) {', '.join(unknown)}")
        return cls(**data)

    def add_step(self, losses: dict[str, float], window: int) -> None:
        """Count one optimiser step and its losses."""
        self.step += 1
        self.batch_in_epoch += 1
        self.epoch_batches += 1
        for name, value in losses.items():
            self.epoch_sums[name] = self.epoch_sums.get(name, 0.0) + value
        self.recent_losses = [*self.recent_losses, losses["total"]][-window:]

    def epoch_means(self) -> dict[str, float]:
        n = max(1, self.epoch_batches)
        return {name: value / n for name, value in self.epoch_sums.items()}

    def end_epoch(self, record: dict[str, Any], validation_total: float | None) -> bool:
        """Close the epoch with its history record; True when validation improved."""
        self.epoch += 1
        self.batch_in_epoch = 0
        self.epoch_sums, self.epoch_batches, self.epoch_seconds = {}, 0, 0.0
        self.history.append(record)
        if validation_total is None:
            return False
        if self.best_validation is None or validation_total < self.best_validation:
            self.best_validation, self.epochs_since_best = validation_total, 0
            return True
        self.epochs_since_best += 1
        return False


def loss_limit(recent: list[float], config: TrainingConfig) -> float:
    """Largest step loss accepted: ``divergence_factor`` x the running median (inf until
    ``divergence_min_steps`` losses are known)."""
    if len(recent) < config.divergence_min_steps:
        return math.inf
    return config.divergence_factor * max(statistics.median(recent), 1e-12)


def kl_beta(step: int, total_steps: int, config: TrainingConfig) -> float:
    """KL weight of a step: linear ramp 0 -> ``kl_max_beta`` over ``kl_warmup_fraction``."""
    ramp = config.kl_warmup_fraction * total_steps
    if ramp <= 0:
        return config.kl_max_beta
    return config.kl_max_beta * min(1.0, step / ramp)


def stft_factor(step: int, total_steps: int, config: TrainingConfig) -> float:
    """Factor of the waveform-loss weight: 0 for ``stft_start_fraction`` of the steps, then
    a linear ramp to 1 over ``stft_ramp_fraction``."""
    start = config.stft_start_fraction * total_steps
    ramp = config.stft_ramp_fraction * total_steps
    if step < start:
        return 0.0
    return 1.0 if ramp <= 0 else min(1.0, (step - start) / ramp)


Status = Literal["finished", "stopped", "cancelled", "stopped_early", "diverged", "bad_data",
                 "checkpoint_failed"]


@dataclass(frozen=True)
class TrainOutcome:
    """How ``Trainer.run`` ended; ``message`` explains a divergence, bad data or a failed
    checkpoint; ``bad_clip`` is ``(file index, clip index)`` of a clip holding NaN/inf
    (file index into the cache's usable files)."""

    status: Status
    epochs: int
    steps: int
    message: str | None = None
    bad_clip: tuple[int, int] | None = None
