"""Loss levers: free bits on the KL, a floor under the magnitude error, loud bins emphasised."""

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


def test_magnitude_emphasis_weights_errors_by_the_targets_loudness():
    recon, target = _batch()
    plain = magnitude_loss(recon, target)
    assert torch.equal(magnitude_loss(recon, target, emphasis=0.0), plain)
    # The same absolute error on a loud bin costs more than on a quiet one, and an error
    # spread evenly costs what the plain L1 says (the weights have mean 1).
    loud_error, quiet_error = target.clone(), target.clone()
    loud_error[0, 0, 0, 0] += 0.5  # target 1.0 there
    quiet_error[1, 0, 0, 0] += 0.5  # target <= 0.2 there
    emphasised = [magnitude_loss(e, target, emphasis=1.0) for e in (loud_error, quiet_error)]
    assert emphasised[0] > emphasised[1]
    assert magnitude_loss(loud_error, target) == magnitude_loss(quiet_error, target)
    even = target + 0.1
    assert torch.isclose(magnitude_loss(even, target, emphasis=1.0), torch.tensor(0.1))
    # A silent batch falls back to the plain L1 instead of dividing by zero.
    silent = torch.zeros_like(target)
    assert torch.isclose(magnitude_loss(silent + 0.1, silent, emphasis=1.0), torch.tensor(0.1))
    # vae_loss passes the setting through.
    mu, logvar = torch.zeros(3, 4), torch.zeros(3, 4)
    terms = vae_loss(loud_error, target, mu, logvar, weights=LossWeights(stft=0.0, magnitude_emphasis=1.0),
                     beta=0.0)
    assert torch.isclose(terms.magnitude, magnitude_loss(loud_error, target, emphasis=1.0))
