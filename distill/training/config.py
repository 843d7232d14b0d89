"""``TrainingConfig`` and ``RunConfig`` (the four parts of a training run), each serialisable to JSON.

The other parts live in the package they describe and are re-exported here, so one
import gives a whole run (and the spec path ``distill.training.config.
ComplexSpectrogramConfig`` keeps working): ``ComplexSpectrogramConfig``
(``distill.audio.config``), ``DataConfig`` and ``AugmentationConfig``
(``distill.data.config``), ``ModelConfig`` and ``LossWeights`` (``distill.models.config``).
Thresholds and intervals live in these configs, never inline in the code that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from distill.audio.config import ComplexSpectrogramConfig
from distill.config_base import ConfigBase, check_range
from distill.data.config import AugmentationConfig, DataConfig
from distill.models.config import LossWeights, ModelConfig

__all__ = [
    "PRESET_NAMES",
    "AugmentationConfig",
    "ComplexSpectrogramConfig",
    "DataConfig",
    "LossWeights",
    "ModelConfig",
    "RunConfig",
    "TrainingConfig",
]


@dataclass(frozen=True)
class TrainingConfig(ConfigBase):
    """Everything a training run needs beyond the data and the model.

    ``preset`` names the dataset-size preset ("auto" picks one from the number of files);
    settings given explicitly by the user win over the preset's
    (``distill.training.presets.apply_preset``).

    Attributes
    ----------
    epochs, batch_size, learning_rate, weight_decay
        The optimiser (AdamW) and the length of the run.
    min_steps
        Epochs are raised until the run makes at least this many optimiser steps: a
        40-clip dataset has only a few steps per epoch, and a model learns by steps, not
        epochs. Never applied when the user set ``epochs`` (0 = off).
    lr_warmup_fraction, min_lr_fraction
        Learning-rate schedule: linear warm-up over this share of the steps, then a cosine
        decay to ``min_lr_fraction`` times the learning rate.
    lr_warmup_min_steps
        The warm-up lasts at least this many steps. At full rate from the start, Adam
        moves every weight of the encoder's 12,288-input mean head by ~lr at once: the
        latent means jumped to ~1e3 within 5 steps on the demo (KL 5e7) and the
        divergence guard rolled back; with a 10-step ramp KL stayed below 520 and the
        loss fell faster.
    kl_warmup_fraction, kl_max_beta
        The KL weight ramps linearly from 0 to ``kl_max_beta`` over this share of the steps.
    stft_loss_clips
        Clips of each training batch that also get the waveform (multi-resolution STFT)
        loss; 0 = every clip. The term costs ~13 ms per clip and step on 2 CPU threads
        whatever the batch size (``benchmarks/train.py``: +66 % on a whole batch of 8,
        +7 % on one clip); a random sub-batch gives the same expected gradient for a
        fraction of it (see ``distill.training.steps``). Validation uses every clip.
    stft_start_fraction, stft_ramp_fraction
        The waveform loss is off for this share of the steps, then its weight ramps up
        linearly over the next share. From an untrained decoder the synthesised waveform
        is orders of magnitude too loud, so the term (~100x the others) and its gradient
        swamp the spectrogram terms and magnitude learning stalls; once the spectrogram
        is roughly right the term refines it (measured: same validation magnitude loss
        as without it, waveform loss 2.3 vs 3.5 with the term on from step 0).
    validation_fraction, min_files_for_file_split
        Held-out share, split by file from this many files on, by clip below.
    checkpoint_every_epochs, keep_checkpoints, preview_every_epochs
        Checkpoint cadence (plus one on finish and one on cancel or stop), how many to
        keep, and how often a preview (spectrogram + audio) is rendered.
    precision
        Arithmetic of the forward and backward passes: "float32", "bfloat16" (autocast:
        convolutions and matrix products in bfloat16, weights, optimiser and losses in
        float32) or "auto" = bfloat16 where the hardware computes it natively (CPUs with
        AVX512-BF16 or AMX, CUDA GPUs that support it), else float32
        (``distill.training.device.training_precision``).
    checkpoint_every_minutes
        A checkpoint is also written mid-epoch once this much time has passed
        since the last one (0 = only by epochs): the tiny preset checkpoints every 25
        epochs, which can be an hour on a big folder, and a short run would otherwise
        leave nothing to resume until it ends.
    early_stop_patience
        Stop after this many epochs without a better validation loss; 0 = never.
    seed, device, num_threads, num_workers
        Reproducibility, ``"auto"`` = CUDA, then MPS, then CPU; torch threads (0 = the
        policy of ``distill.threads``); DataLoader worker processes (0 = in-process).
    grad_clip_norm
        Gradients are clipped to this global norm (0 = no clipping).
    max_rollbacks, rollback_lr_factor, divergence_factor, divergence_window, divergence_min_steps
        Divergence handling: a NaN/Inf loss, or one above ``divergence_factor`` times the
        median of the last ``divergence_window`` step losses (once ``divergence_min_steps``
        are known), rolls back to the last good checkpoint with the learning rate times
        ``rollback_lr_factor``; after ``max_rollbacks`` rollbacks training stops.
    """

    epochs: int = 100
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    kl_warmup_fraction: float = 0.3
    kl_max_beta: float = 1e-4
    loss_weights: LossWeights = field(default_factory=LossWeights)
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    validation_fraction: float = 0.15
    min_files_for_file_split: int = 8
    checkpoint_every_epochs: int = 5
    preview_every_epochs: int = 1
    seed: int = 0
    device: str = "auto"
    num_threads: int = 0
    grad_clip_norm: float = 1.0
    max_rollbacks: int = 3
    rollback_lr_factor: float = 0.5
    divergence_factor: float = 1e3
    preset: str = "auto"
    min_steps: int = 0
    lr_warmup_fraction: float = 0.02
    lr_warmup_min_steps: int = 100
    min_lr_fraction: float = 0.1
    stft_loss_clips: int = 1
    stft_start_fraction: float = 0.2
    stft_ramp_fraction: float = 0.1
    keep_checkpoints: int = 3
    early_stop_patience: int = 0
    num_workers: int = 0
    divergence_window: int = 50
    divergence_min_steps: int = 10
    checkpoint_every_minutes: float = 10.0
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if not 0 <= self.kl_warmup_fraction <= 1:
            raise ValueError(f"kl_warmup_fraction must be in [0, 1], got {self.kl_warmup_fraction}")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be auto, cpu, cuda[:N] or mps, got {self.device!r}")
        if self.lr_warmup_min_steps < 0:
            raise ValueError(f"lr_warmup_min_steps must be >= 0, got {self.lr_warmup_min_steps}")
        if self.min_steps < 0:
            raise ValueError(f"min_steps must be >= 0, got {self.min_steps}")
        if self.num_threads < 0:
            raise ValueError(f"num_threads must be >= 0 (0 = automatic), got {self.num_threads}")
        if self.precision not in TRAINING_PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(TRAINING_PRECISIONS)}, "
                             f"got {self.precision!r}")
        if self.preset not in PRESET_NAMES:
            raise ValueError(f"preset must be one of {', '.join(PRESET_NAMES)}, got {self.preset!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.kl_max_beta < 0:
            raise ValueError(f"kl_max_beta must be >= 0, got {self.kl_max_beta}")
        for name in ("lr_warmup_fraction", "min_lr_fraction", "stft_start_fraction", "stft_ramp_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("stft_loss_clips", "early_stop_patience", "num_workers", "max_rollbacks"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("checkpoint_every_epochs", "keep_checkpoints", "preview_every_epochs",
                     "divergence_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.rollback_lr_factor < 1:
            raise ValueError(f"rollback_lr_factor must be in (0, 1), got {self.rollback_lr_factor}")
        if self.divergence_factor <= 1:
            raise ValueError(f"divergence_factor must be > 1, got {self.divergence_factor}")
        self._check_ranges()

    def _check_ranges(self) -> None:
        """Upper (and type) bounds of every number: a settings file can hold anything."""
        owner = type(self).__name__
        for name, high in _INTEGER_BOUNDS.items():
            check_range(owner, name, getattr(self, name), 0, high, integer=True)
        for name, (low, high) in _REAL_BOUNDS.items():
            check_range(owner, name, getattr(self, name), low, high)


#: Largest value of each whole-number training setting (lower bounds are checked below).
_INTEGER_BOUNDS = {
    "epochs": 1_000_000, "batch_size": 65_536, "min_files_for_file_split": 1_000_000,
    "checkpoint_every_epochs": 1_000_000, "preview_every_epochs": 1_000_000, "seed": 2**63 - 1,
    "num_threads": 4096, "max_rollbacks": 1000, "min_steps": 100_000_000,
    "lr_warmup_min_steps": 100_000_000, "stft_loss_clips": 65_536, "keep_checkpoints": 10_000,
    "early_stop_patience": 1_000_000, "num_workers": 1024, "divergence_window": 1_000_000,
    "divergence_min_steps": 1_000_000,
}
#: Range of each real-valued training setting.
_REAL_BOUNDS = {
    "learning_rate": (0, 10.0), "weight_decay": (0, 100.0), "kl_warmup_fraction": (0, 1),
    "kl_max_beta": (0, 1e6), "validation_fraction": (0, 1), "grad_clip_norm": (0, 1e9),
    "rollback_lr_factor": (0, 1), "divergence_factor": (1, 1e12), "lr_warmup_fraction": (0, 1),
    "min_lr_fraction": (0, 1), "stft_start_fraction": (0, 1), "stft_ramp_fraction": (0, 1),
    "checkpoint_every_minutes": (0, 7 * 24 * 60),
}


#: Values of ``TrainingConfig.precision``.
TRAINING_PRECISIONS = ("auto", "float32", "bfloat16")

#: Dataset-size presets (``distill.training.presets``); "auto" picks one from the file count.
PRESET_NAMES = ("auto", "tiny", "small", "large")


@dataclass(frozen=True)
class RunConfig(ConfigBase):
    """The whole configuration of a training run: representation, clips, model, training.

    Checkpoints store it as one document; model files store its four parts.
    """

    spectrogram: ComplexSpectrogramConfig = field(default_factory=ComplexSpectrogramConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
