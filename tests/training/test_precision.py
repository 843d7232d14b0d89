"""Mixed precision: ``TrainingConfig.precision`` -> the autocast type of the forward pass,
and what a bfloat16 step computes (float32 losses and weights, bfloat16 convolutions)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from distill.audio.spectrogram import ComplexSpectrogram
from distill.models.config import LossWeights
from distill.models.inference import native_bfloat16
from distill.training import steps
from distill.training.config import TrainingConfig
from distill.training.device import training_precision
from tests.training.conftest import TINY_SPECTROGRAM, tiny_run
from tests.training.test_step_memory import batch_of, tiny_model


def test_precision_setting_is_checked():
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bfloat16"):
        TrainingConfig(precision="float16")


@pytest.mark.parametrize(("name", "device", "expected"), [
    ("float32", "cpu", None), ("bfloat16", "cpu", torch.bfloat16), ("bfloat16", "mps", None),
    ("auto", "mps", None),
])
def test_explicit_precisions(name, device, expected):
    assert training_precision(name, torch.device(device)) is expected


def test_auto_is_bfloat16_exactly_where_the_cpu_computes_it_natively():
    expected = torch.bfloat16 if native_bfloat16() else None
    assert training_precision("auto", torch.device("cpu")) is expected


def _setup(stats, autocast):
    synthesize = steps.make_synthesize(ComplexSpectrogram(TINY_SPECTROGRAM), stats)
    return steps.LossSetup(LossWeights(stft=0.005), synthesize, stft_clips=1, autocast=autocast)


def test_a_bfloat16_step_convolves_in_bfloat16_and_keeps_float32_losses_and_weights(tiny_cache):
    batch, stats = batch_of(tiny_cache)
    model = tiny_model()
    conv_types: list[torch.dtype] = []
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            module.register_forward_hook(lambda m, args, out: conv_types.append(out.dtype))
    run = tiny_run()
    optimizer = steps.make_optimizer(model, run.training)
    scheduler = steps.make_scheduler(optimizer, run.training, total_steps=10)
    result = steps.train_step(model, optimizer, scheduler, batch, _setup(stats, torch.bfloat16), 1e-3, 1.0)
    assert result.problem is None
    assert conv_types and set(conv_types) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 and p.grad is not None and p.grad.dtype == torch.float32
               for p in model.parameters())
    terms = steps.batch_losses(model.eval(), batch, _setup(stats, torch.bfloat16), 1e-3, measure_stft=True)
    assert all(getattr(terms, name).dtype == torch.float32 for name in ("magnitude", "stft", "kl", "total"))


def test_bfloat16_losses_agree_with_float32(tiny_cache):
    # Rounding to bfloat16 (8 bits of mantissa) moves each term by a few per mille, not
    # more: the training signal is the same.
    batch, stats = batch_of(tiny_cache)
    model = tiny_model().eval()
    full, half = (steps.batch_losses(model, batch, _setup(stats, autocast), 1e-3,
                                     measure_stft=True).as_floats()
                  for autocast in (None, torch.bfloat16))
    for name in ("magnitude", "instantaneous_frequency", "stft", "total"):
        assert half[name] == pytest.approx(full[name], rel=0.03), name
