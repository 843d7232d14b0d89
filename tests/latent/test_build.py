"""``analyze_latents`` on a model trained on tones of continuously varying brightness."""

from __future__ import annotations

import threading

import pytest
import torch

from distill.audio.spectrogram import ComplexSpectrogram
from distill.latent import (
    AnalysisCancelledError,
    AnalysisFinished,
    AxisMeasured,
    ClipsEncoded,
    LatentConfig,
    analyze_latents,
)

from .conftest import SPECTROGRAM


def test_the_model_reconstructs(brightness_model):
    with torch.inference_mode():
        recon, _, _ = brightness_model.model(brightness_model.clips)
    error = (recon[:, 0] - brightness_model.clips[:, 0]).abs().mean()
    assert float(error) < 0.05  # normalised magnitude in [0, 1]


def test_an_axis_is_labelled_brightness(brightness_model):
    analysis = brightness_model.analysis
    axes = {axis.label: axis for axis in analysis.axes}
    assert "Brightness" in axes, [(a.label, a.correlations) for a in analysis.axes]
    bright = axes["Brightness"]
    assert bright.feature == "centroid"
    assert abs(bright.correlation) >= 0.9
    # Oriented: "up" is brighter, and every stored rho is along that orientation.
    assert bright.correlation > 0 and bright.correlations["centroid"] == pytest.approx(bright.correlation)
    assert bright.direction in (-1, 1) and bright.low < 0 < bright.high
    # The tone set's only continuous factor dominates the variance.
    assert analysis.axes[0].label == "Brightness" and bright.variance_ratio > 0.5


def test_axes_are_principal_and_labels_unique(brightness_model):
    analysis = brightness_model.analysis
    config = analysis.config
    assert 1 <= len(analysis.axes) <= config.max_axes
    ratios = [a.variance_ratio for a in analysis.axes]
    assert ratios == sorted(ratios, reverse=True) and all(r >= config.min_variance_ratio for r in ratios)
    assert len(set(analysis.space.labels)) == len(analysis.axes)
    components = analysis.space.components
    assert torch.allclose(components @ components.T, torch.eye(len(analysis.axes)), atol=1e-5)


def test_map_and_clip_sources(brightness_model):
    analysis, cache = brightness_model.analysis, brightness_model.cache
    total = sum(e.clips for e in cache.files)
    assert analysis.num_clips == total and analysis.clip_latents.shape == (total, 8)
    points = analysis.map_points()
    assert points.shape == (total, 2) and torch.isfinite(points).all()
    assert analysis.files == tuple(e.relpath for e in cache.files)
    assert analysis.clip_source(0) == ("tone_00.wav", 0)
    assert analysis.clip_source(total - 1) == (cache.files[-1].relpath, cache.files[-1].clips - 1)
    # The clip latents are the model's posterior means of the cached clips, in cache order.
    with torch.inference_mode():
        mu, _ = brightness_model.model.encode(brightness_model.clips[:5])
    assert torch.allclose(analysis.clip_latents[:5], mu, atol=1e-4)


def test_events(brightness_model):
    events = brightness_model.events
    encoded = [e for e in events if isinstance(e, ClipsEncoded)]
    assert encoded and encoded[-1].done == encoded[-1].total == brightness_model.analysis.num_clips
    measured = [e for e in events if isinstance(e, AxisMeasured)]
    assert [e.index for e in measured] == list(range(len(brightness_model.analysis.axes)))
    assert isinstance(events[-1], AnalysisFinished) and events[-1].num_axes == len(measured)


def test_cancel_raises_and_restores_the_mode(brightness_model):
    model = brightness_model.model
    model.train()
    stop = threading.Event()
    stop.set()
    try:
        with pytest.raises(AnalysisCancelledError):
            analyze_latents(model, brightness_model.cache, ComplexSpectrogram(SPECTROGRAM),
                            brightness_model.normalization, cancel=stop)
        assert model.training
    finally:
        model.eval()


def test_cancel_between_axes(brightness_model):
    seen = []

    def on_event(event):
        seen.append(event)

    # Every component is an axis here; cancelled once the first is measured, it stops there.
    with pytest.raises(AnalysisCancelledError):
        analyze_latents(brightness_model.model, brightness_model.cache, SPECTROGRAM,
                        brightness_model.normalization, on_event=on_event,
                        cancel=lambda: any(isinstance(e, AxisMeasured) for e in seen),
                        config=LatentConfig(min_variance_ratio=0.0, sweep_steps=5))
    assert sum(isinstance(e, AxisMeasured) for e in seen) == 1
    assert not brightness_model.model.training


def test_each_axis_stores_what_its_claim_was_measured_over(brightness_model):
    analysis, cache = brightness_model.analysis, brightness_model.cache
    clips, files = sum(e.clips for e in cache.files), len(cache.files)
    for axis in analysis.axes:
        assert (axis.sweep_points, axis.fitted_clips, axis.fitted_files) == (
            analysis.config.sweep_steps, clips, files)
        assert f"over {analysis.config.sweep_steps} sweep steps; axis fitted on {clips} clips " \
               f"from {files} files" in axis.evidence()
    # The counts survive the model file's round trip.
    tensors, metadata = analysis.to_model_extras()
    again = type(analysis).from_model_extras(tensors, metadata)
    assert again.axes == analysis.axes
