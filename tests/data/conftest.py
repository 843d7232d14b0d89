"""Fixtures of the dataset tests: folders of generated sounds, good and broken."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from distill.audio import synth
from distill.data import build_cache
from tests.conftest import write_audio

#: Broken files of ``mixed_folder`` -> a phrase their reason must contain.
BROKEN_REASONS = {
    "zero_bytes.wav": "empty (0 bytes)",
    "text_renamed.wav": "not a readable audio file",
    "truncated_header.wav": "not a readable audio file",
    "nan_samples.wav": "invalid samples (NaN",
    "short_30ms.wav": "too short",
    "all_silent.wav": "silent",
    "notes.txt": "not an audio file (.txt)",
    "zz_backup/tone copy.wav": "duplicate of tone.wav",
}
#: Valid files of ``mixed_folder`` -> expected clip count (1 s or less: 1 clip; 2 s: 3 clips).
GOOD_CLIPS = {
    "tone.wav": 3,
    "pluck.flac": 1,
    "sub/bell.ogg": 1,
    "eight_channels.wav": 1,
    "low_8k.wav": 1,
    "high_192k.wav": 1,
}


def make_mixed_folder(folder: Path) -> Path:
    """Valid sounds in several formats, rates and channel counts, plus every kind of broken file."""
    write_audio(folder / "tone.wav", synth.harmonic(220, 2.0))
    write_audio(folder / "pluck.flac", synth.pluck(330, 1.0, seed=1))
    write_audio(folder / "sub" / "bell.ogg", synth.fm_bell(440, 1.0))
    eight = np.stack([synth.sine(110 * (c + 1), 1.0, amp=0.1) for c in range(8)], axis=1)
    write_audio(folder / "eight_channels.wav", eight)
    write_audio(folder / "low_8k.wav", synth.sine(300, 1.0, sr=8000), sr=8000)
    write_audio(folder / "high_192k.wav", synth.sine(1000, 0.5, sr=192_000), sr=192_000)

    (folder / "zero_bytes.wav").write_bytes(b"")
    (folder / "text_renamed.wav").write_text("these are my notes, not a sound\n" * 20)
    (folder / "truncated_header.wav").write_bytes((folder / "tone.wav").read_bytes()[:20])
    nan = synth.sine(440, 0.5)
    nan[1000:1010] = np.nan
    write_audio(folder / "nan_samples.wav", nan, subtype="FLOAT")
    write_audio(folder / "short_30ms.wav", synth.sine(440, 0.03))
    write_audio(folder / "all_silent.wav", np.zeros(48_000, np.float32))
    (folder / "notes.txt").write_text("session notes\n")
    (folder / "zz_backup").mkdir()
    shutil.copy(folder / "tone.wav", folder / "zz_backup" / "tone copy.wav")

    # Hidden files and folders are ignored without a word.
    write_audio(folder / ".hidden.wav", synth.sine(500, 0.5))
    write_audio(folder / ".trash" / "old.wav", synth.sine(600, 0.5))
    return folder


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    return make_mixed_folder(tmp_path / "mixed")


@pytest.fixture(scope="module")
def mixed_cache(tmp_path_factory):
    """``mixed_folder`` built once per module into its own cache (read-only for tests)."""
    root = tmp_path_factory.mktemp("mixed_cache")
    folder = make_mixed_folder(root / "mixed")
    return build_cache(folder, cache_dir=root / "cache")


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"
