"""The inference decoder (BatchNorm fused, linear folded) equals the eval-mode decoder."""

from __future__ import annotations

import pytest
import torch

from distill.models import InferenceDecoder, decoder_for_inference

from .conftest import tiny_vae, with_trained_batchnorm


@pytest.mark.parametrize(("n_mels", "n_frames", "channels", "kernel_size"), [
    (20, 7, (4, 8, 8, 16, 16), 3), (33, 94, (4, 8), 3), (16, 12, (4,), 3), (20, 9, (4, 8, 8), 4),
])
def test_matches_the_eval_decoder(n_mels, n_frames, channels, kernel_size):
    model = with_trained_batchnorm(tiny_vae(n_mels, n_frames, channels=channels, kernel_size=kernel_size))
    fast = decoder_for_inference(model)
    assert isinstance(fast, InferenceDecoder)
    z = torch.randn(3, model.latent_dim)
    with torch.inference_mode():
        torch.testing.assert_close(fast(z), model.decode(z), atol=1e-5, rtol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())


def test_is_a_frozen_independent_copy():
    model = with_trained_batchnorm(tiny_vae())
    fast = decoder_for_inference(model)
    assert not fast.training
    assert all(not p.requires_grad for p in fast.parameters())
    z = torch.randn(2, model.latent_dim)
    before = fast(z)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    torch.testing.assert_close(fast(z), before)
    with pytest.raises(ValueError, match="expected latents"):
        fast(torch.zeros(2, model.latent_dim + 1))
