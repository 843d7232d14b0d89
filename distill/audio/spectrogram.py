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
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.melbank import mel_geometry
from distill.constants import SAMPLE_RATE

#: Mel energy that maps to magnitude log(2): ~-100 dBFS noise. Keeps quiet detail.
MAG_FLOOR = 1e-8
#: Version of the forward transform's definition. Bump it whenever what
#: ``waveform_to_complex_mel`` computes changes without a config change: caches and model
#: files made with another version hold different numbers.
REPRESENTATION_VERSION = 1
#: Largest magnitude the inverse accepts: mel energy e^40 * MAG_FLOOR is ~10^6 times any
#: real full-scale sound, yet far from float32 overflow (an untrained decoder's output can
#: be anything; expm1 of it must stay finite so losses never turn NaN).
MAG_CEILING = 40.0

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
        self.register_buffer("synthesis", torch.tensor(geo.synthesis, dtype=f32), persistent=False)
        self.register_buffer("band_area", torch.tensor(geo.band_area, dtype=f32), persistent=False)
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
    # The inverse works frame-major ([B, T, K]): the reassignment scatters, the PGHI walk
    # along frequency and the irfft all run along the last, contiguous axis.
    def band_frequencies(self, spec: torch.Tensor) -> torch.Tensor:
        """Channel 1 of ``[B, 2, M, T]`` -> absolute band frequencies in Hz ``[B, M, T]``."""
        return self.centres[:, None] + spec[:, 1].clamp(-1.0, 1.0) * self.if_scale[:, None]

    def _frequency_frames(self, spec: torch.Tensor) -> torch.Tensor:
        """``[B, T, K]`` Hz: per bin, the energy-weighted mean frequency of its bands."""
        energy = _mel_energy(spec) / MAG_FLOOR + 1e-6  # relative weights suffice
        weighted = torch.stack([energy * self.band_frequencies(spec), energy])  # [2, B, M, T]
        num, den = torch.matmul(weighted.transpose(-1, -2), self.synthesis.t())  # [B, T, K] each
        return num / den  # den > 0: every bin has a band (see MelGeometry.synthesis)

    def _magnitude_frames(self, spec: torch.Tensor, freq: torch.Tensor) -> torch.Tensor:
        """``[B, T, K]`` linear magnitude from channel 0 and the per-bin frequencies.

        1. Mel energy -> energy density per bin of each band (energy / filter area) ->
           per-bin energy by interpolating the covering bands' LOG densities with a
           precomputed matrix. On real recordings this halves the log-magnitude error of
           the clamped pseudo-inverse, whose negative lobes leave holes.
        2. Frequency reassignment with the IF channel: each bin's energy moves to the
           frequency its bands report, spread over the ~4 bins of a Hann main lobe.
           Noise stays put (its bins point at themselves); a partial smeared over a wide
           band becomes a peak again.
        3. THEN the square root: energies, not amplitudes, are interpolated and moved.
        """
        power = torch.exp(torch.matmul(self._log_density(spec).transpose(-1, -2), self.synthesis.t()))
        return self._reassign(power, freq).clamp_min(1e-30).sqrt()

    def _log_density(self, spec: torch.Tensor) -> torch.Tensor:
        """``[B, M, T]``: log of each band's energy per bin (energy / filter area)."""
        return torch.log((_mel_energy(spec) / self.band_area[:, None]).clamp_min(1e-30))

    def _reassign(self, power: torch.Tensor, freq: torch.Tensor) -> torch.Tensor:
        """Move ``power[b, t, k]`` to the bin position ``freq / bin_width``.

        Spread with cubic B-spline weights over the 4 bins around that position: the same
        1/4 ratio at +-1 bin as a Hann window's main-lobe power, and a partition of unity
        (energy is conserved) for a few multiplies — the Hann kernel itself cost ~3 ms
        per second of audio. Differentiable with respect to power and position.
        """
        n_bins = power.shape[-1]
        position = freq * (self.config.n_fft / self.sample_rate)
        base = position.floor()
        u = position - base
        u2, u3 = u * u, u * u * u
        weights = ((1 - u) ** 3 / 6, (3 * u3 - 6 * u2 + 4) / 6,
                   (-3 * u3 + 3 * u2 + 3 * u + 1) / 6, u3 / 6)
        base = base.long()
        out = torch.zeros_like(power)
        for offset, weight in zip((-1, 0, 1, 2), weights, strict=True):
            out = out.scatter_add(-1, (base + offset).clamp_(0, n_bins - 1), power * weight)
        return out

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
            listening and export (not differentiable; the integration runs on the CPU).
        seed
            Seed of the random phase PGHI gives to negligible coefficients.
        """
        if spec.dim() != 4 or spec.shape[1] != 2:
            raise ValueError(f"expected spectrograms [B, 2, M, T], got {tuple(spec.shape)}")
        length = self.num_samples(spec.shape[-1]) if length is None else length
        if spec.shape[-1] < 2:
            # One frame has no phase advance to integrate: hold it for two, keep the start.
            spec = torch.cat([spec, spec], dim=-1)
        freq = self._frequency_frames(spec)
        if phase == "locked":
            from distill.audio.phase import locked_phase

            magnitude = self._magnitude_frames(spec, freq)
            angle = locked_phase(magnitude, freq, self.config.hop_length, self.sample_rate)
            return self._istft(torch.polar(magnitude, angle), length)
        if phase == "pghi":
            return self._pghi_waveform(spec, freq, length, seed)
        raise ValueError(f"unknown phase method {phase!r} (use 'locked' or 'pghi')")

    def _pghi_waveform(self, spec: torch.Tensor, freq: torch.Tensor, length: int, seed: int,
                       mark: Callable[[str], None] | None = None) -> torch.Tensor:
        """The ``"pghi"`` inverse of ``complex_mel_to_waveform`` after the frequency read-back.

        ``mark(stage)`` (benchmarks) is called as each stage ends: ``"magnitude"``,
        ``"phase"``, ``"istft"``, ``"projection"``.
        """
        from distill.audio.pghi import pghi_phase

        mark = mark or (lambda stage: None)
        magnitude = self._listening_magnitude(spec, freq)
        mark("magnitude")
        angle = pghi_phase(magnitude, freq, self.config, self.sample_rate, seed)
        mark("phase")
        # Project at the frames' own length (its STFT must have the same frames), then fit.
        natural = self.num_samples(spec.shape[-1])
        wave = self._istft(torch.polar(magnitude, angle), natural)
        mark("istft")
        wave = self.project_magnitude(wave, magnitude, natural)
        mark("projection")
        if length <= natural:
            return wave[..., :length]
        return torch.nn.functional.pad(wave, (0, length - natural))

    def _listening_magnitude(self, spec: torch.Tensor, freq: torch.Tensor) -> torch.Tensor:
        """``_magnitude_frames`` for the non-differentiable path: the same values from one
        numba pass (``distill.audio.reassign``), unless a gradient is wanted."""
        if torch.is_grad_enabled() and spec.requires_grad:
            return self._magnitude_frames(spec, freq)
        from distill.audio.reassign import magnitude_frames

        magnitude = magnitude_frames(self._log_density(spec), freq, self.config, self.sample_rate,
                                     workers=torch.get_num_threads())
        return magnitude.to(device=spec.device, dtype=spec.dtype)

    def project_magnitude(self, wave: torch.Tensor, magnitude: torch.Tensor,
                          length: int) -> torch.Tensor:
        """One consistency step: keep the phase of ``stft(wave)``, put back ``magnitude``.

        ``magnitude`` is frame-major ``[B, T, K]``.
        """
        spec = self.stft(wave).transpose(-1, -2)
        return self._istft(spec * (magnitude / spec.abs().clamp_min(1e-12)), length)

    def _istft(self, frames: torch.Tensor, length: int) -> torch.Tensor:
        """Complex frame-major ``[B, T, K]`` -> ``[B, 1, length]``: inverse of ``stft``.

        Weighted overlap-add written out (irfft, window, R shifted adds, divide by the
        summed squared window): equal to ``torch.istft`` to 1e-7 and 3-4x faster here,
        as it skips torch's general envelope computation. Differentiable.
        """
        n_fft, hop = self.config.n_fft, self.config.hop_length
        batch, n_frames, _ = frames.shape
        if n_fft % hop:
            wave = torch.istft(frames.transpose(-1, -2), n_fft, hop, window=self.window,
                               center=True, length=length)
            return wave.unsqueeze(1)
        overlap = n_fft // hop
        chunks = (torch.fft.irfft(frames, n=n_fft) * self.window).reshape(
            batch, n_frames, overlap, hop)
        signal = chunks.new_zeros(batch, n_frames + overlap - 1, hop)
        envelope = chunks.new_zeros(n_frames + overlap - 1, hop)
        window_sq = self.window.square().reshape(overlap, hop)
        for j in range(overlap):
            signal[:, j:j + n_frames] += chunks[:, :, j]
            envelope[j:j + n_frames] += window_sq[j]
        wave = (signal / envelope.clamp_min(1e-8)).reshape(batch, -1)
        start = n_fft // 2
        wave = wave[:, start:start + length]
        if wave.shape[-1] < length:
            wave = torch.nn.functional.pad(wave, (0, length - wave.shape[-1]))
        return wave.unsqueeze(1)


def relative_energy(magnitude: torch.Tensor) -> torch.Tensor:
    """Channel-0 values (any shape) -> mel energy in units of ``MAG_FLOOR``, kept finite.

    Everything that mixes or inverts decoded spectrograms goes through this one function:
    an untrained or early-stopped decoder can output magnitudes in the hundreds, whose
    ``expm1`` overflows float32 (above ~88) and turns every mixture that touches it into
    inf/NaN — silence at the output. ``MAG_CEILING`` keeps it finite.
    """
    return torch.expm1(magnitude.clamp(0.0, MAG_CEILING))


def _mel_energy(spec: torch.Tensor) -> torch.Tensor:
    """Channel 0 of ``[B, 2, M, T]`` back to mel energy ``[B, M, T]`` (kept finite)."""
    return relative_energy(spec[:, 0]) * MAG_FLOOR


def _princarg(x: torch.Tensor) -> torch.Tensor:
    """Wrap angles to [-pi, pi)."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi
