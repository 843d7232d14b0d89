"""A model file written by an earlier distill still loads, decodes and renders the same.

``data/model_v1.distill`` (35 KB) was written by ``distill.training.run.train`` before the
configs moved out of ``distill.training.config`` (4 generated tones, 32 mel bands, 16-frame
clips, latent 8, channels (4, 8, 8, 8, 8), 3 epochs, with its latent analysis). The
reference numbers below were measured on that file right after it was written: they
catch weights that load into the wrong layers, not just files that fail to open.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from distill.audio.config import ComplexSpectrogramConfig
from distill.data.config import DataConfig
from distill.models import load_model
from distill.models.config import ModelConfig
from distill.render import Renderer
from distill.training.config import TrainingConfig

MODEL_V1 = Path(__file__).parent / "data" / "model_v1.distill"


def test_a_v1_model_file_loads_with_its_configs():
    loaded = load_model(MODEL_V1)
    assert loaded.format_version == 1
    assert loaded.model_config == ModelConfig(latent_dim=8, channels=(4, 8, 8, 8, 8))
    assert loaded.spectrogram == ComplexSpectrogramConfig(n_fft=512, hop_length=128, n_mels=32)
    assert loaded.data == DataConfig(clip_frames=16, clip_hop_frames=8)
    # The stored training settings still read back as a TrainingConfig.
    assert TrainingConfig.from_dict(loaded.training).preset == "tiny"
    assert len(loaded.history) == 3
    assert loaded.model.num_parameters() == 4522


def test_a_v1_model_decodes_as_it_did_when_written():
    loaded = load_model(MODEL_V1)
    z = torch.linspace(-1, 1, 8).view(1, 8)
    with torch.inference_mode():
        out = loaded.model.decode(z)
    assert out.shape == (1, 2, 32, 16)
    assert out[0, 0].sum().item() == pytest.approx(327.5809, rel=1e-4)
    assert out[0, 1].sum().item() == pytest.approx(16.3258, abs=1e-3)
    assert out[0, 0, :4, 0].tolist() == pytest.approx([0.63597, 0.65136, 0.63425, 0.64459], abs=1e-4)


def test_a_v1_model_renders_through_its_latent_analysis():
    renderer = Renderer.from_file(MODEL_V1)
    analysis = renderer.require_analysis()
    assert [axis.label for axis in analysis.axes] == ["Air", "Sustain", "Axis 3"]
    assert analysis.num_clips == 92
    wave = renderer.render_controls([0.0] * analysis.space.num_axes)
    assert wave.shape == (renderer.clip_samples,) == (1920,)
    assert np.isfinite(wave).all() and 0.01 < np.sqrt(np.mean(wave ** 2)) < 0.2


def test_a_decoder_only_renderer_generates_the_same_samples():
    """``distill generate`` loads the decoder alone: same sound, and encoding says why it cannot."""
    full, lean = Renderer.from_file(MODEL_V1), Renderer.from_file(MODEL_V1, decoder_only=True)
    assert full.can_encode and not lean.can_encode
    samples = 3 * full.clip_samples
    assert np.array_equal(lean.generate(samples, seed=3), full.generate(samples, seed=3))
    with pytest.raises(RuntimeError, match="without its encoder"):
        lean.encode(np.zeros(samples, dtype=np.float32))
