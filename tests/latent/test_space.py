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


def test_evidence_says_what_rho_was_measured_over_and_flags_few_data():
    from distill.latent.config import FEW_DATA_CLIPS, FEW_DATA_FILES, FEW_SWEEP_POINTS

    small = axis("Brightness", "centroid").replace(correlation=1.0, sweep_points=9, fitted_clips=30,
                                                   fitted_files=6)
    assert small.evidence() == "ρ +1.00 over 9 sweep steps; axis fitted on 30 clips from 6 files"
    assert small.few_data
    enough = small.replace(sweep_points=FEW_SWEEP_POINTS, fitted_clips=FEW_DATA_CLIPS,
                           fitted_files=FEW_DATA_FILES)
    assert not enough.few_data
    for short in (enough.replace(sweep_points=FEW_SWEEP_POINTS - 1),
                  enough.replace(fitted_clips=FEW_DATA_CLIPS - 1),
                  enough.replace(fitted_files=FEW_DATA_FILES - 1)):
        assert short.few_data
    unknown = axis("Axis 3", None)  # counts never stored: no number made up, and faded
    assert unknown.evidence() == "no feature changes monotonically" and unknown.few_data
    with pytest.raises(ValueError, match="fitted_clips"):
        small.replace(fitted_clips=-1)


def test_an_analysis_stored_before_the_counts_gets_them_from_itself():
    from distill.latent import LatentAnalysis
    from distill.models import load_model
    from tests.models.test_stored_model import MODEL_V1

    loaded = load_model(MODEL_V1)
    stored = loaded.extra_metadata["latent"]["axes"]
    assert all("sweep_points" not in a for a in stored)  # the file predates them
    analysis = LatentAnalysis.from_model_extras(loaded.extra_tensors, loaded.extra_metadata)
    assert [(a.sweep_points, a.fitted_clips, a.fitted_files) for a in analysis.axes] == \
        [(analysis.config.sweep_steps, analysis.num_clips, len(set(analysis.clip_files.tolist())))] * 3
    assert analysis.axes[0].evidence().endswith("over 11 sweep steps; axis fitted on 92 clips from 4 files")
