"""The controls <-> latent mapping: round trips, orientation, positions, the map, axis names."""

from __future__ import annotations

import pytest
import torch

from distill.latent import POSITION_LIMITS, AxisError, AxisInfo, LatentSpace


def axis(label: str, feature: str | None, direction: int = 1, low: float = -2.0, high: float = 3.0
         ) -> AxisInfo:
    return AxisInfo(label=label, feature=feature, correlation=None if feature is None else 0.95,
                    direction=direction, low=low, high=high, variance=1.0, variance_ratio=0.3)


def make_space(num_axes: int = 3, dim: int = 6, directions=(1, -1, 1)) -> LatentSpace:
    g = torch.Generator().manual_seed(1)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g))
    labels = [("Brightness", "centroid"), ("Loudness", "rms"), ("Axis 3", None)]
    axes = tuple(axis(lab, feat, d) for (lab, feat), d in zip(labels[:num_axes], directions, strict=False))
    return LatentSpace(torch.randn(dim, generator=g), q.T[:num_axes].contiguous(), axes)


def test_controls_round_trip():
    space = make_space()
    values = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]])
    z = space.controls_to_latent(values)
    assert z.shape == (2, 6)
    assert torch.allclose(z[1], space.mean)  # value 0 everywhere = the mean latent
    assert torch.allclose(space.latent_to_controls(z), values, atol=1e-5)
    single = space.controls_to_latent([1.0, 2.0, 3.0])
    assert single.shape == (6,) and torch.allclose(space.latent_to_controls(single),
                                                   torch.tensor([1.0, 2.0, 3.0]), atol=1e-5)
    with pytest.raises(ValueError, match="3 axis values"):
        space.controls_to_latent([1.0, 2.0])


def test_direction_orients_the_component():
    space = make_space()
    z = space.controls_to_latent([0.0, 1.0, 0.0])
    # Axis 2 has direction -1: a positive value moves AGAINST its principal component.
    assert torch.allclose(z - space.mean, -space.components[1], atol=1e-6)
    z = space.controls_to_latent([1.0, 0.0, 0.0])
    assert torch.allclose(z - space.mean, space.components[0], atol=1e-6)


def test_latent_to_controls_is_a_projection():
    space = make_space()
    outside = torch.linalg.svd(space.components, full_matrices=True).Vh[-1]  # orthogonal to all axes
    z = space.controls_to_latent([1.0, 2.0, 3.0])
    assert torch.allclose(space.latent_to_controls(z + 5 * outside), torch.tensor([1.0, 2.0, 3.0]), atol=1e-5)


def test_positions():
    space = make_space()
    assert torch.allclose(space.positions_to_values([0.0, 1.0, 0.5]), torch.tensor([-2.0, 3.0, 0.5]))
    values = torch.tensor([0.3, -1.2, 2.9])
    assert torch.allclose(space.values_to_positions(space.positions_to_values(values)), values, atol=1e-6)
    v = space.values_from_positions({"brightness": 1.0, "3": 0.0})
    assert torch.allclose(v, torch.tensor([3.0, 0.0, -2.0]))  # unnamed axes stay at the mean
    for bad in (float("nan"), POSITION_LIMITS[1] + 0.1, POSITION_LIMITS[0] - 0.1):
        with pytest.raises(AxisError, match="Brightness: position"):
            space.values_from_positions({"Brightness": bad})


def test_map_round_trip_keeps_the_rest_of_the_base():
    space = make_space()
    base = space.controls_to_latent([0.2, 0.4, 1.5]) + 0.3 * torch.linalg.svd(
        space.components, full_matrices=True).Vh[-1]
    z = space.map_to_latent(1.0, -0.5, base=base)
    assert torch.allclose(space.latent_to_map(z), torch.tensor([1.0, -0.5]), atol=1e-5)
    # Only the map's two axes moved: the third value and the off-axes part are the base's.
    assert space.latent_to_controls(z)[2] == pytest.approx(1.5, abs=1e-5)
    residual = lambda v: v - space.controls_to_latent(space.latent_to_controls(v))  # noqa: E731
    assert torch.allclose(residual(z), residual(base), atol=1e-5)
    from_mean = space.map_to_latent(2.0, 1.0)
    assert torch.allclose(space.latent_to_controls(from_mean), torch.tensor([2.0, 1.0, 0.0]), atol=1e-5)


def test_map_with_one_axis():
    space = make_space(num_axes=1)
    z = space.map_to_latent(1.5, 7.0)  # y has nothing to move
    assert torch.allclose(space.latent_to_map(z), torch.tensor([1.5, 0.0]), atol=1e-6)
    assert space.latent_to_map(torch.stack([z, space.mean])).shape == (2, 2)


def test_axis_names():
    space = make_space()
    assert space.axis_index("Brightness") == 0
    assert space.axis_index(" loudness ") == 1
    assert space.axis_index("rms") == 1  # the feature key works too
    assert space.axis_index("3") == 2 and space.axis_index("axis 3") == 2
    with pytest.raises(AxisError) as info:
        space.axis_index("Warmth")
    assert "'Warmth'" in str(info.value) and "1 Brightness, 2 Loudness, 3 Axis 3" in str(info.value)
    with pytest.raises(AxisError):
        space.axis_index("4")


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="do not match"):
        LatentSpace(torch.zeros(4), torch.zeros(2, 4), (axis("A", None),))
