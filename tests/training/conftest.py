"""Fixtures of the training tests: generated sound folders, tiny but real run configurations.

The tiny representation (FFT 256, 32 mel bands, 32-frame clips) and model (channels
8..128, latent 8) keep a training step at a few milliseconds on two shared cores while
exercising the real code: five stride-2 layers down to a 1 x 1 bottleneck.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from distill.audio import synth
from distill.audio.config import ComplexSpectrogramConfig
from distill.data import build_cache
from distill.data.config import DataConfig
from distill.models.config import ModelConfig
from distill.training.config import RunConfig, TrainingConfig
from tests.conftest import write_audio

TINY_SPECTROGRAM = ComplexSpectrogramConfig(n_fft=256, hop_length=64, n_mels=32)
TINY_DATA = DataConfig(clip_frames=32, clip_hop_frames=16)
TINY_MODEL = ModelConfig(latent_dim=8, channels=(8, 16, 32, 64, 128))
#: Settings that keep a run short and silent: everything else is the default.
QUICK = dict(epochs=3, batch_size=4, learning_rate=2e-3, preset="large", checkpoint_every_epochs=1,
             preview_every_epochs=1, divergence_min_steps=1000)


#: Every training setting, as if the user had set them all: the preset changes nothing.
ALL_SET = frozenset(f.name for f in dataclasses.fields(TrainingConfig))


def tiny_run(**training) -> RunConfig:
    return RunConfig(TINY_SPECTROGRAM, TINY_DATA, TINY_MODEL, TrainingConfig(**{**QUICK, **training}))


def train_tiny(source, output: Path, run: RunConfig, **kwargs) -> Path:
    """``distill.training.run.train`` with every setting of ``run`` kept as it is."""
    from distill.training.run import train

    return train(source, output, run, explicit=ALL_SET, **kwargs)


def make_sounds(folder: Path, seconds: float = 0.15) -> Path:
    """Four short, different sounds (~3 tiny clips each)."""
    write_audio(folder / "tone.wav", synth.harmonic(220, seconds))
    write_audio(folder / "pluck.wav", synth.pluck(330, seconds, seed=1))
    write_audio(folder / "bell.wav", synth.fm_bell(550, seconds))
    write_audio(folder / "noise.wav", synth.noise_burst(seconds, 3000, seed=2))
    return folder


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    """``make_sounds`` cached with the tiny representation (shared by a module, read-only)."""
    root = tmp_path_factory.mktemp("tiny")
    return build_cache(make_sounds(root / "sounds"), TINY_SPECTROGRAM, TINY_DATA, root / "cache")


@pytest.fixture(scope="module")
def four_clip_cache(tmp_path_factory):
    """Four files of one tiny clip each."""
    root = tmp_path_factory.mktemp("four")
    return build_cache(make_sounds(root / "sounds", seconds=0.04), TINY_SPECTROGRAM, TINY_DATA,
                       root / "cache")
