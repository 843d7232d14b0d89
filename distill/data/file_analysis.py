"""One file as the dataset build sees it: its waveform and its 2-channel spectrogram.

The studio's file preview and any script that wants to look at a single file use this, so
a file the scan reports as usable always decodes to the same samples the cache holds.
Any thread may call ``analyse_file``; the transform is not shared between threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from distill.audio.io import load_audio

if TYPE_CHECKING:
    from distill.audio.spectrogram import ComplexSpectrogram


@dataclass(frozen=True)
class FileAnalysis:
    """One analysed file.

    Attributes
    ----------
    path
        The file.
    waveform
        [S] float32 mono samples at ``SAMPLE_RATE``.
    spectrogram
        [2, M, T] float32, representation units (channel 0 magnitude, channel 1 IF).
    """

    path: Path
    waveform: np.ndarray
    spectrogram: np.ndarray


def analyse_file(path: str | Path, transform: ComplexSpectrogram,
                 max_seconds: float | None) -> FileAnalysis:
    """Decode ``path`` and compute its 2-channel spectrogram.

    Decodes like the cache build does (same shortest length, ``transform.config.n_fft``
    samples, and the same longest duration), so a file the scan lists as usable always
    has an analysis.

    Parameters
    ----------
    path
        An audio file.
    transform
        The representation to compute (its config gives M and the hop).
    max_seconds
        Longest duration decoded (None: the whole file).

    Returns
    -------
    FileAnalysis
        The waveform [S] and the spectrogram [2, M, T], both float32 and contiguous.

    Raises
    ------
    AudioFileError
        The file cannot be decoded or is too short.
    """
    path = Path(path)
    wave = load_audio(path, min_samples=transform.config.n_fft, max_seconds=max_seconds)
    with torch.inference_mode():
        spec = transform.waveform_to_complex_mel(torch.from_numpy(wave).view(1, 1, -1))[0]
    return FileAnalysis(path, wave, np.ascontiguousarray(spec.numpy(), dtype=np.float32))
