"""Files -> clips: counts, padding, silence, per-clip IF masking, exact chunked computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distill.audio import synth
from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.spectrogram import ComplexSpectrogram
from distill.constants import SAMPLE_RATE
from distill.data import clip_layout, complex_mel_frames, file_clips
from distill.data.config import DataConfig

SR = SAMPLE_RATE


@pytest.fixture(scope="module")
def spectrogram():
    return ComplexSpectrogram()


@pytest.fixture(scope="module")
def unmasked():
    return ComplexSpectrogram(ComplexSpectrogramConfig(if_masking_threshold=0.0))


def mask_per_clip(clips, threshold):
    """Reference masking: IF 0 where band energy <= threshold x the clip's loudest band."""
    clips = clips.clone()
    energy = torch.expm1(clips[:, 0])  # proportional to the mel energy
    quiet = energy <= energy.amax(dim=(1, 2), keepdim=True) * threshold
    clips[:, 1][quiet] = 0.0
    return clips


def assert_same_frames(actual, expected):
    """Equal to float tolerance; IF gets more slack (a ratio of tiny energies in quiet bands)."""
    torch.testing.assert_close(actual[..., 0, :, :], expected[..., 0, :, :], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(actual[..., 1, :, :], expected[..., 1, :, :], rtol=0, atol=1e-4)


@pytest.mark.parametrize(("seconds", "expected"), [
    (0.05, 1), (0.5, 1), (1.0, 1), (1.5, 2), (2.0, 3), (3.0, 5), (10.0, 19)])
def test_clip_count_for_known_durations(spectrogram, seconds, expected):
    wave = synth.sine(440, seconds)
    clips = file_clips(wave, spectrogram, DataConfig())
    assert clips.shape == (expected, 2, 128, 94)
    assert clips.dtype == torch.float32
    assert clip_layout(len(wave), spectrogram, DataConfig()).num_clips == expected


def test_other_clip_settings_change_the_count(spectrogram):
    clips = file_clips(synth.sine(440, 2.0), spectrogram, DataConfig(clip_frames=32, clip_hop_frames=32))
    # 188 frames in clips of 32 without overlap: 5 full clips and a padded sixth.
    assert clips.shape == (6, 2, 128, 32)


def test_short_file_gives_one_zero_padded_clip(spectrogram):
    wave = synth.sine(1000, 0.25)
    clip = file_clips(wave, spectrogram, DataConfig())[0]
    frames_of_sound = spectrogram.num_frames(len(wave))
    assert clip[0, :, :frames_of_sound - 4].amax() > 10
    # Past the file's end plus half a window, the padding is silence: magnitude 0.
    assert clip[0, :, frames_of_sound + 3:].abs().amax() == 0
    assert clip[1, :, frames_of_sound + 3:].abs().amax() == 0


def test_tail_is_padded_so_the_last_clip_is_full(spectrogram):
    wave = synth.sine(440, 1.5)  # 141 frames: clips at 0 and 47, the second padded to 141 + 0
    layout = clip_layout(len(wave), spectrogram, DataConfig())
    assert (layout.num_clips, layout.num_frames) == (2, 141)
    wave = synth.sine(440, 1.6)  # 151 frames: a third clip starting at frame 94, padded to 188
    layout = clip_layout(len(wave), spectrogram, DataConfig())
    assert (layout.num_clips, layout.num_frames) == (3, 188)
    assert spectrogram.num_frames(layout.padded_samples) == 188
    last = file_clips(wave, spectrogram, DataConfig())[-1]
    assert last.shape == (2, 128, 94)
    assert last[0, :, -20:].abs().amax() == 0


def test_silent_clips_are_dropped(spectrogram):
    # 1 s tone, 4 s of digital silence, 1 s tone: 11 clips, of which 2..7 lie inside the gap.
    tone = synth.sine(440, 1.0)
    wave = np.concatenate([tone, np.zeros(4 * SR, np.float32), tone])
    kept = file_clips(wave, spectrogram, DataConfig())
    everything = file_clips(wave, spectrogram, DataConfig(), drop_silent=False)
    assert everything.shape[0] == 11
    assert kept.shape[0] == 5
    assert torch.equal(kept, everything[[0, 1, 8, 9, 10]])


def test_silence_threshold_is_a_level(spectrogram):
    quiet = synth.sine(440, 1.0, amp=10 ** (-50 / 20))  # RMS about -53 dBFS
    assert file_clips(quiet, spectrogram, DataConfig(silence_threshold_db=-60)).shape[0] == 1
    assert file_clips(quiet, spectrogram, DataConfig(silence_threshold_db=-40)).shape[0] == 0


def test_values_stay_in_the_representation_ranges(spectrogram):
    wave = synth.noise_burst(2.0, seed=4) + synth.harmonic(110, 2.0)
    clips = file_clips(wave, spectrogram, DataConfig())
    assert clips[:, 0].amin() >= 0
    assert clips[:, 1].abs().amax() <= 1
    assert torch.isfinite(clips).all()


def test_long_file_in_chunks_equals_the_whole_file_at_once(spectrogram, unmasked):
    """70 s (three 30 s chunks, a 5 s gap): frames and clips equal the one-go transform."""
    gap = np.zeros(5 * SR, np.float32)
    wave = np.concatenate([synth.harmonic(220, 35.0, vibrato=0.5), gap, synth.chirp(80, 9000, 30.0)])
    config = DataConfig()
    layout = clip_layout(len(wave), spectrogram, config)
    padded = np.zeros(layout.padded_samples, np.float32)
    padded[:len(wave)] = wave
    whole = unmasked.waveform_to_complex_mel(torch.from_numpy(padded)[None, None])[0]
    assert whole.shape == (2, 128, layout.num_frames)

    chunked = complex_mel_frames(torch.from_numpy(wave), unmasked, layout.num_frames)
    assert_same_frames(chunked, whole)
    seam = int(30 * SR / 512)  # frames at a chunk seam have their own phase advance
    assert whole[1, :, seam - 2:seam + 2].abs().amax() > 0.1
    assert_same_frames(chunked[..., seam - 2:seam + 2], whole[..., seam - 2:seam + 2])

    clips = file_clips(wave, spectrogram, config, drop_silent=False)
    reference = whole.unfold(-1, config.clip_frames, config.clip_hop_frames).permute(2, 0, 1, 3)
    reference = mask_per_clip(reference, spectrogram.config.if_masking_threshold)
    assert clips.shape == reference.shape == (139, 2, 128, 94)
    assert_same_frames(clips, reference)
    # Clip i renders samples [i * 24064, i * 24064 + 47616): clips 70-77 lie inside the gap.
    kept = file_clips(wave, spectrogram, config)
    assert torch.equal(kept, clips[[i for i in range(139) if not 70 <= i <= 77]])


@pytest.mark.parametrize("chunk_frames", [1, 2, 46, 94, 95])
def test_chunk_size_does_not_matter(unmasked, chunk_frames):
    wave_t = torch.from_numpy(synth.harmonic(330, 1.5, vibrato=1.0))
    whole = unmasked.waveform_to_complex_mel(wave_t[None, None])[0]
    chunked = complex_mel_frames(wave_t, unmasked, chunk_frames=chunk_frames)
    assert_same_frames(chunked, whole)


def test_if_is_masked_relative_to_each_clips_loudest_band(spectrogram, unmasked):
    """A quiet passage keeps its IF although it is 80 dB under the file's loud part."""
    loud = synth.sine(440, 1.0, amp=0.9)
    soft = synth.sine(1234, 1.0, amp=0.9e-4)
    wave = np.concatenate([loud, soft])
    config = DataConfig(clip_frames=47, clip_hop_frames=47, silence_threshold_db=-120)
    clips = file_clips(wave, spectrogram, config)
    soft_clip = clips[-1]  # frames 141-187: only the soft tone
    loudest = soft_clip[0].argmax() // soft_clip.shape[-1]
    assert soft_clip[1, loudest].abs().amin() > 0.01  # 1234 Hz is off its band's centre
    # Masked relative to the whole file (the transform of the file at once), it would be lost.
    whole = spectrogram.waveform_to_complex_mel(torch.from_numpy(wave)[None, None])[0]
    assert whole[1, :, 141:188].abs().amax() == 0
    # Within every clip, exactly the bands under the threshold carry IF 0.
    unmasked_clips = file_clips(wave, unmasked, config)
    assert torch.equal(clips, mask_per_clip(unmasked_clips, spectrogram.config.if_masking_threshold))
    assert (clips[:, 1] == 0).sum() > (unmasked_clips[:, 1] == 0).sum()


def test_accepts_a_tensor_and_returns_nothing_for_silence(spectrogram):
    assert file_clips(torch.zeros(SR), spectrogram, DataConfig()).shape == (0, 2, 128, 94)
