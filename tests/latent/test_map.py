"""The map from ONE place: a stored layout drives the pad, the cursor and the model file;
without one (old files) everything falls back to PCA's first two axes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from distill.latent.analysis import LatentAnalysis
from distill.latent.config import LatentConfig
from distill.latent.errors import LatentFormatError
from distill.latent.instrument import InstrumentState
from distill.latent.layout import LayoutConfig, fit_layout
from distill.latent.space import AxisInfo, LatentSpace
from distill.models import load_model

D, N = 12, 40
FIXTURE_V1 = Path(__file__).parents[1] / "models" / "data" / "model_v1.distill"


def _analysis(with_layout: bool) -> LatentAnalysis:
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(D, D, generator=gen))
    axes = tuple(AxisInfo(label=f"Axis {i + 1}", feature=None, correlation=None, direction=1,
                          low=-2.0, high=2.0, variance=1.0, variance_ratio=0.2) for i in range(3))
    groups = torch.arange(N) % 4
    latents = torch.randn(N, D, generator=gen) * 0.2
    latents[torch.arange(N), 3 + groups] += 2.0  # four families, off the leading axes
    mean = latents.mean(0)
    analysis = LatentAnalysis(space=LatentSpace(mean, q[:3].contiguous(), axes), clip_latents=latents,
                              clip_files=groups.long(), clip_indices=torch.zeros(N, dtype=torch.int64),
                              files=("a/1.wav", "b/1.wav", "c/1.wav", "d/1.wav"), total_variance=5.0,
                              config=LatentConfig())
    if with_layout:
        analysis = replace(analysis, layout=fit_layout(latents, LayoutConfig(seed=0)))
    return analysis


def test_the_pad_plays_the_layout_and_the_cursor_stays_under_the_hand():
    analysis = _analysis(with_layout=True)
    state = InstrumentState(D, analysis)
    points = analysis.map_points()
    assert torch.equal(points, analysis.layout.points)
    x, y = points[5].tolist()
    z = state.set_xy(x, y)
    assert torch.allclose(z, analysis.clip_latents[5], atol=1e-5)  # on a clip: that clip
    assert state.xy() == pytest.approx((x, y))
    state.set_xy(x + 0.03, y - 0.02)
    assert state.xy() == pytest.approx((x + 0.03, y - 0.02))
    # The sliders follow the pad: they read the latent the pad set.
    assert torch.allclose(state.controls(), analysis.space.latent_to_controls(state.latent))
    # A slider move hands the cursor back to the forward map of the new latent.
    state.set_axis(0, 1.0)
    assert state.xy() == pytest.approx(tuple(analysis.latent_to_map(state.latent).tolist()))


def test_a_clip_chosen_elsewhere_puts_the_cursor_on_its_point():
    analysis = _analysis(with_layout=True)
    state = InstrumentState(D, analysis)
    state.go_to_clip(7)
    assert state.xy() == pytest.approx(tuple(analysis.map_points()[7].tolist()), abs=1e-5)


def test_without_a_layout_the_map_is_the_first_two_axes():
    analysis = _analysis(with_layout=False)
    state = InstrumentState(D, analysis)
    assert torch.allclose(analysis.map_points(), analysis.space.latent_to_map(analysis.clip_latents))
    state.set_xy(0.5, -0.25)
    assert state.controls()[:2].tolist() == pytest.approx([0.5, -0.25], abs=1e-5)
    assert analysis.map_limits() == ((-2.0, 2.0), (-2.0, 2.0))
    assert analysis.map_labels() == ("Axis 1", "Axis 2")


def test_the_layout_round_trips_through_the_model_extras():
    analysis = _analysis(with_layout=True)
    tensors, metadata = analysis.to_model_extras()
    assert tensors["latent.layout_points"].shape == (N, 2)
    loaded = LatentAnalysis.from_model_extras(tensors, metadata)
    assert loaded.has_layout
    assert torch.equal(loaded.map_points(), analysis.map_points())
    xy = (0.1, -0.3)
    assert torch.allclose(loaded.map_to_latent(*xy), analysis.map_to_latent(*xy))


def test_a_half_stored_layout_is_refused():
    tensors, metadata = _analysis(with_layout=True).to_model_extras()
    del tensors["latent.layout_points"]
    with pytest.raises(LatentFormatError):
        LatentAnalysis.from_model_extras(tensors, metadata)
    tensors, metadata = _analysis(with_layout=True).to_model_extras()
    tensors["latent.layout_points"] = tensors["latent.layout_points"][:-1]
    with pytest.raises(LatentFormatError):
        LatentAnalysis.from_model_extras(tensors, metadata)


def test_the_v1_fixture_still_loads_and_maps_through_pca():
    loaded = load_model(FIXTURE_V1)
    analysis = LatentAnalysis.from_model_extras(loaded.extra_tensors, loaded.extra_metadata)
    if analysis is None:
        pytest.skip("the fixture carries no latent analysis")
    assert not analysis.has_layout
    assert torch.allclose(analysis.map_points(), analysis.space.latent_to_map(analysis.clip_latents))
    state = InstrumentState(loaded.model_config.latent_dim, analysis)
    if analysis.space.num_axes >= 2:
        state.set_xy(0.1, 0.2)
        assert np.allclose(state.xy(), (0.1, 0.2), atol=1e-4)
