"""PCA and axis selection on latents of known structure; Spearman's rho."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distill.latent import fit_pca, select_axes, spearman

STDS = torch.tensor([4.0, 2.0, 1.0, 0.1, 0.0, 0.0])


def structured_latents(n: int = 4000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Latents with standard deviations ``STDS`` along the columns of a random rotation, offset."""
    g = torch.Generator().manual_seed(seed)
    rotation, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    offset = torch.randn(6, generator=g, dtype=torch.float64) * 3
    coords = torch.randn(n, 6, generator=g, dtype=torch.float64) * STDS.double()
    return (coords @ rotation.T + offset).float(), rotation.T.float(), offset.float()


def test_pca_recovers_variances_and_directions():
    latents, directions, offset = structured_latents()
    pca = fit_pca(latents)
    assert torch.allclose(pca.mean, offset, atol=0.15)
    expected = STDS.square()
    assert torch.allclose(pca.explained_variance[:4], expected[:4], rtol=0.08)
    assert pca.variance_ratio.sum() == pytest.approx(1.0, abs=1e-5)
    assert float(pca.variance_ratio[0]) == pytest.approx(16 / 21.01, rel=0.08)
    for k in range(3):
        assert abs(float(pca.components[k] @ directions[k])) > 0.99
    assert torch.allclose(pca.components @ pca.components.T, torch.eye(6), atol=1e-5)


def test_component_signs_are_deterministic():
    latents, _, _ = structured_latents()
    a, b = fit_pca(latents), fit_pca(latents.flip(0))
    assert torch.allclose(a.components[:3], b.components[:3], atol=1e-4)
    assert (a.components.gather(1, a.components.abs().argmax(1, keepdim=True)) > 0).all()


def test_select_axes():
    pca = fit_pca(structured_latents()[0])  # ratios ~0.76, 0.19, 0.05, 0.0005, 0, 0
    assert select_axes(pca, 0.02, 8) == 3
    assert select_axes(pca, 0.1, 8) == 2
    assert select_axes(pca, 0.02, 2) == 2
    assert select_axes(pca, 0.0001, 8) == 4
    assert select_axes(pca, 0.99, 8) == 1  # at least one whenever anything varies


def test_no_axes_without_variance():
    pca = fit_pca(torch.ones(10, 4))
    assert pca.total_variance == 0 and select_axes(pca, 0.02, 8) == 0
    assert torch.equal(pca.variance_ratio, torch.zeros(4))
    single = fit_pca(torch.randn(1, 4))
    assert select_axes(single, 0.02, 8) == 0


def test_spearman():
    x = np.arange(11)
    assert spearman(x, x ** 3) == pytest.approx(1.0)
    assert spearman(x, -np.exp(x)) == pytest.approx(-1.0)
    assert spearman(x, np.ones(11)) == 0.0
    assert spearman(x, [0, 1, 1, 1, 2, 3, 3, 4, 5, 6, 7]) == pytest.approx(
        np.corrcoef(x, [0, 2, 2, 2, 4, 5.5, 5.5, 7, 8, 9, 10])[0, 1])  # ties share their mean rank
    one_swap = np.array([0, 2, 1, 3, 4, 5, 6, 7, 8, 9, 10])
    assert spearman(x, one_swap) == pytest.approx(1 - 6 * 2 / (11 * 120))
