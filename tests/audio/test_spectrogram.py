"""The 2-channel representation: shapes, IF read-back, masking, inverse quality, gradients."""

from __future__ import annotations

import math

import librosa
import numpy as np
import pytest
import torch

from distill.audio import synth
from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.metrics import log_magnitude_l1, spectral_convergence
from distill.audio.spectrogram import MAG_FLOOR, ComplexSpectrogram
from distill.constants import SAMPLE_RATE


@pytest.fixture(scope="module")
def cs() -> ComplexSpectrogram:
    return ComplexSpectrogram()


def _batch(*waves: np.ndarray) -> torch.Tensor:
    n = min(len(w) for w in waves)
    return torch.tensor(np.stack([w[:n] for w in waves]))[:, None]


def griffin_lim_32(spec: torch.Tensor, length: int) -> np.ndarray:
    """librosa's mel inversion (NNLS + 32 fast Griffin-Lim iterations) of OUR mel energy."""
    energy = (torch.expm1(spec[0, 0]) * MAG_FLOOR).double().numpy()
    stft = librosa.feature.inverse.mel_to_stft(energy, sr=SAMPLE_RATE, n_fft=2048, power=2.0)
    return librosa.griffinlim(stft, n_iter=32, hop_length=512, length=length, random_state=0)


