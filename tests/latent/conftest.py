"""A small VAE trained on tones whose brightness varies continuously (built once per session).

40 harmonic tones at 220 Hz, 0.5 s each, at one RMS level, whose spectral rolloff is
swept smoothly from bright (partials at ``h ** -0.3``) to dark (``h ** -3``) — brightness
is the only thing that varies (peak-normalised tones would also get louder as they
darken, and the sweep would rightly say so); a reduced representation (64
mel bands, 32-frame clips) and a reduced VAE (channels 16..256, 8 latent dimensions)
trained for 300 Adam steps with the project's loss (no STFT term). About 10 s on two
cores; deterministic (seeded data order and initialisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from distill.audio import synth
from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.normalization import NormalizationStats
from distill.data import ClipDataset, DatasetCache, build_cache
from distill.data.config import DataConfig
from distill.latent import LatentAnalysis, analyze_latents
from distill.models import ConvVAE, vae_loss
from distill.models.config import LossWeights

from ..conftest import write_audio

SPECTROGRAM = ComplexSpectrogramConfig(n_fft=1024, hop_length=256, n_mels=64)
DATA = DataConfig(clip_frames=32, clip_hop_frames=16)
CHANNELS = (16, 32, 64, 128, 256)
LATENT_DIM = 8
ROLLOFFS = np.linspace(0.3, 3.0, 40)
STEPS = 300


@dataclass
class TrainedModel:
    model: ConvVAE
    cache: DatasetCache
    normalization: NormalizationStats
    clips: torch.Tensor  # [N, 2, M, F] normalised, in cache order
    analysis: LatentAnalysis
    events: list


def make_tone_folder(folder, rolloffs=ROLLOFFS, duration=0.5, rms=0.1):
    for i, rolloff in enumerate(rolloffs):
        tone = synth.harmonic(220, duration, 40, float(rolloff))
        write_audio(folder / f"tone_{i:02d}.wav", tone * (rms / np.sqrt(np.mean(tone ** 2))))
    return folder


def train(model: ConvVAE, clips: torch.Tensor, steps: int, seed: int = 0, batch: int = 32) -> ConvVAE:
    """Plain Adam on the VAE loss (magnitude + IF + KL); returns the model in eval mode."""
    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    weights = LossWeights(stft=0.0)
    model.train()
    for _ in range(steps):
        x = clips[torch.randint(0, clips.shape[0], (batch,), generator=order)]
        recon, mu, logvar = model(x)
        loss = vae_loss(recon, x, mu, logvar, weights=weights, beta=1e-3).total
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


@pytest.fixture(scope="session")
def brightness_model(tmp_path_factory) -> TrainedModel:
    root = tmp_path_factory.mktemp("brightness")
    cache = build_cache(make_tone_folder(root / "tones"), SPECTROGRAM, DATA, cache_dir=root / "cache")
    stats = cache.normalization_stats()
    dataset = ClipDataset(cache, stats)
    clips = torch.stack([dataset[i].spectrogram for i in range(len(dataset))])
    torch.manual_seed(0)
    model = train(ConvVAE(latent_dim=LATENT_DIM, n_mels=SPECTROGRAM.n_mels, n_frames=DATA.clip_frames,
                          channels=CHANNELS), clips, STEPS)
    events: list = []
    analysis = analyze_latents(model, cache, SPECTROGRAM, stats, on_event=events.append)
    return TrainedModel(model, cache, stats, clips, analysis, events)
