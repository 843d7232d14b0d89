"""InstrumentState: sliders, XY pad, morph, reset and randomize move one latent point consistently."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distill.latent.analysis import LatentAnalysis
from distill.latent.config import LatentConfig
from distill.latent.instrument import InstrumentState
from distill.latent.space import AxisInfo, LatentSpace

D, K = 12, 3


def _analysis(num_axes: int = K) -> LatentAnalysis:
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(D, D, generator=gen))
    components = q[:num_axes].contiguous()
    axes = tuple(AxisInfo(label=f"Axis {i + 1}", feature=None, correlation=None, direction=(-1) ** i,
                          low=-1.0 - i, high=2.0 + i, variance=1.0, variance_ratio=0.2)
                 for i in range(num_axes))
    mean = torch.randn(D, generator=gen)
    latents = mean + torch.randn(10, D, generator=gen)
    return LatentAnalysis(space=LatentSpace(mean, components, axes), clip_latents=latents,
                          clip_files=torch.zeros(10, dtype=torch.int64), clip_indices=torch.arange(10),
                          files=("a.wav",), total_variance=5.0, config=LatentConfig())


def test_starts_at_the_mean_and_a_slider_moves_only_its_axis():
    analysis = _analysis()
    state = InstrumentState(D, analysis)
    assert torch.allclose(state.latent, analysis.space.mean)
    state.go_to_clip(3)  # a point with an off-axis part
    before = state.latent
    controls_before = state.controls()
    z = state.set_axis(1, 1.5)
    controls = state.controls()
    assert controls[1] == pytest.approx(1.5, abs=1e-5)
    assert torch.allclose(controls[[0, 2]], controls_before[[0, 2]], atol=1e-5)
    # Only the direction of axis 1 changed: the off-axis residual is kept.
    basis = analysis.space.controls_to_latent(torch.eye(K)) - analysis.space.mean
    residual = lambda v: v - analysis.space.mean - (analysis.space.latent_to_controls(v) @ basis)  # noqa: E731
    assert torch.allclose(residual(z), residual(before), atol=1e-5)


def test_xy_moves_axes_one_and_two_and_keeps_the_rest():
    state = InstrumentState(D, _analysis())
    state.set_axis(2, 0.7)
    state.set_xy(1.25, -0.5)
    assert state.xy() == pytest.approx((1.25, -0.5), abs=1e-5)
    assert state.controls()[2] == pytest.approx(0.7, abs=1e-5)
    state.set_controls([0.1, 0.2, 0.3])
    assert state.controls().tolist() == pytest.approx([0.1, 0.2, 0.3], abs=1e-5)
    assert state.xy() == pytest.approx((0.1, 0.2), abs=1e-5)


def test_reset_and_randomize_stay_within_the_data():
    analysis = _analysis()
    state = InstrumentState(D, analysis)
    state.set_controls([1.0, 1.0, 1.0])
    state.reset_axis(0)
    assert state.controls().tolist() == pytest.approx([0.0, 1.0, 1.0], abs=1e-5)
    state.reset_all()
    assert torch.allclose(state.latent, analysis.space.mean)
    rng = np.random.default_rng(1)
    seen = []
    for _ in range(50):
        state.randomize(rng)
        values = state.controls()
        assert bool(((values >= analysis.space.low - 1e-5) & (values <= analysis.space.high + 1e-5)).all())
        seen.append(values)
    assert torch.stack(seen).std(dim=0).min() > 0.3  # it really moves every axis


def test_morph_goes_from_a_to_b():
    analysis = _analysis()
    state = InstrumentState(D, analysis)
    with pytest.raises(ValueError, match="both morph ends"):
        state.set_morph(0.5)
    a, b = analysis.clip_latents[0], analysis.clip_latents[5]
    state.set_morph_end("a", a)
    state.set_morph_end("b", b)
    assert torch.allclose(state.set_morph(0.0), a) and torch.allclose(state.set_morph(1.0), b)
    middle = state.set_morph(0.5)
    assert not torch.allclose(middle, a) and not torch.allclose(middle, b)
    assert state.set_morph(7.0) is not None and state.morph_position == 1.0  # clamped


def test_without_analysis_there_are_no_axes_but_latents_still_work():
    state = InstrumentState(D)
    assert state.num_axes == 0 and state.xy() is None and state.controls().numel() == 0
    assert torch.equal(state.latent, torch.zeros(D))
    with pytest.raises(ValueError, match="no measured axes"):
        state.set_axis(0, 1.0)
    state.set_latent(torch.ones(D))
    with pytest.raises(ValueError, match="12 values"):
        state.set_latent(torch.ones(D + 1))
    with pytest.raises(ValueError, match="NaN"):
        state.set_latent(torch.full((D,), float("nan")))
    assert torch.equal(state.latent, torch.ones(D))
