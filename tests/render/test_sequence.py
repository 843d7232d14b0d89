"""Clip sequences: crossfade weights, joining in the representation, chunked inverses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distill.audio import synth
from distill.audio.metrics import log_magnitude_l1
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data import file_clips
from distill.render import clip_count, clip_weights, crossfade_hop, fade_edges, join_clips, synthesize

from .conftest import DATA, SPECTROGRAM, tone

TRANSFORM = ComplexSpectrogram(SPECTROGRAM)


def envelope(wave: np.ndarray, block: int = 240) -> np.ndarray:
    """5 ms RMS blocks."""
    wave = wave[: wave.shape[0] // block * block].reshape(-1, block)
    return np.sqrt(np.mean(wave.astype(np.float64) ** 2, axis=1))


@pytest.mark.parametrize("clip_frames,hop", [(16, 8), (94, 47), (15, 10), (16, 16)])
def test_weights_are_an_equal_power_partition(clip_frames, hop):
    n = 5
    weights = clip_weights(n, clip_frames, hop)
    total = torch.zeros((n - 1) * hop + clip_frames)
    for k in range(n):
        total[k * hop:k * hop + clip_frames] += weights[k]
    # Energy weights summing to 1 = amplitude weights whose squares sum to 1 (equal power).
    assert torch.allclose(total, torch.ones_like(total), atol=1e-6)
    assert (weights > 0).all() and weights[0, 0] == 1 and weights[-1, -1] == 1


def test_clip_count_and_hop():
    assert crossfade_hop(94, 0.5) == 47 and crossfade_hop(94, 0.0) == 94 and crossfade_hop(2, 0.5) == 1
    assert clip_count(94, 94, 47) == 1 and clip_count(95, 94, 47) == 2 and clip_count(10, 94, 47) == 1
    assert clip_count(1000, 94, 47) == 1 + int(np.ceil((1000 - 94) / 47))


def test_identical_stationary_clips_join_into_the_same_frames():
    clip = file_clips(tone(220, 1.0), TRANSFORM, DATA)[3]  # a clip from the steady middle
    joined = join_clips(clip.expand(4, -1, -1, -1), hop_frames=8)
    assert joined.shape == (1, 2, SPECTROGRAM.n_mels, 3 * 8 + 16)
    # Each frame is a mix of two frames of the same steady tone: close to either (bands
    # with energy; the near-silent ones are noise).
    loud = clip[0] > 1.0
    assert loud.float().mean() > 0.3
    assert torch.allclose(joined[0, 0, :, :16][loud], clip[0][loud], atol=0.05)
    assert torch.allclose(joined[0, 0, :, 24:][loud], clip[0][loud], atol=0.05)


def test_mixing_adds_energies_and_weights_if_by_energy():
    quiet = torch.zeros(1, 2, 4, 4)
    loud = torch.zeros(1, 2, 4, 4)
    loud[:, 0] = float(np.log1p(1000.0))
    loud[:, 1] = 0.5
    joined = join_clips(torch.cat([loud, quiet]), hop_frames=2)  # frames 2-3: crossfade
    energy = torch.expm1(joined[0, 0])
    assert torch.allclose(energy[:, 0], torch.full((4,), 1000.0), rtol=1e-5)
    # In the overlap the loud clip fades out with cos^2; the silent one adds nothing.
    expected = 1000.0 * torch.cos(0.5 * np.pi * (torch.arange(2) + 0.5) / 2).square()
    assert torch.allclose(energy[0, 2:4], expected, rtol=1e-4)
    assert torch.allclose(joined[0, 1, :, :4], torch.full((4, 4), 0.5))  # IF of the only sound
    assert torch.equal(joined[0, 1, :, 4:], torch.zeros(4, 2))  # silence: band centre
    with pytest.raises(ValueError, match="cover"):
        join_clips(torch.cat([loud, quiet]), hop_frames=2, num_frames=7)


def test_alternating_clips_join_without_gaps_or_clicks():
    a, b = file_clips(tone(220, 0.5), TRANSFORM, DATA)[3], file_clips(tone(330, 2.0), TRANSFORM, DATA)[3]
    clips = torch.stack([a, b] * 6)
    length = 11 * 8 * SPECTROGRAM.hop_length + 1234
    spec = join_clips(clips, 8, TRANSFORM.num_frames(length))
    wave = synthesize(spec, TRANSFORM, length, phase="pghi", seed=0, chunk_frames=10_000)
    assert wave.shape == (length,) and wave.dtype == np.float32
    env = envelope(wave[2048:-2048])
    assert env.min() > 0.6 * np.median(env)  # equal-power: no dip where the tones cross
    jumps = np.abs(np.diff(wave))
    assert jumps.max() < 3 * np.percentile(jumps, 99)


def _inverses(wave_in: np.ndarray, chunk_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The wave through the representation, inverted at once and in chunks."""
    clips = file_clips(wave_in, TRANSFORM, DATA, drop_silent=False)
    spec = join_clips(clips, DATA.clip_hop_frames, TRANSFORM.num_frames(wave_in.shape[0]))
    whole = synthesize(spec, TRANSFORM, wave_in.shape[0], phase="pghi", seed=0, chunk_frames=10_000)
    chunked = synthesize(spec, TRANSFORM, wave_in.shape[0], phase="pghi", seed=0, chunk_frames=chunk_frames)
    return whole, chunked


def test_chunk_joins_go_where_it_is_quiet():
    # Notes at frames 0-112 and 169-281; the join is searched in frames 120-160: the gap.
    wave_in = np.concatenate([tone(220, 1.0), np.zeros(14_400, np.float32), tone(330, 2.0)])
    whole, chunked = _inverses(wave_in, chunk_frames=160)
    assert chunked.shape == whole.shape == wave_in.shape
    # The joins fell into the gaps between notes: the notes are inverted as if whole.
    env_whole, env_chunked = envelope(whole), envelope(chunked)
    loud = env_whole > 0.2 * env_whole.max()
    assert np.allclose(env_chunked[loud], env_whole[loud], rtol=0.35)
    assert log_magnitude_l1(wave_in, chunked) < log_magnitude_l1(wave_in, whole) + 0.05


def test_chunked_inverse_of_a_steady_sound():
    wave_in = synth.harmonic(220, 2.0, 20, 1.0, amp=0.3, vibrato=0.5)  # no quiet moment anywhere
    whole, chunked = _inverses(wave_in, chunk_frames=64)
    assert chunked.shape == whole.shape == wave_in.shape
    assert log_magnitude_l1(wave_in, chunked) < log_magnitude_l1(wave_in, whole) + 0.1
    env = envelope(chunked[4800:-4800])
    assert env.min() > 0.25 * np.median(env)  # the documented dip at a join, but no gap
    jumps = np.abs(np.diff(chunked))
    assert jumps.max() < 3 * np.percentile(jumps, 99)


def test_fade_edges():
    wave = np.ones(1000, np.float32)
    fade_edges(wave, 100)
    assert 0 < wave[0] < 0.001 and wave[100] == 1 and 0 < wave[-1] < 0.001
    assert np.all(np.diff(wave[:100]) > 0)
    short = np.ones(10, np.float32)
    fade_edges(short, 100)  # never more than half the signal per side
    assert short[4] > 0.5 and short[5] > 0.5
