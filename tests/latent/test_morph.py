"""``slerp``: exact ends, norms, the arc, and the linear fallbacks."""

from __future__ import annotations

import math

import pytest
import torch

from distill.latent import slerp


def test_endpoints_are_exact():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, generator=g), torch.randn(16, generator=g)
    path = slerp(a, b, torch.linspace(0, 1, 9))
    assert path.shape == (9, 16)
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert torch.equal(slerp(a, b, 0.0), a) and torch.equal(slerp(a, b, 1.0), b)
    assert slerp(a, b, 0.5).shape == (16,)


def test_equal_norms_stay_on_the_sphere():
    a = torch.tensor([3.0, 0.0, 0.0])
    b = torch.tensor([0.0, 3.0, 0.0])
    path = slerp(a, b, torch.linspace(0, 1, 11))
    assert torch.allclose(path.norm(dim=1), torch.full((11,), 3.0), atol=1e-5)
    assert torch.allclose(path[5], torch.tensor([3 / math.sqrt(2), 3 / math.sqrt(2), 0.0]), atol=1e-5)
    # Equal angular steps along the arc.
    angles = torch.atan2(path[:, 1], path[:, 0])
    assert torch.allclose(angles.diff(), torch.full((10,), math.pi / 20), atol=1e-5)


def test_unequal_norms_interpolate_linearly():
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(8, generator=g), 4 * torch.randn(8, generator=g)
    t = torch.linspace(0, 1, 7)
    norms = slerp(a, b, t).norm(dim=1)
    assert torch.allclose(norms, a.norm() + t * (b.norm() - a.norm()), atol=1e-4)
    # Linear interpolation would cut inside: the arc keeps the path further out.
    assert (norms[1:-1] > (a + t[1:-1, None] * (b - a)).norm(dim=1)).all()


def test_around_a_centre():
    center = torch.tensor([10.0, -5.0, 2.0])
    a, b = center + torch.tensor([1.0, 0.0, 0.0]), center + torch.tensor([0.0, 1.0, 0.0])
    mid = slerp(a, b, 0.5, center=center)
    assert (mid - center).norm() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("b_of_a", [lambda a: 2 * a, lambda a: -a, lambda a: torch.zeros_like(a)],
                         ids=["parallel", "opposite", "zero"])
def test_degenerate_cases_fall_back_to_linear(b_of_a):
    a = torch.tensor([1.0, 2.0, -1.0])
    b = b_of_a(a)
    t = torch.linspace(0, 1, 5)
    path = slerp(a, b, t)
    assert torch.isfinite(path).all()
    assert torch.allclose(path, a + t[:, None] * (b - a), atol=1e-6)


def test_shapes_are_checked():
    with pytest.raises(ValueError):
        slerp(torch.zeros(3), torch.zeros(4), 0.5)
