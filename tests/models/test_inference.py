"""The inference decoder (BatchNorm fused, linear folded) equals the eval-mode decoder; its
real-time bfloat16 copy stays close to it."""

from __future__ import annotations

import pytest
import torch

from distill.models import InferenceDecoder, decoder_for_inference
from distill.models.inference import BFloat16Decoder, bfloat16_decoder, native_bfloat16, realtime_decoder

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


# ------------------------------------------------------------------ the real-time bfloat16 copy
def test_bfloat16_copy_stays_close_to_float32():
    model = with_trained_batchnorm(tiny_vae(33, 94, channels=(4, 8, 16)))
    fast = decoder_for_inference(model)
    half = bfloat16_decoder(fast)
    z = torch.randn(4, model.latent_dim)
    with torch.inference_mode():
        reference, out = fast(z), half(z)
    assert out.dtype == torch.float32 and out.shape == reference.shape and out.is_contiguous()
    error = (out - reference).abs()
    # bfloat16 keeps 8 bits of mantissa in the hidden layers only: ~1e-2 of the range.
    assert error.max() <= 0.03 * reference.abs().max()
    assert error.mean() <= 0.005 * reference.abs().mean() + 1e-4
    assert not torch.equal(out, reference)  # it really runs in another precision
    with pytest.raises(ValueError, match="expected latents"):
        half(torch.zeros(2, model.latent_dim + 1))


def test_realtime_decoder_precision_choice():
    fast = decoder_for_inference(with_trained_batchnorm(tiny_vae()))
    assert realtime_decoder(fast, "float32") == (fast, "float32")
    half, precision = realtime_decoder(fast, "bfloat16")
    assert isinstance(half, BFloat16Decoder) and precision == "bfloat16"
    assert realtime_decoder(fast, "auto")[1] == ("bfloat16" if native_bfloat16() else "float32")
    with pytest.raises(ValueError, match="precision"):
        realtime_decoder(fast, "float16")
