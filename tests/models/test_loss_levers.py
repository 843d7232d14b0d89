"""Loss levers: free bits on the KL and a floor under the magnitude error."""

from __future__ import annotations

import torch

from distill.models.config import LossWeights
from distill.models.losses import kl_divergence, magnitude_loss, vae_loss


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(3, 2, 16, 8, generator=gen)
    target[:, 0] *= 0.2
    target[0, 0, :, :4] = 1.0  # a loud half; the rest sits far under its peak
    recon = target + 0.05 * torch.randn(3, 2, 16, 8, generator=gen)
    return recon, target


def test_free_bits_leave_dimensions_under_the_threshold_unpulled():
    recon, target = _batch()
    mu = torch.zeros(4, 6, requires_grad=True)
    logvar = torch.zeros(4, 6, requires_grad=True)
    with torch.no_grad():
        mu[:, 0] = 3.0  # one informative dimension (4.5 nats), five near the prior
        mu[:, 1:] = 0.1
    weights = LossWeights(kl_free_bits=0.25, stft=0.0)
    terms = vae_loss(recon, target, mu, logvar, weights=weights, beta=1.0)
    terms.total.backward()
    assert mu.grad[:, 1:].abs().max() == 0  # under 0.25 nats: free
    assert mu.grad[:, 0].abs().min() > 0  # over it: the prior pulls
    assert torch.isclose(terms.kl, kl_divergence(mu.detach(), logvar.detach()))  # reported plainly


def test_the_magnitude_floor_ignores_errors_far_under_the_clip_peak():
    recon, target = _batch()
    plain = magnitude_loss(recon, target)
    floored = magnitude_loss(recon, target, floor_range=0.3)
    assert floored < plain
    # Noise the reconstruction adds above the floor where the target is silent still counts.
    loud = recon.clone()
    loud[0, 0, :, 4:] = 0.9
    assert magnitude_loss(loud, target, floor_range=0.3) > floored
    assert torch.equal(magnitude_loss(recon, target, floor_range=0.0), plain)
