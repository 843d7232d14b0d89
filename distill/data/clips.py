"""A waveform -> its fixed-length 2-channel clips. The ONE place that cuts files into clips.

The cache build and the encoding of a file for generation both call ``file_clips``, so a
clip means the same thing everywhere:

1. the waveform is padded with zeros so the last clip is full (a file shorter than one
   clip gives one padded clip);
2. the whole-file, centred 2-channel transform is computed in chunks of at most
   ``CHUNK_SECONDS``, each an uncentred transform of a zero-padded segment, so memory
   stays bounded and the frames equal those of the whole file at once;
3. clips of ``clip_frames`` frames start every ``clip_hop_frames`` frames; clips whose
   waveform RMS is under ``silence_threshold_db`` are dropped;
4. IF is masked per clip, where a band is quieter than ``if_masking_threshold`` times the
   clip's loudest band (the config's definition). Masking per clip, not per file, keeps a
   clip's target independent of what else the file holds, and chunking exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data.config import DataConfig

#: Longest stretch of audio transformed at once (bounds the STFT's memory).
CHUNK_SECONDS = 30.0


@dataclass(frozen=True)
class ClipLayout:
    """Where the clips of a file of ``num_samples`` samples lie.

    Attributes
    ----------
    num_clips
        Clips before silent ones are dropped (at least 1).
    num_frames
        Frames of the zero-padded file: exactly ``(num_clips - 1) * hop + clip_frames``.
    padded_samples
        Length of the zero-padded waveform whose centred transform has ``num_frames`` frames.
    """

    num_clips: int
    num_frames: int
    padded_samples: int


def clip_layout(num_samples: int, spectrogram: ComplexSpectrogram, data_config: DataConfig) -> ClipLayout:
    """Clip count and padding for a waveform of ``num_samples`` samples."""
    frames = spectrogram.num_frames(num_samples)
    size, hop = data_config.clip_frames, data_config.clip_hop_frames
    num_clips = 1 + max(0, math.ceil((frames - size) / hop))
    num_frames = (num_clips - 1) * hop + size
    padded = max(num_samples, spectrogram.num_samples(num_frames))
    return ClipLayout(num_clips, num_frames, padded)


def file_clips(wave: np.ndarray | torch.Tensor, spectrogram: ComplexSpectrogram,
               data_config: DataConfig, *, drop_silent: bool = True) -> torch.Tensor:
    """Cut a whole file into 2-channel clips (see the module docstring for the rules).

    Parameters
    ----------
    wave
        ``[S]`` mono waveform at the spectrogram's sample rate (``load_audio`` output).
    spectrogram
        The forward transform; its device is used for the computation.
    data_config
        Clip length, clip hop and silence threshold.
    drop_silent
        Drop clips under the silence threshold (False keeps every clip, e.g. to re-render
        a whole file).

    Returns
    -------
    torch.Tensor
        ``[N, 2, n_mels, clip_frames]`` float32 (un-normalised), N >= 0.
    """
    device = spectrogram.window.device
    wave = torch.as_tensor(wave, dtype=torch.float32).reshape(-1).to(device)
    layout = clip_layout(wave.shape[0], spectrogram, data_config)
    with torch.no_grad():
        frames = complex_mel_frames(wave, spectrogram, layout.num_frames)  # [2, M, T]
        clips = frames.unfold(-1, data_config.clip_frames, data_config.clip_hop_frames)
        clips = clips.permute(2, 0, 1, 3)  # [N, 2, M, F], a view
        if drop_silent:
            levels = clip_levels_db(wave, layout, spectrogram, data_config)
            clips = clips[levels >= data_config.silence_threshold_db]
        clips = clips.contiguous()
        mask_quiet_bands(clips, spectrogram.config.if_masking_threshold)
    return clips


def complex_mel_frames(wave: torch.Tensor, spectrogram: ComplexSpectrogram,
                       num_frames: int | None = None, chunk_frames: int | None = None) -> torch.Tensor:
    """The centred 2-channel transform of a whole waveform, computed chunk by chunk.

    Each chunk is an uncentred transform of the matching stretch of the zero-padded
    signal, with one frame of context before it so its first IF value comes from a real
    phase advance (the context frame is then dropped). IF is not masked here.

    Parameters
    ----------
    wave
        ``[S]`` waveform; samples past its end count as zeros.
    num_frames
        Frames wanted (default ``1 + S // hop``, the centred transform's count).
    chunk_frames
        Frames per chunk (default: ``CHUNK_SECONDS`` of audio).

    Returns
    -------
    torch.Tensor
        ``[2, n_mels, num_frames]``, equal (to float tolerance) to
        ``waveform_to_complex_mel(wave[None, None], center=True)[0]`` without IF masking.
    """
    transform = _unmasked(spectrogram)
    n_fft, hop = transform.config.n_fft, transform.config.hop_length
    total = spectrogram.num_frames(wave.shape[-1]) if num_frames is None else num_frames
    step = chunk_frames or max(1, int(CHUNK_SECONDS * transform.sample_rate / hop))
    # Frame t of the centred transform covers padded[t*hop : t*hop + n_fft], where the
    # padded signal has n_fft // 2 zeros before the waveform (and zeros after it).
    offset = n_fft // 2
    out = []
    for t0 in range(0, total, step):
        t1 = min(total, t0 + step)
        first = max(0, t0 - 1)
        # Frame 0 borrows frame 1's IF, so even a one-frame first chunk computes two.
        last = min(total, max(t1, first + 2))
        start, stop = first * hop - offset, (last - 1) * hop + n_fft - offset
        segment = wave.new_zeros(stop - start)
        lo, hi = max(start, 0), min(stop, wave.shape[-1])
        if hi > lo:
            segment[lo - start:hi - start] = wave[lo:hi]
        chunk = transform.waveform_to_complex_mel(segment[None, None], center=False)[0]
        out.append(chunk[..., t0 - first:t1 - first])
    return torch.cat(out, dim=-1)


def clip_levels_db(wave: torch.Tensor, layout: ClipLayout, spectrogram: ComplexSpectrogram,
                   data_config: DataConfig) -> torch.Tensor:
    """RMS level (dBFS, ``-inf`` for digital silence) of the waveform span each clip renders.

    Returns
    -------
    torch.Tensor
        ``[num_clips]`` float64 on the waveform's device.
    """
    hop = spectrogram.config.hop_length
    span = spectrogram.num_samples(data_config.clip_frames)
    energy = torch.zeros(wave.shape[-1] + 1, dtype=torch.float64, device=wave.device)
    energy[1:] = torch.cumsum(wave.double().square(), dim=0)
    starts = torch.arange(layout.num_clips, device=wave.device) * (data_config.clip_hop_frames * hop)
    ends = starts + span
    total = energy[ends.clamp(max=wave.shape[-1])] - energy[starts.clamp(max=wave.shape[-1])]
    # The zeros past the file's end count: a tail clip that is mostly padding is quieter.
    return 10 * torch.log10(total.clamp_min(0) / span)


def mask_quiet_bands(clips: torch.Tensor, threshold: float) -> torch.Tensor:
    """Set IF to 0 (in place) where a band is quieter than ``threshold`` x the clip's loudest.

    The comparison ``energy <= peak * threshold`` is done on the log magnitude
    ``log1p(energy / floor)``, which is monotonic in energy, so the floor cancels.

    Parameters
    ----------
    clips
        ``[N, 2, M, F]`` un-normalised clips; modified in place and returned.
    """
    if clips.shape[0] == 0:
        return clips
    magnitude = clips[:, 0]
    peak = magnitude.amax(dim=(1, 2), keepdim=True)
    limit = torch.log1p(torch.expm1(peak) * threshold)
    clips[:, 1].masked_fill_(magnitude <= limit, 0.0)
    return clips


def _unmasked(spectrogram: ComplexSpectrogram) -> ComplexSpectrogram:
    """The same transform with IF masking off (masking is applied per clip afterwards)."""
    if spectrogram.config.if_masking_threshold == 0:
        return spectrogram
    return _unmasked_copy(spectrogram.config, spectrogram.sample_rate, str(spectrogram.window.device))


@lru_cache(maxsize=4)
def _unmasked_copy(config: ComplexSpectrogramConfig, sample_rate: int, device: str) -> ComplexSpectrogram:
    return ComplexSpectrogram(config.replace(if_masking_threshold=0.0), sample_rate).to(device)