@pytest.mark.parametrize("samples", [2048, 2049, 4800, 48_000, 2 * 48_000 + 123])
@pytest.mark.parametrize("batch", [1, 3])
def test_forward_shapes_and_ranges(cs, samples, batch):
    wave = torch.randn(batch, 1, samples) * 0.1
    spec = cs.waveform_to_complex_mel(wave)
    assert spec.shape == (batch, 2, 128, 1 + samples // 512)
    assert spec[:, 0].min() >= 0
    assert spec[:, 1].abs().max() <= 1
    assert torch.isfinite(spec).all()


def test_one_second_is_94_frames(cs):
    assert cs.waveform_to_complex_mel(torch.zeros(1, 1, SAMPLE_RATE)).shape[-1] == 94


@pytest.mark.parametrize("shape", [(2, 48_000), (1, 2, 48_000), (48_000,)])
def test_forward_rejects_wrong_shapes(cs, shape):
    with pytest.raises(ValueError, match=r"\[B, 1, S\]"):
        cs.waveform_to_complex_mel(torch.zeros(shape))


@pytest.mark.parametrize("freq", [110.0, 441.3, 1000.0, 3150.7, 9000.0, 15_500.0])
def test_pure_tone_frequency_is_read_back_from_the_if_channel(cs, freq):
    spec = cs.waveform_to_complex_mel(torch.tensor(synth.sine(freq, 1.0))[None, None])
    loudest_band = int(spec[0, 0, :, 10:-10].mean(dim=-1).argmax())
    estimate = cs.band_frequencies(spec)[0, loudest_band, 10:-10]
    assert float((estimate - freq).abs().median()) < 2.0


def test_quiet_bands_are_masked_to_the_band_centre(cs):
    spec = cs.waveform_to_complex_mel(torch.tensor(synth.sine(440.0, 1.0))[None, None])
    energy = torch.expm1(spec[0, 0]) * MAG_FLOOR
    quiet = energy <= energy.max() * cs.config.if_masking_threshold
    assert quiet.any() and (~quiet).any()
    assert (spec[0, 1][quiet] == 0).all()
    assert (spec[0, 1][~quiet] != 0).any()


def test_digital_silence_is_all_zero(cs):
    spec = cs.waveform_to_complex_mel(torch.zeros(1, 1, 10_000))
    assert (spec == 0).all()


def test_masking_threshold_changes_what_is_masked():
    wave = torch.tensor(synth.harmonic(220, 1.0, 12))[None, None]
    lax = ComplexSpectrogram(ComplexSpectrogramConfig(if_masking_threshold=0.0))
    strict = ComplexSpectrogram(ComplexSpectrogramConfig(if_masking_threshold=1e-2))
    zeros_lax = (lax.waveform_to_complex_mel(wave)[0, 1] == 0).float().mean()
    zeros_strict = (strict.waveform_to_complex_mel(wave)[0, 1] == 0).float().mean()
    assert zeros_strict > zeros_lax + 0.2


HARMONIC_TONES = {
    "harmonic 220 Hz": lambda: synth.harmonic(220, 1.0, 16),
    "vibrato 330 Hz": lambda: synth.harmonic(330, 1.0, 12, vibrato=0.5),
    "plucked string": lambda: synth.pluck(196, 1.0),
    "fm bell": lambda: synth.fm_bell(440, 1.0),
}


@pytest.mark.parametrize("phase", ["pghi", "locked"])
def test_harmonic_tones_round_trip_better_than_griffin_lim(cs, phase):
    ours, theirs = [], []
    for make in HARMONIC_TONES.values():
        x = make()
        spec = cs.waveform_to_complex_mel(torch.tensor(x)[None, None])
        y = cs.complex_mel_to_waveform(spec, len(x), phase=phase)[0, 0].numpy()
        g = griffin_lim_32(spec, len(x))
        ours.append((log_magnitude_l1(x, y), spectral_convergence(x, y)))
        theirs.append((log_magnitude_l1(x, g), spectral_convergence(x, g)))
    ours_l1, ours_sc = np.mean(ours, axis=0)
    gl_l1, gl_sc = np.mean(theirs, axis=0)
    assert ours_l1 < 0.92 * gl_l1, (ours_l1, gl_l1)
    if phase == "pghi":
        assert ours_sc < gl_sc, (ours_sc, gl_sc)


def _peak_track(wave: np.ndarray) -> np.ndarray:
    mag = np.abs(librosa.stft(wave, n_fft=2048, hop_length=512))
    return mag.argmax(axis=0)


@pytest.mark.parametrize("f0,f1,duration", [(100.0, 8000.0, 1.0), (8000.0, 200.0, 1.5),
                                             (200.0, 2000.0, 2.0)])
def test_chirps_keep_their_trajectory(cs, f0, f1, duration):
    x = synth.chirp(f0, f1, duration)
    spec = cs.waveform_to_complex_mel(torch.tensor(x)[None, None])
    y = cs.complex_mel_to_waveform(spec, len(x), phase="pghi")[0, 0].numpy()
    track_x, track_y = _peak_track(x)[2:-2], _peak_track(y)[2:-2]
    assert np.mean(np.abs(track_x - track_y) <= 1) > 0.95
    # Griffin-Lim (32 iterations) stays ahead on pure chirps' log-spectral distance, which
    # the -100 dB floor dominates; ours must stay close to it.
    g = griffin_lim_32(spec, len(x))
    assert log_magnitude_l1(x, y) < 1.35 * log_magnitude_l1(x, g)
    assert spectral_convergence(x, y) < 0.3


def test_locked_inverse_is_differentiable(cs):
    wave = torch.tensor(synth.harmonic(262, 0.5, 8))[None, None]
    spec = cs.waveform_to_complex_mel(wave).requires_grad_(True)
    out = cs.complex_mel_to_waveform(spec, phase="locked")
    loss = torch.stft(out[:, 0], 1024, 256, window=torch.hann_window(1024),
                      return_complex=True).abs().mean()
    loss.backward()
    grad = spec.grad
    assert torch.isfinite(grad).all()
    assert grad[:, 0].abs().sum() > 0 and grad[:, 1].abs().sum() > 0


def test_batched_inverse_equals_one_at_a_time(cs):
    waves = _batch(synth.harmonic(220, 1.0), synth.noise_burst(1.0, seed=3), synth.drum())
    spec = cs.waveform_to_complex_mel(waves)
    for phase in ("locked", "pghi"):
        together = cs.complex_mel_to_waveform(spec, phase=phase, seed=7)
        for b in range(spec.shape[0]):
            alone = cs.complex_mel_to_waveform(spec[b:b + 1], phase=phase, seed=7 + b)
            torch.testing.assert_close(together[b:b + 1], alone, atol=1e-5, rtol=0)


def test_pghi_is_reproducible_by_seed(cs):
    spec = cs.waveform_to_complex_mel(torch.tensor(synth.noise_burst(0.5, seed=1))[None, None])
    a = cs.complex_mel_to_waveform(spec, phase="pghi", seed=1)
    b = cs.complex_mel_to_waveform(spec, phase="pghi", seed=1)
    c = cs.complex_mel_to_waveform(spec, phase="pghi", seed=2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_pghi_keeps_phase_precision_over_long_renders(cs):
    x = synth.sine(997.0, 20.0, amp=0.5)
    spec = cs.waveform_to_complex_mel(torch.tensor(x)[None, None])
    y = cs.complex_mel_to_waveform(spec, len(x), phase="pghi")[0, 0].numpy()
    first, last = slice(SAMPLE_RATE, 2 * SAMPLE_RATE), slice(-2 * SAMPLE_RATE, -SAMPLE_RATE)
    assert spectral_convergence(x[last], y[last]) < spectral_convergence(x[first], y[first]) + 0.05


@pytest.mark.parametrize("length", [None, 1000, 48_000, 50_000])
def test_inverse_output_length(cs, length):
    spec = cs.waveform_to_complex_mel(torch.randn(1, 1, 48_000) * 0.1)
    for phase in ("locked", "pghi"):
        out = cs.complex_mel_to_waveform(spec, length=length, phase=phase)
        assert out.shape == (1, 1, cs.num_samples(94) if length is None else length)


def test_overlap_add_matches_torch_istft(cs):
    x = torch.randn(2, 1, 30_001)
    frames = cs.stft(x)
    ours = cs._istft(frames.transpose(-1, -2), 30_001)
    torch_istft = torch.istft(frames, 2048, 512, window=cs.window, center=True, length=30_001)
    torch.testing.assert_close(ours[:, 0], torch_istft, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours, x, atol=1e-5, rtol=0)


def test_reassignment_conserves_energy_and_sharpens_partials(cs):
    x = synth.sine(12_000.0, 1.0)
    spec = cs.waveform_to_complex_mel(torch.tensor(x)[None, None])
    freq = cs._frequency_frames(spec)
    energy = torch.expm1(spec[:, 0]) * MAG_FLOOR
    log_density = torch.log((energy / cs.band_area[:, None]).clamp_min(1e-30))
    smooth = torch.exp(torch.matmul(log_density.transpose(-1, -2), cs.synthesis.t()))
    sharp = cs._reassign(smooth, freq)
    torch.testing.assert_close(sharp.sum(-1), smooth.sum(-1), rtol=1e-4, atol=0)
    peak_bin = round(12_000.0 * 2048 / SAMPLE_RATE)
    near = slice(peak_bin - 2, peak_bin + 3)
    def share(power):
        return power[0, 40, near].sum() / power[0, 40].sum()

    assert share(sharp) > share(smooth) + 0.3


def test_unknown_phase_method_is_refused(cs):
    with pytest.raises(ValueError, match="phase method"):
        cs.complex_mel_to_waveform(torch.zeros(1, 2, 128, 10), phase="magic")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(cs):
    wave = torch.tensor(synth.harmonic(220, 1.0))[None, None]
    gpu = ComplexSpectrogram().cuda()
    spec_cpu = cs.waveform_to_complex_mel(wave)
    spec_gpu = gpu.waveform_to_complex_mel(wave.cuda())
    torch.testing.assert_close(spec_gpu.cpu()[:, 0], spec_cpu[:, 0], atol=1e-3, rtol=1e-4)
    out = gpu.complex_mel_to_waveform(spec_gpu, phase="locked")
    assert out.device.type == "cuda" and torch.isfinite(out).all()
    out = gpu.complex_mel_to_waveform(spec_gpu, phase="pghi")
    assert out.device.type == "cuda" and torch.isfinite(out).all()


def test_phase_advance_wraps():
    from distill.audio.phase import advance_per_frame

    step = advance_per_frame(torch.tensor([0.0, 23_999.0, 1e6]), 512, SAMPLE_RATE)
    assert (step >= 0).all() and (step < 2 * math.pi).all()


def test_render_is_independent_of_the_thread_count(cs):
    spec = cs.waveform_to_complex_mel(torch.tensor(synth.harmonic(220, 1.0))[None, None])
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = cs.complex_mel_to_waveform(spec, phase="pghi")
        torch.set_num_threads(2)
        two = cs.complex_mel_to_waveform(spec, phase="pghi")
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(one, two, atol=1e-6, rtol=0)


@pytest.mark.parametrize("frames", [1, 2])
def test_tiny_spectrograms_invert(cs, frames):
    spec = cs.waveform_to_complex_mel(torch.randn(1, 1, 512 * (frames - 1) + 1) * 0.1)
    for phase in ("locked", "pghi"):
        out = cs.complex_mel_to_waveform(spec, phase=phase)
        assert out.shape == (1, 1, cs.num_samples(frames)) and torch.isfinite(out).all()


def test_absurd_magnitudes_stay_finite(cs):
    spec = torch.zeros(1, 2, 128, 20)
    spec[:, 0] = 500.0  # what an untrained decoder times a dataset scale can produce
    spec.requires_grad_(True)
    for phase in ("locked", "pghi"):
        out = cs.complex_mel_to_waveform(spec, phase=phase)
        assert torch.isfinite(out).all()
    cs.complex_mel_to_waveform(spec, phase="locked").square().mean().backward()
    assert torch.isfinite(spec.grad).all()


def test_a_single_frame_is_held_not_silenced(cs):
    spec = cs.waveform_to_complex_mel(torch.tensor(synth.sine(1000.0, 0.04))[None, None])[..., 1:2]
    for phase in ("locked", "pghi"):
        out = cs.complex_mel_to_waveform(spec, length=512, phase=phase)
        assert out.shape == (1, 1, 512) and out.abs().max() > 1e-3
