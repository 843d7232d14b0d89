"""The 2-channel representation: log mel energy + per-band instantaneous frequency.

Channel 0 (magnitude) is ``log1p(E / MAG_FLOOR)`` of the mel energy ``E`` (>= 0, so a
Softplus can produce it). Channel 1 (IF) is, per mel band, the energy-weighted mean of
the per-bin instantaneous frequencies, as an offset from the band centre scaled into
[-1, 1] by ``MelGeometry.if_scale``, and 0 where the band is quiet (so a Tanh can
produce it). ``complex_mel_to_waveform`` inverts it without iterating: mel energy ->
linear energy (pseudo-inverse, clamped) -> square root; IF -> per-bin frequency ->
phase (see ``distill.audio.phase``) -> ISTFT.

Phase conventions: torch/librosa's STFT references each frame's phase to its first
sample; the "centred" convention references it to the window centre, where all bins
of one stationary partial share a phase. librosa phase = centred phase - pi * k.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from distill.audio.melbank import mel_geometry
from distill.constants import SAMPLE_RATE
from distill.training.config import ComplexSpectrogramConfig

#: Mel energy that maps to magnitude 1 - log(2): ~-100 dBFS noise. Keeps quiet detail.
MAG_FLOOR = 1e-8

PhaseMethod = Literal["locked", "pghi"]


class ComplexSpectrogram(nn.Module):
    """Forward and inverse 2-channel transform, batched, on any torch device.

    Parameters
    ----------
    config
        Representation settings (n_fft, hop, mel bands, IF masking threshold).
    sample_rate
        Audio sample rate (the project constant by default).
    """

    def __init__(self, config: ComplexSpectrogramConfig | None = None,
                 sample_rate: int = SAMPLE_RATE) -> None:
        super().__init__()
        self.config = config or ComplexSpectrogramConfig()
        self.sample_rate = sample_rate
        geo = mel_geometry(self.config, sample_rate)
        f32 = torch.float32
        self.register_buffer("window", torch.hann_window(self.config.n_fft, dtype=f32), persistent=False)
        self.register_buffer("filters", torch.tensor(geo.filters, dtype=f32), persistent=False)
        self.register_buffer("pinv", torch.tensor(geo.pinv, dtype=f32), persistent=False)
        self.register_buffer("centres", torch.tensor(geo.centres, dtype=f32), persistent=False)
        self.register_buffer("if_scale", torch.tensor(geo.if_scale, dtype=f32), persistent=False)
        self.register_buffer("bin_freqs", torch.tensor(geo.bin_freqs, dtype=f32), persistent=False)

    @property
    def n_bins(self) -> int:
        return self.config.n_fft // 2 + 1

    def num_frames(self, num_samples: int) -> int:
        """Frames the forward transform yields for ``num_samples`` samples (centred STFT)."""
        return 1 + num_samples // self.config.hop_length

    def num_samples(self, num_frames: int) -> int:
        """Samples the inverse yields for ``num_frames`` frames by default."""
        return (num_frames - 1) * self.config.hop_length

    # ------------------------------------------------------------------ forward
    def stft(self, wave: torch.Tensor, center: bool = True) -> torch.Tensor:
        """``[B, 1, S]`` or ``[B, S]`` -> complex ``[B, K, T]`` (Hann window).

        ``center=True`` zero-pads ``n_fft // 2`` on both sides (frame t is centred on
        sample ``t * hop``); ``center=False`` starts frame 0 at sample 0.
        """
        x = wave.reshape(-1, wave.shape[-1])
        return torch.stft(x, self.config.n_fft, self.config.hop_length, window=self.window,
                          center=center, pad_mode="constant", return_complex=True)

    def waveform_to_complex_mel(self, wave: torch.Tensor, center: bool = True) -> torch.Tensor:
        """Waveforms ``[B, 1, S]`` -> 2-channel spectrograms ``[B, 2, n_mels, T]``.

        ``T = 1 + S // hop_length`` (``1 + (S - n_fft) // hop_length`` when
        ``center=False``, which lets a caller compute a long file in exact chunks).
        Channel 0 >= 0, channel 1 in [-1, 1]; IF is masked where a band is quieter than
        ``if_masking_threshold`` times the loudest band of the same batch item.
        """
        if wave.dim() != 3 or wave.shape[1] != 1:
            raise ValueError(f"expected a waveform batch [B, 1, S], got {tuple(wave.shape)}")
        spec = self.stft(wave.float(), center=center)
        power = spec.real.square() + spec.imag.square()
        energy = torch.matmul(self.filters, power)  # [B, M, T]
        magnitude = torch.log1p(energy / MAG_FLOOR)
        freq = self._bin_frequencies(spec)  # [B, K, T] Hz
        band_freq = torch.matmul(self.filters, power * freq) / energy.clamp_min(1e-30)
        offset = ((band_freq - self.centres[:, None]) / self.if_scale[:, None]).clamp(-1.0, 1.0)
        peak = energy.amax(dim=(1, 2), keepdim=True)
        quiet = energy <= peak * self.config.if_masking_threshold
        offset = offset.masked_fill(quiet, 0.0)
        return torch.stack([magnitude, offset], dim=1)

    def _bin_frequencies(self, spec: torch.Tensor) -> torch.Tensor:
        """Per-bin instantaneous frequency in Hz from the phase advance between frames."""
        hop, n_fft, sr = self.config.hop_length, self.config.n_fft, self.sample_rate
        if spec.shape[-1] < 2:
            return self.bin_freqs[:, None].expand(spec.shape).clone()
        advance = torch.angle(spec[..., 1:] * spec[..., :-1].conj())  # [B, K, T-1]
        expected = (2 * math.pi * hop / n_fft) * torch.arange(
            self.n_bins, device=spec.device, dtype=advance.dtype)[:, None]
        deviation = _princarg(advance - expected)
        freq = self.bin_freqs[:, None] + deviation * (sr / (2 * math.pi * hop))
        return torch.cat([freq[..., :1], freq], dim=-1)  # frame 0 borrows frame 1's estimate

    # ------------------------------------------------------------------ inverse
    def linear_magnitude(self, spec: torch.Tensor) -> torch.Tensor:
        """Channel 0 of ``[B, 2, M, T]`` -> linear STFT magnitude ``[B, K, T]``.

        Mel energy -> linear energy with the pseudo-inverse, clamped at 0, THEN the square
        root (inverting amplitudes instead is measurably worse).
        """
        energy = torch.expm1(spec[:, 0].clamp_min(0.0)) * MAG_FLOOR
        power = torch.matmul(self.pinv, energy).clamp_min(1e-20)
        return power.sqrt()

    def band_frequencies(self, spec: torch.Tensor) -> torch.Tensor:
        """Channel 1 of ``[B, 2, M, T]`` -> absolute band frequencies in Hz ``[B, M, T]``."""
        return self.centres[:, None] + spec[:, 1].clamp(-1.0, 1.0) * self.if_scale[:, None]

    def linear_frequencies(self, spec: torch.Tensor) -> torch.Tensor:
        """Per-bin frequency ``[B, K, T]`` in Hz: energy-weighted mix of the covering bands."""
        energy = torch.expm1(spec[:, 0].clamp_min(0.0)) + 1e-6  # relative weights suffice
        band_freq = self.band_frequencies(spec)
        weights_t = self.filters.t()  # [K, M]
        num = torch.matmul(weights_t, energy * band_freq)
        den = torch.matmul(weights_t, energy)
        fallback = self.bin_freqs[:, None].expand_as(num)
        return torch.where(den > 0, num / den.clamp_min(1e-30), fallback)

    def complex_mel_to_waveform(self, spec: torch.Tensor, length: int | None = None,
                                phase: PhaseMethod = "locked", seed: int = 0) -> torch.Tensor:
        """2-channel spectrograms ``[B, 2, M, T]`` -> waveforms ``[B, 1, S]``.

        Parameters
        ----------
        spec
            Denormalised 2-channel spectrograms.
        length
            Output samples; default ``(T - 1) * hop_length``.
        phase
            ``"locked"``: IF-driven phase with identity phase locking, vectorised torch,
            differentiable (the training loss uses it). ``"pghi"``: phase-gradient
            integration from the loudest coefficients plus one magnitude projection, for
            listening and export (not differentiable; computed on the CPU).
        seed
            Seed of the random phase PGHI gives to negligible coefficients.
        """
        if spec.dim() != 4 or spec.shape[1] != 2:
            raise ValueError(f"expected spectrograms [B, 2, M, T], got {tuple(spec.shape)}")
        length = self.num_samples(spec.shape[-1]) if length is None else length
        magnitude = self.linear_magnitude(spec)
        freq = self.linear_frequencies(spec)
        if phase == "locked":
            from distill.audio.phase import locked_phase

            angle = locked_phase(magnitude, freq, self.config.hop_length, self.sample_rate)
            return self._istft(torch.polar(magnitude, angle), length)
        if phase == "pghi":
            from distill.audio.pghi import pghi_phase

            angle = pghi_phase(magnitude, freq, self.config, self.sample_rate, seed)
            wave = self._istft(torch.polar(magnitude, angle), length)
            return self.project_magnitude(wave, magnitude, length)
        raise ValueError(f"unknown phase method {phase!r} (use 'locked' or 'pghi')")

    def project_magnitude(self, wave: torch.Tensor, magnitude: torch.Tensor,
                          length: int) -> torch.Tensor:
        """One consistency step: keep the phase of ``stft(wave)``, put back ``magnitude``."""
        spec = self.stft(wave)
        unit = spec / spec.abs().clamp_min(1e-12)
        return self._istft(magnitude * unit, length)

    def _istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        wave = torch.istft(spec, self.config.n_fft, self.config.hop_length, window=self.window,
                           center=True, length=length)
        return wave.unsqueeze(1)


def _princarg(x: torch.Tensor) -> torch.Tensor:
    """Wrap angles to [-pi, pi)."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi
