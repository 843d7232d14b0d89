"""The analysis in a model file: to/from extras through save_model/load_model, and errors."""

from __future__ import annotations

import pytest
import torch

from distill.cli import main
from distill.latent import LatentAnalysis, LatentFormatError, LatentSpace
from distill.models import load_model, save_model

from .conftest import DATA, SPECTROGRAM


def save(path, trained, analysis: LatentAnalysis | None):
    tensors, metadata = analysis.to_model_extras() if analysis is not None else ({}, {})
    return save_model(path, trained.model, spectrogram=SPECTROGRAM, data=DATA,
                      normalization=trained.normalization, extra_tensors=tensors, extra_metadata=metadata)


def test_round_trip_through_a_model_file(tmp_path, brightness_model):
    original = brightness_model.analysis
    loaded = load_model(save(tmp_path / "m.distill", brightness_model, original))
    analysis = LatentAnalysis.from_model_extras(loaded.extra_tensors, loaded.extra_metadata)
    assert analysis is not None
    assert analysis.axes == original.axes
    assert analysis.config == original.config and analysis.files == original.files
    assert analysis.total_variance == pytest.approx(original.total_variance)
    for name in ("clip_latents", "clip_files", "clip_indices"):
        assert torch.equal(getattr(analysis, name), getattr(original, name))
    assert torch.equal(analysis.space.mean, original.space.mean)
    assert torch.equal(analysis.space.components, original.space.components)
    values = torch.tensor([0.7] * len(original.axes))
    assert torch.allclose(analysis.space.controls_to_latent(values),
                          original.space.controls_to_latent(values))
    assert torch.allclose(analysis.map_points(), original.map_points())


def test_metadata_format(brightness_model):
    tensors, metadata = brightness_model.analysis.to_model_extras()
    latent = metadata["latent"]
    assert latent["version"] == 1 and latent["num_clips"] == brightness_model.analysis.num_clips
    for axis in latent["axes"]:
        assert {"label", "feature", "correlation", "direction", "low", "high", "variance_ratio"} <= set(axis)
    assert tensors["latent.components"].shape == (len(latent["axes"]), 8)
    assert set(tensors) == {f"latent.{n}" for n in
                            ("mean", "components", "clip_latents", "clip_files", "clip_indices")}


def test_info_prints_the_axes(tmp_path, brightness_model, capsys):
    path = save(tmp_path / "m.distill", brightness_model, brightness_model.analysis)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "axis 1        Brightness (feature=centroid correlation=" in out


def test_a_model_without_analysis_has_none(tmp_path, brightness_model):
    loaded = load_model(save(tmp_path / "plain.distill", brightness_model, None))
    assert LatentAnalysis.from_model_extras(loaded.extra_tensors, loaded.extra_metadata) is None


def test_bad_extras_are_refused(brightness_model):
    tensors, metadata = brightness_model.analysis.to_model_extras()
    newer = {"latent": {**metadata["latent"], "version": 99}}
    with pytest.raises(LatentFormatError, match="Update distill"):
        LatentAnalysis.from_model_extras(tensors, newer)
    with pytest.raises(LatentFormatError, match="incomplete"):
        LatentAnalysis.from_model_extras({k: v for k, v in tensors.items() if "mean" not in k}, metadata)
    with pytest.raises(LatentFormatError, match="corrupt"):
        LatentAnalysis.from_model_extras(tensors, {"latent": {**metadata["latent"], "axes": [{"x": 1}]}})
    short = {**tensors, "latent.clip_files": tensors["latent.clip_files"][:-1]}
    with pytest.raises(LatentFormatError, match="inconsistent"):
        LatentAnalysis.from_model_extras(short, metadata)


def test_an_analysis_without_axes_round_trips(tmp_path, brightness_model):
    """Every clip encoding to one latent gives no axes; the file still stores and restores it."""
    original = brightness_model.analysis
    flat = LatentAnalysis(space=LatentSpace(original.space.mean, torch.zeros(0, 8), ()),
                          clip_latents=original.clip_latents, clip_files=original.clip_files,
                          clip_indices=original.clip_indices, files=original.files, total_variance=0.0,
                          config=original.config)
    loaded = load_model(save(tmp_path / "flat.distill", brightness_model, flat))
    analysis = LatentAnalysis.from_model_extras(loaded.extra_tensors, loaded.extra_metadata)
    assert analysis is not None and analysis.axes == () and analysis.space.num_axes == 0
    assert analysis.map_points().shape == (original.num_clips, 2)
