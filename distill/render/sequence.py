"""Clip sequences: overlap-add in the representation, then one phase reconstruction.

Consecutive clips are crossfaded on their **mel energies** — clip k enters with weight
``sin^2`` and clip k-1 leaves with ``cos^2``, weights that sum to 1 — which is an
equal-power crossfade by construction. Each band's IF is the energy-weighted mean of the
clips' IF, exactly how the forward transform combines the bins of a band, so a mixture of
two clips is represented as the transform would represent their sum of energies. The
joined spectrogram is then inverted once (PGHI), so a partial present on both sides of a
join keeps ONE phase track. Crossfading the two clips' waveforms instead would add two
unrelated phases of the same partial: the sum dips and beats across every join.

Long spectrograms are inverted in chunks of up to ``chunk_seconds`` (bounded memory:
an hour inverted at once would need tens of GB). Each join is put at the quietest
frame of the last quarter of its chunk; the chunks overlap by ``CHUNK_MARGIN_FRAMES``
and are joined with a short (~85 ms at the defaults) equal-power waveform crossfade
centred on the join. Two independent phase reconstructions of the same partial do
not line up, so a steady sound crossing a join dips (measured: to 0.4-0.56 of its level
for ~40 ms on a vibrato tone); in music the join usually finds a gap or a quiet moment.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from distill.audio.spectrogram import ComplexSpectrogram, relative_energy

#: Frames of context each chunk gets beyond its core on either side.
CHUNK_MARGIN_FRAMES = 16
#: Frames of the waveform crossfade at a chunk join (centred on the join).
CHUNK_FADE_FRAMES = 8


def clip_count(num_frames: int, clip_frames: int, hop_frames: int) -> int:
    """Clips of ``clip_frames`` every ``hop_frames`` needed to cover ``num_frames`` frames."""
    return 1 + max(0, math.ceil((num_frames - clip_frames) / hop_frames))


def crossfade_hop(clip_frames: int, crossfade: float) -> int:
    """Hop between clip starts for a crossfade given as a fraction of the clip (>= 1 frame)."""
    return max(1, clip_frames - round(crossfade * clip_frames))


def clip_weights(num_clips: int, clip_frames: int, hop_frames: int) -> torch.Tensor:
    """``[N, F]`` energy weights: sin^2 fade-in, flat, cos^2 fade-out over the overlap.

    The fades last ``min(F - hop, F // 2)`` frames; the first clip does not fade in and
    the last does not fade out. With a hop of at least half a clip, overlapping weights
    sum to exactly 1; ``join_clips`` divides by the sum anyway, so any hop works.
    """
    fade = min(clip_frames - hop_frames, clip_frames // 2)
    weights = torch.ones(num_clips, clip_frames)
    if fade > 0:
        # Half-frame offsets keep every weight > 0 and make fade-in + fade-out = 1 exactly.
        ramp = torch.sin(0.5 * math.pi * (torch.arange(fade) + 0.5) / fade).square()
        weights[1:, :fade] = ramp
        weights[:-1, clip_frames - fade:] = ramp.flip(0)
    return weights


def join_clips(specs: torch.Tensor, hop_frames: int, num_frames: int | None = None) -> torch.Tensor:
    """Overlap-add denormalised clips ``[N, 2, M, F]`` into one ``[1, 2, M, T]``.

    Clip k starts at frame ``k * hop_frames``; ``T`` is ``num_frames`` (default: all,
    ``(N - 1) * hop + F``). See the module docstring for how clips are mixed.
    """
    if specs.dim() != 4 or specs.shape[1] != 2 or specs.shape[0] < 1:
        raise ValueError(f"expected clips [N, 2, M, F] with N >= 1, got {list(specs.shape)}")
    n, _, n_mels, clip_frames = specs.shape
    total = (n - 1) * hop_frames + clip_frames
    num_frames = total if num_frames is None else num_frames
    if num_frames > total:
        raise ValueError(f"{n} clips every {hop_frames} frames cover {total} frames, not {num_frames}")
    weights = clip_weights(n, clip_frames, hop_frames).to(specs)
    # Relative energies: channel 0 is log1p(E / floor), so the floor cancels in every ratio.
    energy = relative_energy(specs[:, 0]) * weights[:, None, :]  # [N, M, F]
    mixed_energy = specs.new_zeros(n_mels, total)
    mixed_if = specs.new_zeros(n_mels, total)
    weight_sum = specs.new_zeros(total)
    for k in range(n):
        span = slice(k * hop_frames, k * hop_frames + clip_frames)
        mixed_energy[:, span] += energy[k]
        mixed_if[:, span] += energy[k] * specs[k, 1]
        weight_sum[span] += weights[k]
    magnitude = torch.log1p(mixed_energy / weight_sum)
    inst = torch.where(mixed_energy > 0, mixed_if / mixed_energy.clamp_min(1e-30), 0.0)
    return torch.stack([magnitude, inst.clamp(-1.0, 1.0)])[None, ..., :num_frames]


def synthesize(spec: torch.Tensor, spectrogram: ComplexSpectrogram, length: int, *, phase: str,
               seed: int, chunk_frames: int) -> np.ndarray:
    """One denormalised ``[1, 2, M, T]`` -> ``[length]`` float32, inverted chunk by chunk.

    Parameters
    ----------
    spec
        The joined spectrogram (frame t is centred on sample ``t * hop``).
    spectrogram
        The inverse transform.
    length
        Samples wanted.
    phase, seed
        Passed to ``complex_mel_to_waveform``.
    chunk_frames
        Frames inverted at once (at least ``4 * CHUNK_MARGIN_FRAMES``).
    """
    hop = spectrogram.config.hop_length
    device = spectrogram.window.device
    n_frames = spec.shape[-1]
    chunk_frames = max(chunk_frames, 4 * CHUNK_MARGIN_FRAMES)

    def invert(first: int, last: int, samples: int) -> np.ndarray:
        with torch.inference_mode():
            wave = spectrogram.complex_mel_to_waveform(spec[..., first:last].to(device), length=samples,
                                                       phase=phase, seed=seed)
        return wave[0, 0].float().cpu().numpy()

    if n_frames <= chunk_frames + CHUNK_MARGIN_FRAMES:
        return invert(0, n_frames, length)
    out = np.zeros(length, dtype=np.float32)
    fade = CHUNK_FADE_FRAMES * hop
    ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade).astype(np.float32)
    joins = _quiet_joins(spec, chunk_frames)
    cores = list(zip([0, *joins], [*joins, n_frames], strict=True))
    for i, (core_lo, core_hi) in enumerate(cores):
        first, last = max(0, core_lo - CHUNK_MARGIN_FRAMES), min(n_frames, core_hi + CHUNK_MARGIN_FRAMES)
        start = first * hop
        # The crossfades lie within [join - fade/2, join + fade/2) of each join.
        lo = 0 if i == 0 else core_lo * hop - fade // 2
        hi = length if i == len(cores) - 1 else min(length, core_hi * hop + fade - fade // 2)
        if lo >= length:
            break
        wave = invert(first, last, hi - start)
        part = wave[lo - start:hi - start].copy()
        if i > 0:
            part[:fade] *= ramp[:part.shape[0]]
        if i < len(cores) - 1 and part.shape[0] >= fade:
            part[-fade:] *= ramp[::-1]
        out[lo:hi] += part
    return out


def _quiet_joins(spec: torch.Tensor, chunk_frames: int) -> list[int]:
    """Chunk boundaries: each at the quietest frame of the last quarter of its chunk."""
    n_frames = spec.shape[-1]
    energy = relative_energy(spec[0, 0]).sum(dim=0)  # [T] relative frame energy
    joins, start = [], 0
    while n_frames - start > chunk_frames + CHUNK_MARGIN_FRAMES:
        lo, hi = start + chunk_frames - chunk_frames // 4, start + chunk_frames
        start = lo + int(torch.argmin(energy[lo:hi]))
        joins.append(start)
    return joins


def fade_edges(wave: np.ndarray, samples: int) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of ``samples`` each (in place; returns ``wave``)."""
    n = min(samples, wave.shape[-1] // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(wave.dtype)
        wave[..., :n] *= ramp
        wave[..., -n:] *= ramp[::-1]
    return wave
