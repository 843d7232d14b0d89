"""Loss terms on known inputs, and gradients through the real differentiable inverse."""

from __future__ import annotations

import math

import pytest
import torch

from distill.audio import synth
from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.normalization import NormalizationStats
from distill.audio.spectrogram import ComplexSpectrogram
from distill.models import (
    ConvVAE,
    instantaneous_frequency_loss,
    kl_divergence,
    magnitude_loss,
    multi_resolution_stft_loss,
    vae_loss,
)
from distill.models.config import LossWeights
from distill.models.losses import frame_levels, level_loss


def spec_pair(seed: int = 0, shape=(2, 2, 8, 5)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(shape, generator=g)
    b = torch.rand(shape, generator=g)
    return a, b


def test_magnitude_loss_is_l1_on_channel_0_only():
    a, _ = spec_pair()
    b = a.clone()
    assert magnitude_loss(a, b) == 0
    b[:, 1] += 0.7  # IF channel: no effect
    assert magnitude_loss(a, b) == 0
    b[:, 0] += 0.25
    assert magnitude_loss(a, b).item() == pytest.approx(0.25)


def test_if_loss_is_zero_for_identical_inputs_and_ignores_channel_0_errors():
    a, _ = spec_pair()
    assert instantaneous_frequency_loss(a, a.clone()) == 0
    recon = a.clone()
    recon[:, 0] += 1.0
    assert instantaneous_frequency_loss(recon, a) == 0


def test_if_loss_weights_loud_bins():
    target = torch.zeros(1, 2, 4, 1)
    target[0, 0, :, 0] = torch.tensor([3.0, 1.0, 0.0, 0.0])  # mean 1: weights are 3, 1, 0, 0
    error_in_loud_bin = target.clone()
    error_in_loud_bin[0, 1, 0, 0] = 0.5
    error_in_quiet_bin = target.clone()
    error_in_quiet_bin[0, 1, 2, 0] = 0.5
    assert instantaneous_frequency_loss(error_in_loud_bin, target).item() == pytest.approx(3 * 0.5 / 4)
    assert instantaneous_frequency_loss(error_in_quiet_bin, target) == 0


def test_if_weights_have_mean_one_over_the_batch():
    target = torch.zeros(2, 2, 3, 2)
    target[0, 0] = 10.0  # item 0 loud, item 1 silent: weights 2 and 0
    recon = target.clone()
    recon[:, 1] = 0.3
    assert instantaneous_frequency_loss(recon, target).item() == pytest.approx(0.3)
    scaled = target.clone()
    scaled[:, 0] *= 100  # loudness scale does not change the term
    assert instantaneous_frequency_loss(recon, scaled).item() == pytest.approx(0.3)


def test_if_loss_of_a_silent_batch_uses_uniform_weights():
    target = torch.zeros(1, 2, 3, 2)
    recon = target.clone()
    recon[:, 1] = 0.4
    assert instantaneous_frequency_loss(recon, target).item() == pytest.approx(0.4)


def test_kl_is_zero_for_the_prior_and_sums_over_dims():
    assert kl_divergence(torch.zeros(3, 5), torch.zeros(3, 5)) == 0
    mu = torch.ones(3, 5)
    # KL(N(1, 1) || N(0, 1)) = 0.5 per dimension, summed over 5, averaged over 3.
    assert kl_divergence(mu, torch.zeros(3, 5)).item() == pytest.approx(2.5)
    logvar = torch.full((2, 4), math.log(2.0))
    expected = 0.5 * (2.0 - 1 - math.log(2.0)) * 4
    assert kl_divergence(torch.zeros(2, 4), logvar).item() == pytest.approx(expected, rel=1e-5)


def test_stft_loss_is_zero_for_identical_waves_and_grows_with_the_difference():
    g = torch.Generator().manual_seed(1)
    wave = torch.randn(2, 1, 8192, generator=g)
    assert multi_resolution_stft_loss(wave, wave.clone()).item() == pytest.approx(0.0, abs=1e-6)
    small = multi_resolution_stft_loss(wave + 0.01 * torch.randn(2, 1, 8192, generator=g), wave)
    large = multi_resolution_stft_loss(wave + 0.5 * torch.randn(2, 1, 8192, generator=g), wave)
    assert 0 < small < large
    with pytest.raises(ValueError, match="shapes differ"):
        multi_resolution_stft_loss(wave[..., :100], wave)


def test_vae_loss_returns_every_term_and_the_weighted_total():
    recon, target = spec_pair(3)
    mu, logvar = torch.ones(2, 4), torch.zeros(2, 4)
    weights = LossWeights(magnitude=2.0, instantaneous_frequency=0.5, stft=0.25, kl=3.0, level=1.5)
    terms = vae_loss(recon, target, mu, logvar, weights=weights, beta=0.1, magnitude_scale=20.0)
    assert terms.stft == 0  # no synthesize given
    assert terms.level > 0
    expected = (2.0 * terms.magnitude + 0.5 * terms.instantaneous_frequency + 1.5 * terms.level
                + 3.0 * 0.1 * terms.kl)
    torch.testing.assert_close(terms.total, expected)
    floats = terms.as_floats()
    assert set(floats) == {"magnitude", "instantaneous_frequency", "stft", "level", "kl", "total"}
    assert all(isinstance(v, float) for v in floats.values())
    assert floats["kl"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="expected two spectrogram batches"):
        vae_loss(recon, target[:, :, :4], mu, logvar, weights=weights, beta=1.0)


def test_stft_term_is_skipped_when_its_weight_is_zero():
    recon, target = spec_pair()
    recon.requires_grad_(True)
    calls = []

    def synthesize(spec):
        calls.append((spec, torch.is_grad_enabled()))
        return spec.flatten(1)[:, None]

    weights = LossWeights(stft=0.0)
    terms = vae_loss(recon, target, torch.zeros(2, 3), torch.zeros(2, 3), weights=weights, beta=1.0,
                     synthesize=synthesize)
    assert terms.stft == 0 and not calls
    terms = vae_loss(recon, target, torch.zeros(2, 3), torch.zeros(2, 3), weights=LossWeights(stft=0.005),
                     beta=1.0, synthesize=synthesize)
    assert terms.stft > 0
    # The target is synthesised without gradient, the reconstruction with it.
    assert [(spec is target, grad) for spec, grad in calls] == [(True, False), (False, True)]


def test_stft_gradient_reaches_the_decoder_through_the_locked_inverse():
    config = ComplexSpectrogramConfig(n_fft=256, hop_length=64, n_mels=16)
    transform = ComplexSpectrogram(config)
    stats = NormalizationStats(magnitude_scale=20.0)
    wave = torch.from_numpy(synth.harmonic(440.0, 0.25))[None, None]
    target = stats.normalize(transform.waveform_to_complex_mel(wave)[..., :12])
    assert target.shape == (1, 2, 16, 12)

    def synthesize(spec):
        return transform.complex_mel_to_waveform(stats.denormalize(spec), phase="locked")

    torch.manual_seed(0)
    model = ConvVAE(latent_dim=4, n_mels=16, n_frames=12, channels=(4, 8)).train()
    recon, mu, logvar = model(target.repeat(2, 1, 1, 1))
    terms = vae_loss(recon, target.repeat(2, 1, 1, 1), mu, logvar,
                     weights=LossWeights(magnitude=0.0, instantaneous_frequency=0.0, stft=1.0, kl=0.0),
                     beta=0.0, synthesize=synthesize)
    assert terms.stft > 0
    terms.total.backward()
    last = model.decoder.blocks[-1][0].weight.grad
    assert last is not None and torch.isfinite(last).all()
    # Both output channels carry gradient: magnitude (amplitude) and IF (phase advance).
    assert last[:, 0].abs().sum() > 0 and last[:, 1].abs().sum() > 0
    assert model.decoder.fc.weight.grad.abs().sum() > 0


def test_frame_level_is_the_summed_energy_in_channel_0_units():
    scale = 20.0
    spec = torch.zeros(1, 2, 8, 3)
    spec[0, 0, 2, 0] = 0.5  # one band: the frame's level is that band's value
    spec[0, 0, :, 1] = 0.5  # eight equal bands: 8x the energy
    levels = frame_levels(spec, scale)
    assert levels.shape == (1, 3)
    assert float(levels[0, 0]) == pytest.approx(0.5)
    assert float(levels[0, 1]) == pytest.approx(math.log1p(8 * math.expm1(10.0)) / scale)
    assert float(levels[0, 2]) == 0.0  # silence


def test_level_loss_holds_the_energy_whatever_the_shape():
    """A blurred spectrum with the frame's energy costs nothing here; the log-domain
    median of the same bins (what the L1 term settles on) is too quiet and does."""
    scale = 20.0
    target = torch.zeros(1, 2, 8, 1)
    target[0, 0, 3] = 0.6
    blurred = torch.zeros_like(target)
    blurred[0, 0, 2:5] = torch.log1p(torch.expm1(torch.tensor(0.6 * scale)) / 3) / scale
    assert float(level_loss(blurred, target, scale)) == pytest.approx(0.0, abs=1e-6)
    assert float(magnitude_loss(blurred, target)) > 0.05
    quiet = blurred * 0.8
    assert float(level_loss(quiet, target, scale)) > 0.05
    weights = LossWeights()
    assert weights.level == 0.0  # off by default (measured: LossWeights)
    assert float(vae_loss(quiet, target, torch.zeros(1, 4), torch.zeros(1, 4), weights=weights, beta=1.0,
                          magnitude_scale=scale).level) == 0.0  # off: not computed


def test_level_loss_stays_finite_for_an_untrained_decoders_huge_outputs():
    target = torch.zeros(2, 2, 128, 94)
    recon = torch.full((2, 2, 128, 94), 60.0, requires_grad=True)  # expm1(60 * 20) overflows
    loss = level_loss(recon, target, 20.0)
    loss.backward()
    assert torch.isfinite(loss)
    assert float(loss.detach()) == pytest.approx(60.0 + math.log(128) / 20.0, rel=1e-4)
    assert torch.isfinite(recon.grad).all()
