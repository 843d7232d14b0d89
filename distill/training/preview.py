"""Previews while training: one held-out clip, its reconstruction, and both as audio.

Both the input and the reconstruction are turned into audio by the same inverse (PGHI,
the best one for listening), so what the user compares by ear is the model alone, not
the model plus a difference in phase reconstruction.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from distill.audio.normalization import NormalizationStats
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data import ClipDataset, TrainValidation
from distill.models import ConvVAE
from distill.training.events import Preview


def preview_source(datasets: TrainValidation) -> tuple[ClipDataset, int]:
    """The clip previews show: the first held-out clip (the first training clip, without
    augmentation, when nothing is held out), fixed for the run so previews compare."""
    if len(datasets.validation):
        return datasets.validation, 0
    plain = copy.copy(datasets.train)
    plain.augmentation = None
    return plain, 0


@torch.no_grad()
def render_preview(model: ConvVAE, dataset: ClipDataset, index: int, normalization: NormalizationStats,
                   listening: ComplexSpectrogram, epoch: int) -> Preview:
    """Reconstruct clip ``index`` of ``dataset`` in eval mode (through ``mu``) and render both.

    Parameters
    ----------
    model
        The VAE (any device; left in training mode afterwards).
    dataset
        Source of the clip; its item is ``[2, M, F]`` normalised (unaugmented for validation).
    normalization
        Turns model space back into representation units.
    listening
        A CPU ``ComplexSpectrogram`` (PGHI runs on the CPU).
    epoch
        Reported in the event.
    """
    item = dataset[index]
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    recon, _, _ = model(item.spectrogram.unsqueeze(0).to(device))
    model.train(was_training)
    pair = normalization.denormalize(torch.stack([item.spectrogram, recon[0].float().cpu()]))
    audio = listening.complex_mel_to_waveform(pair, phase="pghi")
    spectrograms = pair.numpy().astype(np.float32)
    waves = audio[:, 0].numpy().astype(np.float32)
    return Preview(epoch=epoch, input_spectrogram=spectrograms[0], reconstruction=spectrograms[1],
                   input_audio=waves[0], reconstruction_audio=waves[1],
                   sample_rate=listening.sample_rate, file_index=item.file_index,
                   clip_index=item.clip_index)
