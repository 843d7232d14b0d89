"""``Renderer``: exact durations, seeds, morphs without gaps, encoding, reconstruction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distill.audio.io import load_audio
from distill.audio.metrics import log_magnitude_l1, spectral_convergence
from distill.latent import NoLatentAnalysisError
from distill.render import RenderConfig, Renderer, reconstruct_representation

from .conftest import DATA, SPECTROGRAM, tone
from .test_sequence import envelope


def test_the_renderer_holds_what_it_needs(renderer, tone_model):
    assert renderer.analysis is not None and renderer.analysis.axes == tone_model.analysis.axes
    assert renderer.latent_dim == 4 and renderer.sample_rate == 48_000
    assert renderer.clip_samples == (DATA.clip_frames - 1) * SPECTROGRAM.hop_length
    # The inference copy decodes like the model.
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = renderer.normalization.denormalize(renderer.model.decode(z))
    assert torch.allclose(renderer.decode(z), expected, atol=1e-4)


def test_render_clips(renderer):
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    batch = renderer.render_clips(z)
    assert batch.shape == (5, renderer.clip_samples) and batch.dtype == np.float32
    one = renderer.render_clips(z[2])
    assert one.shape == (renderer.clip_samples,)
    # Batching does not change a clip's sound (PGHI seeds each batch item differently, so
    # the phase of its quiet coefficients, not the magnitudes, may differ).
    assert log_magnitude_l1(one, batch[2]) < 0.2
    values = [0.0] * renderer.analysis.space.num_axes
    assert np.allclose(renderer.render_controls(values), renderer.render_clips(renderer.analysis.space.mean),
                       atol=1e-5)


@pytest.mark.parametrize("samples", [1, 1000, 3840, 48_000, 48_000 + 17])
def test_generate_length_is_exact(renderer, samples):
    wave = renderer.generate(samples, seed=0)
    assert wave.shape == (samples,) and wave.dtype == np.float32 and np.isfinite(wave).all()


def test_generate_is_reproducible_by_seed(renderer):
    a = renderer.generate(30_000, seed=7)
    assert np.array_equal(a, renderer.generate(30_000, seed=7))
    assert not np.array_equal(a, renderer.generate(30_000, seed=8))
    assert np.sqrt(np.mean(a ** 2)) > 0.01


def test_a_held_sound_is_steady(tone_model):
    held = Renderer.from_file(tone_model.path, config=RenderConfig(variation=0.0))
    center = held.encode_file(tone_model.folder / "tone_220_1.5.wav").loudest()
    wave = held.generate(48_000, center=center, seed=0)
    env = envelope(wave[2400:-2400])
    assert env.min() > 0.7 * np.median(env)  # no pulsing at the clip rate (every 40 ms)
    # ... and the walk moves away from the centre when allowed to.
    drifting = Renderer.from_file(tone_model.path, config=RenderConfig(variation=0.5))
    assert not np.allclose(drifting.generate(48_000, center=center, seed=0), wave, atol=1e-3)


def test_generate_without_analysis(tone_model):
    plain = Renderer.from_file(tone_model.plain_path)
    assert plain.analysis is None
    wave = plain.generate(10_000, seed=1)
    assert wave.shape == (10_000,) and np.isfinite(wave).all()
    with pytest.raises(NoLatentAnalysisError, match="without latent analysis"):
        plain.require_analysis()
    with pytest.raises(NoLatentAnalysisError):
        plain.render_controls([0.0])


def test_morph_length_and_continuity(renderer, tone_model):
    a = renderer.encode_file(tone_model.folder / "tone_220_0.5.wav").loudest()
    b = renderer.encode_file(tone_model.folder / "tone_220_3.0.wav").loudest()
    samples = 48_000 + 123
    wave = renderer.morph(a, b, samples, seed=0)
    assert wave.shape == (samples,) and np.isfinite(wave).all()
    assert np.array_equal(wave, renderer.morph(a, b, samples, seed=0))
    # No click where clips meet: jumps near the joins are no larger than elsewhere.
    jumps = np.abs(np.diff(wave))
    hop = renderer.sequence_hop() * SPECTROGRAM.hop_length
    near = np.zeros(jumps.shape[0], bool)
    for join in range(hop, samples, hop):
        near[max(0, join - 128):join + 128] = True
    assert jumps[near].max() <= 1.5 * jumps[~near].max()
    # No gap: the level never collapses between the edge fades.
    env = envelope(wave[2400:-2400])
    assert env.min() > 0.3 * np.median(env)
    # Short morphs still have the requested length.
    assert renderer.morph(a, b, 500).shape == (500,)


def test_morph_goes_from_a_to_b(renderer, tone_model):
    a = renderer.encode_file(tone_model.folder / "tone_220_0.5.wav").loudest()
    b = renderer.encode_file(tone_model.folder / "tone_330_3.0.wav").loudest()
    wave = renderer.morph(a, b, 96_000)
    n = renderer.clip_samples
    sound_a, sound_b = renderer.render_clips(a), renderer.render_clips(b)
    start, end = wave[480:480 + n], wave[-480 - n:-480]  # inside the edge fades
    assert log_magnitude_l1(sound_a, start) < log_magnitude_l1(sound_b, start)
    assert log_magnitude_l1(sound_b, end) < log_magnitude_l1(sound_a, end)


def test_encode(renderer, tone_model):
    wave = load_audio(tone_model.folder / "tone_330_1.5.wav")
    quiet_tail = np.concatenate([wave, 0.01 * wave])
    encoded = renderer.encode(quiet_tail)
    n = encoded.latents.shape[0]
    assert encoded.latents.shape == (n, 4) and encoded.levels_db.shape == (n,) and n > 10
    assert encoded.levels_db[:n // 3].min() > encoded.levels_db[-n // 3:].max()  # the tail is quieter
    assert torch.equal(encoded.loudest(), encoded.latents[int(encoded.levels_db.argmax())])
    assert encoded.mean().shape == (4,)
    assert torch.allclose(renderer.encode_file(tone_model.folder / "tone_330_1.5.wav").latents,
                          renderer.encode(wave).latents)


def test_reconstruct(renderer):
    wave = tone(220, 1.5, duration=0.7)
    model_out = renderer.reconstruct(wave)
    representation = reconstruct_representation(wave, spectrogram=SPECTROGRAM, data=DATA)
    assert model_out.shape == representation.shape == wave.shape
    # The representation alone is near its measured quality (0.38 / 0.21); the tiny model
    # gets the partials (spectral convergence 0.30) but not the quiet floor between them.
    assert log_magnitude_l1(wave, representation) < 0.6 and spectral_convergence(wave, representation) < 0.35
    assert spectral_convergence(wave, model_out) < 0.5
    default = reconstruct_representation(wave)  # default configs
    assert default.shape == wave.shape and log_magnitude_l1(wave, default) < 0.6
