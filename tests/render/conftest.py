"""A tiny tone model for rendering tests (trained once per session, ~2 s) and its files.

Six harmonic tones (two pitches, three brightnesses) at one level; a 32-band, 16-frame
representation (~80 ms clips, so a second of audio is a sequence of ~25 clips) and a
3-layer VAE with 4 latent dimensions: small enough to train in a couple of seconds,
trained enough that its sounds are tones (which makes clicks and gaps measurable).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from distill.audio import synth
from distill.audio.config import ComplexSpectrogramConfig
from distill.data import ClipDataset, build_cache
from distill.data.config import DataConfig
from distill.latent import LatentAnalysis, LatentConfig, analyze_latents
from distill.models import ConvVAE, save_model
from distill.render import Renderer

from ..conftest import write_audio
from ..latent.conftest import train

SPECTROGRAM = ComplexSpectrogramConfig(n_fft=1024, hop_length=256, n_mels=32)
DATA = DataConfig(clip_frames=16, clip_hop_frames=8)
TONES = {f"tone_{f}_{r}.wav": (f, r) for f in (220, 330) for r in (0.5, 1.5, 3.0)}


@dataclass
class ToneModel:
    path: Path  # model file with latent analysis
    plain_path: Path  # the same model without
    folder: Path  # the training sounds
    analysis: LatentAnalysis


def tone(freq: float, rolloff: float, duration: float = 0.6, rms: float = 0.1) -> np.ndarray:
    wave = synth.harmonic(freq, duration, 20, rolloff)
    return (wave * (rms / np.sqrt(np.mean(wave ** 2)))).astype(np.float32)


@pytest.fixture(scope="session")
def tone_model(tmp_path_factory) -> ToneModel:
    root = tmp_path_factory.mktemp("tone_model")
    folder = root / "tones"
    for name, (freq, rolloff) in TONES.items():
        write_audio(folder / name, tone(freq, rolloff))
    cache = build_cache(folder, SPECTROGRAM, DATA, cache_dir=root / "cache")
    stats = cache.normalization_stats()
    dataset = ClipDataset(cache, stats)
    clips = torch.stack([dataset[i].spectrogram for i in range(len(dataset))])
    torch.manual_seed(0)
    model = ConvVAE(latent_dim=4, n_mels=SPECTROGRAM.n_mels, n_frames=DATA.clip_frames, channels=(8, 16, 32))
    train(model, clips, steps=200, batch=16)
    analysis = analyze_latents(model, cache, SPECTROGRAM, stats, config=LatentConfig(sweep_steps=7))
    tensors, metadata = analysis.to_model_extras()
    common = dict(spectrogram=SPECTROGRAM, data=DATA, normalization=stats)
    path = save_model(root / "tones.distill", model, extra_tensors=tensors, extra_metadata=metadata, **common)
    plain = save_model(root / "plain.distill", model, **common)
    return ToneModel(path, plain, folder, analysis)


@pytest.fixture
def renderer(tone_model) -> Renderer:
    return Renderer.from_file(tone_model.path)
