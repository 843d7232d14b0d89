"""Tiny models and matching configs: shapes are exercised without paying for 17 M parameters."""

from __future__ import annotations

import pytest
import torch

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.normalization import NormalizationStats
from distill.data.config import DataConfig
from distill.models import ConvVAE
from distill.models.config import ModelConfig

TINY_CHANNELS = (4, 8, 8, 16, 16)


def tiny_vae(n_mels: int = 20, n_frames: int = 7, latent_dim: int = 6,
             channels: tuple[int, ...] = TINY_CHANNELS, **kwargs) -> ConvVAE:
    torch.manual_seed(0)
    return ConvVAE(latent_dim=latent_dim, n_mels=n_mels, n_frames=n_frames, channels=channels, **kwargs)


def with_trained_batchnorm(model: ConvVAE, steps: int = 3) -> ConvVAE:
    """Run a few train-mode forwards so BatchNorm running statistics are not the identity."""
    model.train()
    g = model.geometry
    with torch.no_grad():
        for _ in range(steps):
            model(torch.rand(4, 2, g.n_mels, g.n_frames) * 3)
    return model.eval()


@pytest.fixture
def tiny_configs() -> tuple[ModelConfig, ComplexSpectrogramConfig, DataConfig]:
    """Configs of a tiny but real model: 16 mel bands, 12-frame clips."""
    return (ModelConfig(latent_dim=6, channels=(4, 8, 8)),
            ComplexSpectrogramConfig(n_fft=256, hop_length=64, n_mels=16),
            DataConfig(clip_frames=12, clip_hop_frames=6))


@pytest.fixture
def normalization() -> NormalizationStats:
    return NormalizationStats(magnitude_scale=14.5, if_scale=0.9)
