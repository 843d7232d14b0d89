"""Augmentation of normalised 2-channel clips, for the training split of tiny datasets.

``augment_clip`` changes one clip (gain, shifts, noise); ``mix_clips`` sounds two
together (the dataset picks the partner: ``AugmentationConfig.mix_probability``).

Every transform keeps the representation valid: channel 0 (magnitude) >= 0 and channel 1
(IF) in [-1, 1]. Randomness comes only from the ``torch.Generator`` passed in, so a
clip's augmentation is reproducible from a seed (``item_generator``) whatever the
DataLoader worker or order.
"""

from __future__ import annotations

import numpy as np
import torch

from distill.audio.normalization import NormalizationStats
from distill.audio.spectrogram import relative_energy
from distill.data.config import AugmentationConfig

#: Range of the weight of an item against its partner when mixing (``mix_clips``): the
#: item stays at least an equal part of what the model hears.
MIX_WEIGHTS = (0.5, 0.9)


def item_generator(seed: int, epoch: int, clip_id: int) -> torch.Generator:
    """A generator seeded from (seed, epoch, clip): same draws for the same clip and epoch."""
    state = np.random.SeedSequence([seed, epoch, clip_id]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


def augment_clip(clip: torch.Tensor, config: AugmentationConfig, stats: NormalizationStats,
                 generator: torch.Generator) -> torch.Tensor:
    """Randomly change one normalised clip (gain, time shift, pitch shift, noise).

    Parameters
    ----------
    clip
        ``[2, M, F]`` normalised clip (``stats.normalize`` output).
    config
        Ranges of each transform; a range of 0 turns that transform off.
    stats
        The dataset's normalisation, to apply the gain to the mel energy itself.
    generator
        Source of every random draw (CPU generator).

    Returns
    -------
    torch.Tensor
        ``[2, M, F]`` new tensor; channel 0 >= 0, channel 1 in [-1, 1].
    """
    magnitude, inst_freq = clip[0], clip[1]
    if config.gain_db > 0:
        db = _uniform(-config.gain_db, config.gain_db, generator)
        # Channel 0 is log1p(energy / floor): a gain g multiplies the energy, not the log.
        raw = magnitude.clamp_min(0.0) * stats.magnitude_scale
        raw = torch.log1p(torch.expm1(raw) * 10 ** (db / 10))
        magnitude = raw / stats.magnitude_scale
    if config.time_shift_frames > 0:
        shift = _integer(config.time_shift_frames, generator)
        magnitude = torch.roll(magnitude, shift, dims=-1)
        inst_freq = torch.roll(inst_freq, shift, dims=-1)
    if config.pitch_shift_bands > 0:
        bands = _integer(config.pitch_shift_bands, generator)
        magnitude = _shift_bands(magnitude, bands)
        inst_freq = _shift_bands(inst_freq, bands)
    if config.noise_level > 0:
        noise = torch.randn(magnitude.shape, generator=generator, dtype=magnitude.dtype)
        magnitude = magnitude + config.noise_level * noise.to(magnitude.device)
    return torch.stack([magnitude.clamp_min(0.0), inst_freq.clamp(-1.0, 1.0)])


def mix_clips(clip: torch.Tensor, other: torch.Tensor, weight: float,
              stats: NormalizationStats) -> torch.Tensor:
    """Two normalised clips ``[2, M, F]`` sounding together: a new normalised clip.

    The mel energies add, ``weight`` of ``clip``'s and ``1 - weight`` of ``other``'s (so the
    level stays that of the sources, not their sum), and each bin takes the IF of the
    source whose weighted energy is the larger there: the partial a bin's phase follows.
    Channel 0 is ``log1p(energy / floor)`` scaled, so the mix happens on its
    ``relative_energy``.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    scale = stats.magnitude_scale
    energy = relative_energy(clip[0] * scale) * weight
    other_energy = relative_energy(other[0] * scale) * (1.0 - weight)
    magnitude = torch.log1p(energy + other_energy) / scale
    inst_freq = torch.where(energy >= other_energy, clip[1], other[1])
    return torch.stack([magnitude, inst_freq])


def mix_weight(generator: torch.Generator) -> float:
    """The weight of an item against its partner (``mix_clips``), drawn in ``MIX_WEIGHTS``."""
    return _uniform(*MIX_WEIGHTS, generator)


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _integer(limit: int, generator: torch.Generator) -> int:
    """Uniform integer in [-limit, limit]."""
    return int(torch.randint(-limit, limit + 1, (), generator=generator))


def _shift_bands(x: torch.Tensor, bands: int) -> torch.Tensor:
    """Move ``[M, F]`` content up (bands > 0) or down the mel axis; vacated bands are 0.

    Not circular: wrapping would carry the top bands' energy to the bottom. 0 is silence
    for the magnitude and the band centre for the IF.
    """
    if bands == 0:
        return x
    out = torch.zeros_like(x)
    if bands > 0:
        out[bands:] = x[:-bands]
    else:
        out[:bands] = x[-bands:]
    return out
