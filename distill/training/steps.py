"""The verbs of one training run: optimiser and schedule, a training step, validation.

The waveform (multi-resolution STFT) term is off by default (``LossWeights.stft`` 0, as
measured there) and then not computed at all, not even in validation (it would add ~0.5 s
per 16 validation clips, every epoch: ~15 % of a small folder's run). When it is on, it
runs on ``stft_loss_clips`` clips of each training batch (default 1), not all of them.
Measured with ``benchmarks/train.py`` (2-core shared VM, 17 M-parameter model, 2 threads,
medians of 12 steps): the term costs ~13 ms per clip per step (synthesis of target and
reconstruction, three STFT resolutions, the backward pass through the differentiable
inverse), whatever the batch size. Spectrogram-only steps took 160 ms (batch 8) and 361 ms
(batch 32); with the term on every clip 266 / 783 ms (+66 % / +117 %), on 2 clips 192 /
396 ms, on 1 clip 171 / 389 ms (+7 % / +8 %, within this machine's run-to-run noise) — and
it is off for the first ``stft_start_fraction`` of the run. Batches are shuffled, so the
first clip of a batch is a uniform random draw and the term's expected gradient is
unchanged; only its variance grows, while the spectrogram terms (on every clip) carry most
of the signal. Caching target waveforms would save only the gradient-free third of the
cost, never with augmentation (targets change every epoch), at ~0.2 MB of RAM per clip:
not done. Validation computes every term that is on, on every clip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from distill.audio.normalization import NormalizationStats
from distill.audio.spectrogram import ComplexSpectrogram
from distill.models import ConvVAE, LossTerms, multi_resolution_stft_loss, vae_loss
from distill.models.losses import Synthesize
from distill.training.config import LossWeights, TrainingConfig
from distill.training.memory import trim_if_grown


def make_synthesize(spectrogram: ComplexSpectrogram, normalization: NormalizationStats) -> Synthesize:
    """Normalised ``[B, 2, M, T]`` -> waveforms ``[B, 1, S]`` through the differentiable
    ("locked") inverse, for the waveform loss."""
    def synthesize(spec: torch.Tensor) -> torch.Tensor:
        # An untrained decoder's magnitudes can be huge; the inverse clamps them
        # (MAG_CEILING) so the waveform loss stays finite.
        return spectrogram.complex_mel_to_waveform(normalization.denormalize(spec), phase="locked")

    return synthesize


@dataclass(frozen=True)
class LossSetup:
    """How a batch is scored: term weights, the differentiable synthesis (None: no
    waveform term), how many clips of a batch get the waveform term (0 = all) and the
    factor of its weight at this point of the run (``state.stft_factor``); ``autocast``: the
    model's forward (and so its backward) runs in that type (``device.training_precision``),
    the losses in float32."""

    weights: LossWeights
    synthesize: Synthesize | None
    stft_clips: int = 0
    stft_factor: float = 1.0
    autocast: torch.dtype | None = None
    magnitude_scale: float = 1.0


@dataclass(frozen=True)
class StepResult:
    """Losses of one batch; ``problem`` is None when the update was applied, else why not."""

    losses: dict[str, float]
    grad_norm: float
    problem: str | None = None


class WarmupCosine:
    """Learning-rate factor of a step: linear warm-up, then cosine decay to ``floor``.

    A class, not a closure, so ``LambdaLR.state_dict`` stores its settings.
    """

    def __init__(self, total_steps: int, warmup_steps: int, floor: float) -> None:
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.floor = floor

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))


#: Devices whose AdamW runs as one fused kernel over every parameter (``fused=True``).
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


def make_optimizer(model: nn.Module, config: TrainingConfig) -> torch.optim.AdamW:
    """AdamW over ``model``'s parameters, fused on the devices that have the kernel.

    Fused, AdamW's update is one pass over each parameter instead of a dozen tensor
    operations: the 17 M-parameter model's update took 25 ms instead of 85 on 2 CPU threads
    (``foreach``: 41-77 ms, with list-sized temporaries), ~25 % of a batch-8 step. The same
    arithmetic, rounded differently (parameters agree to float32 precision).
    """
    params = list(model.parameters())
    device = params[0].device.type if params else "cpu"
    return torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay,
                             fused=True if device in FUSED_ADAMW_DEVICES else None)


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """``optimizer.load_state_dict(state)``, keeping this optimizer's implementation.

    A state dict carries its param groups' ``fused``/``foreach`` flags, so a checkpoint
    written before the optimizer was fused (or on another device) would otherwise switch
    the resumed run back to the slow path, or onto a kernel this device lacks.
    """
    modes = [{key: group.get(key) for key in ("fused", "foreach")} for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, mode in zip(optimizer.param_groups, modes, strict=True):
        group.update(mode)
        if not mode["fused"]:
            continue
        for param in group["params"]:  # the fused kernel reads its step count on the device
            slot = optimizer.state.get(param, {})
            if "step" in slot:
                slot["step"] = slot["step"].to(param.device, torch.float32)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainingConfig,
                   total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = min(total_steps, max(round(config.lr_warmup_fraction * total_steps),
                                  config.lr_warmup_min_steps))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, WarmupCosine(total_steps, warmup, config.min_lr_fraction))


def set_base_lr(optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LambdaLR,
                base_lr: float) -> float:
    """Change the schedule's peak learning rate (after a rollback); returns the current lr."""
    scheduler.base_lrs = [base_lr for _ in optimizer.param_groups]
    factor = scheduler.lr_lambdas[0](max(0, scheduler.last_epoch))
    for group in optimizer.param_groups:
        group["initial_lr"] = base_lr
        group["lr"] = base_lr * factor
    return base_lr * factor


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def forward(model: ConvVAE, batch: torch.Tensor, autocast: torch.dtype | None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``model(batch)`` with its passes in ``autocast`` (None: float32); the outputs
    ``(recon [B, 2, M, T], mu [B, D], logvar [B, D])`` in float32, for the losses."""
    with torch.autocast(batch.device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
        recon, mu, logvar = model(batch)
    return recon.float(), mu.float(), logvar.float()  # no-ops in float32


def batch_losses(model: ConvVAE, batch: torch.Tensor, setup: LossSetup, beta: float, *,
                 measure_stft: bool = False) -> LossTerms:
    """Every loss term of a batch ``[B, 2, M, T]`` (normalised) in the model's current mode.

    The waveform term covers the first ``setup.stft_clips`` clips (all when 0) and counts
    in the total with weight ``weights.stft * stft_factor``. When the term is off
    (``weights.stft`` 0) it is never computed (reported as 0); while it is on but its ramp
    is at 0, only with ``measure_stft``.
    """
    weight = setup.weights.stft * setup.stft_factor
    k = batch.shape[0] if setup.stft_clips <= 0 else min(setup.stft_clips, batch.shape[0])
    target = None
    if setup.synthesize is not None and setup.weights.stft != 0 and (weight != 0 or measure_stft):
        # The target's waveform first: its temporaries are freed before the forward's
        # activations exist, instead of adding to them at the step's memory peak.
        with torch.no_grad():
            target = setup.synthesize(batch[:k])
    recon, mu, logvar = forward(model, batch, setup.autocast)
    terms = vae_loss(recon, batch, mu, logvar, weights=setup.weights, beta=beta, synthesize=None,
                     magnitude_scale=setup.magnitude_scale)
    if target is None:
        return terms
    stft = multi_resolution_stft_loss(setup.synthesize(recon[:k]), target)
    return replace(terms, stft=stft, total=terms.total + weight * stft)


def train_step(model: ConvVAE, optimizer: torch.optim.Optimizer,
               scheduler: torch.optim.lr_scheduler.LRScheduler, batch: torch.Tensor,
               setup: LossSetup, beta: float, grad_clip_norm: float,
               max_loss: float = math.inf,
               reduce_losses: Callable[[dict[str, float]], dict[str, float]] | None = None
               ) -> StepResult:
    """One optimiser step on ``batch`` ``[B, 2, M, T]``, unless the loss or gradients are
    not finite or the loss exceeds ``max_loss``: then nothing is updated and
    ``problem`` says why (the caller rolls back). ``reduce_losses`` (distributed runs:
    the mean over the processes) turns this batch's losses into those every check and
    report uses, so that all processes take the same decision."""
    model.train()
    # Freed before the forward, not after it: the last step's gradients (as large as the
    # weights) would otherwise sit beside the activations, where a step's memory peaks.
    optimizer.zero_grad(set_to_none=True)
    terms = batch_losses(model, batch, setup, beta)
    losses = terms.as_floats()
    if reduce_losses is not None:
        losses = reduce_losses(losses)
    total = losses["total"]
    if not math.isfinite(total):
        return StepResult(losses, math.nan, f"the loss became {total}")
    if total > max_loss:
        return StepResult(losses, math.nan, f"the loss jumped to {total:.4g} (limit {max_loss:.4g})")
    terms.total.backward()
    norm = float(torch.nn.utils.clip_grad_norm_(
        model.parameters(), grad_clip_norm if grad_clip_norm > 0 else math.inf))
    if not math.isfinite(norm):
        optimizer.zero_grad(set_to_none=True)
        return StepResult(losses, norm, f"the gradients became {norm}")
    optimizer.step()
    scheduler.step()
    if batch.device.type == "cpu":
        trim_if_grown()  # bounds the resident peak (distill.training.memory)
    return StepResult(losses, norm)


@torch.no_grad()
def validate(model: ConvVAE, batches: Iterable[torch.Tensor], setup: LossSetup,
             beta: float) -> dict[str, float]:
    """Mean of every loss term over ``batches`` (eval mode: the decoder sees ``mu``),
    weighted by batch size; ``{}`` when there is no batch. The waveform term is measured
    on every clip while the term is on, even before its ramp starts."""
    model.eval()
    sums: dict[str, float] = {}
    count = 0
    full = replace(setup, stft_clips=0)
    for batch in batches:
        n = batch.shape[0]
        for name, value in batch_losses(model, batch, full, beta, measure_stft=True).as_floats().items():
            sums[name] = sums.get(name, 0.0) + value * n
        count += n
    model.train()
    return {name: value / count for name, value in sums.items()} if count else {}
