"""Qt fixtures of the studio tests: settings on a temporary ini, audio without a device,
folders of good and broken sounds, and a check that no worker thread outlives its test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, Slot

from app.services.audio_controller import AudioController
from app.services.settings import AppSettings
from app.workers import live_workers
from distill.audio import synth
from distill.audio.playback import PlaybackEngine
from distill.data import DatasetCache, build_cache
from distill.training.config import ComplexSpectrogramConfig, DataConfig, ModelConfig
from tests.conftest import write_audio

#: Usable files of ``sound_folder`` -> clips (1 s: one clip; 2 s: three).
GOOD_FILES = {"tone.wav": 3, "pluck.flac": 1, "sub/noise.wav": 1}
#: Broken files of ``sound_folder`` -> a phrase their reason contains.
BROKEN_FILES = {
    "zero_bytes.wav": "empty (0 bytes)",
    "text_renamed.wav": "not a readable audio file",
    "nan_samples.wav": "NaN",
    "short_30ms.wav": "too short",
    "all_silent.wav": "silent",
}


@pytest.fixture(scope="session", autouse=True)
def gui_thread_garbage_collection(qapp):
    """As in the studio: collections run on the GUI thread only (app.services.gc_guard)."""
    from app.services.gc_guard import MainThreadCollector

    collector = MainThreadCollector()
    yield collector
    collector.stop()


@pytest.fixture(autouse=True)
def no_worker_left_running():
    """Fail a test that leaves a worker thread running (and join it so the next test is safe)."""
    yield
    stuck = [w.title for w in live_workers() if not w.wait(5000)]
    for worker in live_workers():
        worker.close(10_000)
    assert not stuck, f"worker threads still running after the test: {stuck}"


@pytest.fixture
def settings(tmp_path) -> AppSettings:
    return AppSettings(tmp_path / "settings.ini")


@pytest.fixture
def silent_audio(qtbot) -> AudioController:
    """An AudioController whose engine was never started: ``play`` returns False."""
    audio = AudioController(engine=PlaybackEngine())
    yield audio
    audio.close()


@pytest.fixture
def sound_folder(tmp_path) -> Path:
    """Three usable sounds and five broken files (see ``GOOD_FILES`` / ``BROKEN_FILES``)."""
    folder = tmp_path / "sounds"
    write_audio(folder / "tone.wav", synth.harmonic(220, 2.0))
    write_audio(folder / "pluck.flac", synth.pluck(330, 1.0, seed=1))
    write_audio(folder / "sub" / "noise.wav", synth.noise_burst(1.0, 3000, seed=2))
    (folder / "zero_bytes.wav").write_bytes(b"")
    (folder / "text_renamed.wav").write_text("not a sound, just notes\n" * 20)
    nan = synth.sine(440, 0.5)
    nan[1000:1010] = np.nan
    write_audio(folder / "nan_samples.wav", nan, subtype="FLOAT")
    write_audio(folder / "short_30ms.wav", synth.sine(440, 0.03))
    write_audio(folder / "all_silent.wav", np.zeros(48_000, np.float32))
    return folder


@pytest.fixture
def many_sounds(tmp_path) -> Path:
    """Fifteen short distinct tones (a build long enough to cancel in the middle)."""
    folder = tmp_path / "many"
    for i in range(15):
        write_audio(folder / f"tone_{i:02d}.wav", synth.sine(200 + 37 * i, 0.3))
    return folder


class Recorder(QObject):
    """Collects what a signal carries, on the GUI thread (a QObject slot: queued delivery)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[object] = []

    @Slot(object)
    def add(self, item: object) -> None:
        self.items.append(item)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A small model trained for real (3 epochs) on six tones, with its latent analysis."""
    from distill.training.config import ModelConfig, RunConfig, TrainingConfig
    from distill.training.run import train

    root = tmp_path_factory.mktemp("tiny_model")
    folder = root / "tones"
    for i, freq in enumerate((110, 165, 220, 330, 440, 660)):
        write_audio(folder / f"tone{i}.wav", synth.harmonic(freq, 1.0, 12, rolloff=0.6 + 0.4 * i))
    setup = RunConfig(model=ModelConfig(channels=(8, 16, 32, 64, 128), latent_dim=8),
                      training=TrainingConfig(epochs=3, batch_size=4))
    return train(folder, root / "tones.distill", setup, explicit={"epochs", "batch_size"},
                 cache_dir=root / "cache", checkpoint_dir=root / "checkpoints")


#: A representation and a model small enough for a training step of a few milliseconds.
TINY_SPECTROGRAM = ComplexSpectrogramConfig(n_fft=256, hop_length=64, n_mels=32)
TINY_DATA = DataConfig(clip_frames=32, clip_hop_frames=16)
TINY_MODEL = ModelConfig(latent_dim=8, channels=(8, 16, 32, 64, 128))
#: Training settings of a short, quiet run (every one explicit: the preset changes nothing).
QUICK = dict(epochs=2, batch_size=4, learning_rate=2e-3, preset="large", checkpoint_every_epochs=1,
             preview_every_epochs=1, divergence_min_steps=1000, num_threads=1)


def build_tiny_cache(root: Path, files: int = 4) -> DatasetCache:
    """``files`` short, different generated sounds, cached with the tiny representation."""
    makers = [lambda: synth.harmonic(220, 0.15), lambda: synth.pluck(330, 0.15, seed=1),
              lambda: synth.fm_bell(550, 0.15), lambda: synth.noise_burst(0.15, 3000, seed=2),
              lambda: synth.sine(660, 0.15), lambda: synth.drum(80, 0.15)]
    for i in range(files):
        write_audio(root / "sounds" / f"sound_{i}.wav", makers[i % len(makers)]())
    return build_cache(root / "sounds", TINY_SPECTROGRAM, TINY_DATA, root / "cache")


def build_empty_cache(root: Path) -> DatasetCache:
    """A dataset whose only file is silent: a cache without a usable clip."""
    write_audio(root / "silence" / "quiet.wav", np.zeros(9600, np.float32))
    return build_cache(root / "silence", TINY_SPECTROGRAM, TINY_DATA, root / "cache")
