"""What a training step keeps in memory and how the optimizer updates: the levers of
``benchmarks/train.py``'s peak RSS and step time, checked for behaviour (never timed)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from distill.audio.normalization import NormalizationStats
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data import make_datasets
from distill.models import ConvVAE
from distill.models.config import LossWeights
from distill.training import steps
from tests.training.conftest import TINY_DATA, TINY_MODEL, TINY_SPECTROGRAM, tiny_run


def tiny_model(seed: int = 0) -> ConvVAE:
    torch.manual_seed(seed)
    return ConvVAE.from_config(TINY_MODEL, TINY_SPECTROGRAM, TINY_DATA).train()


def batch_of(cache, size: int = 4) -> tuple[torch.Tensor, NormalizationStats]:
    datasets = make_datasets(cache, tiny_run().training)
    items = [datasets.train[i].spectrogram for i in range(size)]
    return torch.stack(items), datasets.stats  # [B, 2, M, T]


def test_previous_gradients_are_gone_during_the_forward(tiny_cache):
    # The gradients (as large as the weights: 68 MB for the default model) must not sit
    # beside the activations of the forward pass, where a step's memory peaks.
    batch, stats = batch_of(tiny_cache)
    model = tiny_model()
    run = tiny_run()
    optimizer = steps.make_optimizer(model, run.training)
    scheduler = steps.make_scheduler(optimizer, run.training, total_steps=10)
    synthesize = steps.make_synthesize(ComplexSpectrogram(TINY_SPECTROGRAM), stats)
    setup = steps.LossSetup(LossWeights(stft=0.005), synthesize, stft_clips=1)
    seen: list[bool] = []
    model.register_forward_pre_hook(lambda module, args: seen.append(
        all(p.grad is None for p in module.parameters())))
    for _ in range(3):
        result = steps.train_step(model, optimizer, scheduler, batch, setup, 1e-3, 1.0)
        assert result.problem is None
        assert all(p.grad is not None for p in model.parameters())  # the update had them
    assert seen == [True, True, True]


def test_in_place_activations_give_the_same_gradients(tiny_cache):
    batch, _ = batch_of(tiny_cache)
    grads = []
    for inplace in (True, False):
        model = tiny_model()
        relus = [m for m in model.modules() if isinstance(m, nn.LeakyReLU)]
        assert len(relus) == 2 * len(TINY_MODEL.channels) - 1 and all(m.inplace for m in relus)
        for m in relus:
            m.inplace = inplace
        torch.manual_seed(1)  # the same reparameterisation noise
        recon, mu, logvar = model(batch)
        (recon.square().mean() + mu.square().mean() + logvar.exp().mean()).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        assert torch.equal(a, b)


def test_fused_adamw_follows_the_reference_update():
    # Given the same gradients, the fused update is the per-tensor loop's to float32
    # rounding (fed through training, rounding differences grow like any others).
    config = tiny_run(weight_decay=0.01).training
    fused, reference = tiny_model(), tiny_model()
    fast = steps.make_optimizer(fused, config)
    assert fast.param_groups[0]["fused"] is True  # on the CPU
    slow = torch.optim.AdamW(reference.parameters(), lr=config.learning_rate,
                             weight_decay=config.weight_decay, foreach=False)
    generator = torch.Generator().manual_seed(3)
    for _ in range(4):
        for a, b in zip(fused.parameters(), reference.parameters(), strict=True):
            a.grad = torch.randn(a.shape, generator=generator)
            b.grad = a.grad.clone()
        fast.step()
        slow.step()
    start = tiny_model()
    moved = max(float((a - b).detach().abs().max()) for a, b in zip(fused.parameters(), start.parameters(),
                                                           strict=True))
    assert moved > 3 * config.learning_rate  # four steps of about lr each
    for a, b in zip(fused.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_checkpoint_of_the_unfused_optimizer_resumes_fused(tiny_cache):
    # Checkpoints written before the optimizer was fused store fused=None in their param
    # groups; loading one must not switch the resumed run back to the per-tensor loop.
    batch, _ = batch_of(tiny_cache)
    config = tiny_run().training
    model = tiny_model()
    old = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, foreach=False)
    for _ in range(2):
        old.zero_grad()
        model(batch)[0].abs().mean().backward()
        old.step()
    state = old.state_dict()
    assert state["param_groups"][0]["fused"] is None

    resumed = steps.make_optimizer(model, config)
    steps.load_optimizer_state(resumed, state)
    group = resumed.param_groups[0]
    assert group["fused"] is True and group["foreach"] is None
    assert all(float(resumed.state[p]["step"]) == 2.0 for p in model.parameters())
    before = [p.detach().clone() for p in model.parameters()]
    resumed.zero_grad()
    model(batch)[0].abs().mean().backward()
    resumed.step()
    assert all(float(resumed.state[p]["step"]) == 3.0 for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_the_heap_is_trimmed_only_once_it_has_grown(monkeypatch):
    import sys

    import numpy as np

    from distill.training import memory

    if not memory.release_freed_memory():
        pytest.skip(f"no malloc_trim in this C library ({sys.platform})")
    monkeypatch.setattr(memory, "_last_trimmed_rss", 0)  # as in a fresh process
    assert memory.trim_if_grown()  # the first call sets the mark
    assert not memory.trim_if_grown()  # nothing grew since
    grown = np.ones(max(64 << 20, int(0.2 * memory._rss_bytes())), dtype=np.uint8)  # touched pages
    assert memory.trim_if_grown()
    del grown
