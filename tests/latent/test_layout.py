"""The nonlinear map layout: it separates what PCA's plane mixes, and it is playable both ways."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distill.latent import layout as layout_module
from distill.latent.layout import (
    EXTENT,
    MIN_LAYOUT_CLIPS,
    LayoutConfig,
    MapLayout,
    fit_layout,
    neighbour_share,
)


def _families(n_per: int = 8, num: int = 12, dim: int = 16, seed: int = 0
              ) -> tuple[torch.Tensor, np.ndarray]:
    """``num`` tight families, each offset along its own latent direction.

    Every direction carries the same variance, so no plane of two holds them all: a PCA
    map must lay some families over each other, while their neighbourhoods stay clean.
    """
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(num), n_per)
    z = rng.normal(0, 0.3, (num * n_per, dim))
    z[np.arange(num * n_per), groups] += 2.0
    return torch.from_numpy(z).float(), groups


def test_layout_groups_families_that_the_pca_plane_mixes():
    latents, groups = _families()
    centred = latents - latents.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    pca_plane = (centred @ v[:2].T).numpy()
    layout = fit_layout(latents, LayoutConfig(seed=0))
    assert layout is not None
    assert neighbour_share(pca_plane, groups) < 0.6
    assert neighbour_share(layout.points.numpy(), groups) >= 0.9
    assert float(layout.points.abs().max()) == pytest.approx(EXTENT)


def test_layout_is_deterministic_for_a_seed():
    latents, _ = _families(n_per=4)
    a = fit_layout(latents, LayoutConfig(seed=3))
    b = fit_layout(latents, LayoutConfig(seed=3))
    assert torch.equal(a.points, b.points)


def test_no_layout_when_off_or_too_few_clips():
    latents, _ = _families(n_per=4)
    assert fit_layout(latents, LayoutConfig(enabled=False)) is None
    assert fit_layout(latents[:5]) is None
    assert fit_layout(torch.cat([latents[:5]] * 4)) is None  # 20 clips, 5 distinct


def _grid_layout() -> MapLayout:
    rng = np.random.default_rng(1)
    points = torch.from_numpy(rng.uniform(-1, 1, (30, 2))).float()
    latents = torch.from_numpy(rng.normal(0, 1, (30, 8))).float()
    return MapLayout(points=points, latents=latents, config=LayoutConfig(neighbours=5))


def test_a_clip_position_maps_to_its_latent_and_back():
    layout = _grid_layout()
    z = layout.to_latent(layout.points)
    assert torch.allclose(z, layout.latents, atol=1e-5)
    assert torch.allclose(layout.to_map(layout.latents), layout.points, atol=1e-5)


def test_the_inverse_is_continuous_under_a_dragging_hand():
    """A fine drag across the map never jumps: consecutive latents differ by a small step."""
    layout = _grid_layout()
    t = torch.linspace(0, 1, 2001)[:, None]
    path = torch.tensor([-0.9, -0.7]) + t * torch.tensor([1.7, 1.5])
    z = layout.to_latent(path)
    steps = (z[1:] - z[:-1]).norm(dim=1)
    spread = (layout.latents.max(0).values - layout.latents.min(0).values).norm()
    assert float(steps.max()) < 0.05 * float(spread)
    assert torch.isfinite(z).all()


def test_interpolated_latents_stay_inside_the_clips_hull_and_map_nearby():
    layout = _grid_layout()
    xy = torch.tensor([[0.1, -0.2], [0.5, 0.5]])
    z = layout.to_latent(xy)
    low, high = layout.latents.min(0).values, layout.latents.max(0).values
    assert bool(((z >= low - 1e-6) & (z <= high + 1e-6)).all())
    assert layout.to_map(z).shape == (2, 2)


def test_neighbour_share_counts_own_group_among_nearest():
    points = np.array([[0, 0], [0, 1], [10, 0], [10, 1]], dtype=float)
    assert neighbour_share(points, np.array([0, 0, 1, 1]), k=1) == 1.0
    assert neighbour_share(points, np.array([0, 1, 0, 1]), k=1) == 0.0


def test_the_smallest_folder_with_a_layout_gets_one():
    latents, _ = _families(n_per=1, num=MIN_LAYOUT_CLIPS + 1)
    layout = fit_layout(latents)
    assert layout is not None and layout.points.shape == (MIN_LAYOUT_CLIPS + 1, 2)
    assert bool(torch.isfinite(layout.points).all())
    assert float(layout.points.abs().max()) == pytest.approx(EXTENT)


def test_duplicate_clips_share_a_map_position():
    latents, _ = _families(n_per=3, num=4)
    latents = torch.cat([latents, latents[:2]])
    layout = fit_layout(latents)
    assert torch.equal(layout.points[-2:], layout.points[:2])
    # The pad still plays: a duplicate's position gives that (shared) latent back.
    assert torch.allclose(layout.to_latent(layout.points[-1]), latents[-1], atol=1e-5)


def test_beyond_the_fitted_maximum_the_rest_are_placed_among_their_family(monkeypatch):
    """t-SNE fits a seeded subset; the other clips land by interpolation, next to their family."""
    monkeypatch.setattr(layout_module, "MAX_FITTED_CLIPS", 48)
    latents, groups = _families(n_per=10, num=8)
    a = fit_layout(latents, LayoutConfig(seed=1))
    assert a.points.shape == (80, 2) and bool(torch.isfinite(a.points).all())
    assert neighbour_share(a.points.numpy(), groups) >= 0.9
    assert torch.equal(a.points, fit_layout(latents, LayoutConfig(seed=1)).points)
    assert not torch.equal(a.points, fit_layout(latents, LayoutConfig(seed=2)).points)


def test_descriptors_must_match_the_clips():
    latents, _ = _families(n_per=2)
    with pytest.raises(ValueError, match="descriptors"):
        fit_layout(latents, descriptors=torch.zeros(len(latents) - 1, 4))
