"""Audio features that name the latent axes, measured on waveforms ``[B, S]``.

Each feature is one number per sound, on a roughly perceptual scale (dB, octaves,
semitones), with a rough just-noticeable difference (``Feature.resolution``) that
makes changes of different features comparable. Spectral features are computed per
STFT frame (Hann, ``N_FFT``/``HOP``) and averaged over the frames within ``ACTIVE_DB``
of the loudest, weighted by frame energy: silence before an onset or after a release
does not count.

=============  ==========  ====================================================
feature        label       value
=============  ==========  ====================================================
``centroid``   Brightness  spectral centroid (magnitude-weighted), log2 Hz
``rms``        Loudness    RMS level, dBFS
``flatness``   Noisiness   spectral flatness (geometric / arithmetic mean power), dB
``rolloff``    Air         frequency under which 85 % of the energy lies, log2 Hz
``spread``     Bandwidth   spectral spread around the centroid, log2 Hz
``pitch``      Pitch       median YIN fundamental of the active frames, semitones
``attack``     Attack      rise from the first frame to the peak, log2 of dB per second
``sustain``    Sustain     level slope after the peak, dB per second (0 = held)
=============  ==========  ====================================================

Plain torch (no librosa, whose feature functions JIT-compile with numba on first use).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

N_FFT = 2048
HOP = 512
#: Frames quieter than this (dB under the loudest frame) are ignored by frame averages.
ACTIVE_DB = 30.0
#: Fraction of the energy under the rolloff frequency.
ROLLOFF_FRACTION = 0.85
#: YIN: absolute threshold on the cumulative-mean-normalised difference, and pitch range.
YIN_THRESHOLD = 0.15
PITCH_RANGE_HZ = (40.0, 2000.0)
#: Relative floor of the power spectrum for the flatness' geometric mean.
FLATNESS_FLOOR = 1e-10


@dataclass(frozen=True)
class Feature:
    """One measurable property of a sound.

    Attributes
    ----------
    name, label, description
        Its key, the axis label it gives, what it measures (and in which unit).
    family
        Features describing the same thing (centroid, rolloff and spread all follow the
        spectral envelope): when several are tied on an axis, the family's first in
        ``FEATURES`` names it, so a tilt axis reads "Brightness" rather than "Bandwidth".
    resolution
        Roughly a just-noticeable difference, in the feature's unit: 1 dB of level,
        ~5 % of centroid or rolloff frequency (0.07 octave), 10 cents of pitch. Changes
        are compared across features in these units (see ``distill.latent.build``).
    """

    name: str
    label: str
    description: str
    family: str
    resolution: float


#: In order of preference when two features are equally good names for an axis.
FEATURES: tuple[Feature, ...] = (
    Feature("centroid", "Brightness", "spectral centroid (log2 Hz)", "spectrum", 0.07),
    Feature("rms", "Loudness", "RMS level (dBFS)", "level", 1.0),
    Feature("flatness", "Noisiness", "spectral flatness (dB)", "noise", 2.0),
    Feature("pitch", "Pitch", "fundamental frequency (semitones, MIDI)", "pitch", 0.1),
    Feature("rolloff", "Air", "85 % rolloff frequency (log2 Hz)", "spectrum", 0.07),
    Feature("spread", "Bandwidth", "spectral spread (log2 Hz)", "spectrum", 0.07),
    Feature("attack", "Attack", "rise rate to the peak (log2 dB/s)", "attack", 0.25),
    Feature("sustain", "Sustain", "level slope after the peak (dB/s)", "sustain", 3.0),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)


def feature(name: str) -> Feature:
    """The ``Feature`` called ``name`` (``KeyError`` when there is none)."""
    for f in FEATURES:
        if f.name == name:
            return f
    raise KeyError(name)


def measure_features(waves: torch.Tensor | np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    """Every feature of ``FEATURES`` for a batch of sounds.

    Parameters
    ----------
    waves
        ``[B, S]`` or ``[B, 1, S]`` waveforms (``S >= N_FFT``).
    sample_rate
        Their sample rate.

    Returns
    -------
    dict[str, np.ndarray]
        Feature name -> ``[B]`` float64 values (finite; a silent sound gets the floor values).
    """
    x = torch.as_tensor(waves, dtype=torch.float32).reshape(-1, np.shape(waves)[-1]).cpu()
    window = torch.hann_window(N_FFT)
    spec = torch.stft(x, N_FFT, HOP, window=window, center=True, pad_mode="constant", return_complex=True)
    magnitude = spec.abs().double()  # [B, K, T]
    power = magnitude.square()
    freqs = torch.linspace(0, sample_rate / 2, magnitude.shape[1], dtype=torch.float64)[:, None]

    frame_energy = power.sum(dim=1)  # [B, T]
    frame_db = 10 * torch.log10(frame_energy + 1e-20)
    active = frame_db >= frame_db.amax(dim=1, keepdim=True) - ACTIVE_DB
    weights = frame_energy * active
    weights = weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-30)

    def average(per_frame: torch.Tensor) -> torch.Tensor:
        return (per_frame * weights).sum(dim=1)

    mag_sum = magnitude.sum(dim=1).clamp_min(1e-20)
    centroid = (freqs * magnitude).sum(dim=1) / mag_sum
    spread = torch.sqrt(((freqs - centroid[:, None]) ** 2 * magnitude).sum(dim=1) / mag_sum)
    floor = power.amax(dim=(1, 2), keepdim=True).clamp_min(1e-20) * FLATNESS_FLOOR
    flatness = torch.exp(torch.log(power + floor).mean(dim=1)) / (power + floor).mean(dim=1)
    cumulative = torch.cumsum(power, dim=1)
    below = cumulative < ROLLOFF_FRACTION * cumulative[:, -1:]
    rolloff = freqs[:, 0][below.sum(dim=1).clamp(max=magnitude.shape[1] - 1)]

    rms = torch.sqrt(x.double().square().mean(dim=1))
    attack, sustain = _envelope_slopes(frame_db, sample_rate / HOP)
    return {
        "centroid": _log2(average(centroid)),
        "rms": 20 * np.log10(rms.numpy() + 1e-10),
        "flatness": 10 * np.log10(average(flatness).numpy() + 1e-20),
        "pitch": _pitch(x, active, sample_rate),
        "rolloff": _log2(average(rolloff)),
        "spread": _log2(average(spread)),
        "attack": attack,
        "sustain": sustain,
    }


def _log2(hz: torch.Tensor) -> np.ndarray:
    return np.log2(hz.numpy() + 1.0)


def _envelope_slopes(frame_db: torch.Tensor, frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Rise rate to the peak (log2 of dB/s) and the least-squares slope after it (dB/s)."""
    db = frame_db.numpy().clip(min=-120.0)
    attack = np.zeros(db.shape[0])
    sustain = np.zeros(db.shape[0])
    for b, env in enumerate(db):
        peak = int(np.argmax(env))
        # A peak on the first frame rose within one frame: the sharpest attack we can see.
        attack[b] = np.log2(1.0 + (env[peak] - env[0]) * frame_rate / max(peak, 1))
        tail = env[peak:]
        tail = tail[tail >= env[peak] - ACTIVE_DB]
        if tail.shape[0] >= 2:
            t = np.arange(tail.shape[0]) / frame_rate
            sustain[b] = np.polyfit(t, tail, 1)[0]
    return attack, sustain


def _pitch(x: torch.Tensor, active: torch.Tensor, sample_rate: int) -> np.ndarray:
    """Median YIN pitch (semitones, MIDI numbers) of the active frames of each sound."""
    half = N_FFT // 2
    lag_min = max(2, int(sample_rate / PITCH_RANGE_HZ[1]))
    lag_max = min(half - 1, math.ceil(sample_rate / PITCH_RANGE_HZ[0]))
    padded = torch.nn.functional.pad(x.double(), (half, half))
    frames = padded.unfold(-1, N_FFT, HOP)[:, :active.shape[1]]  # [B, T, N_FFT], centred like stft
    head = frames[..., :half]
    # d(tau) = sum_j (x_j - x_{j+tau})^2 over j < half, from energies and a cross-correlation.
    spectrum = torch.fft.rfft(frames, n=2 * N_FFT)
    cross = torch.fft.irfft(torch.fft.rfft(head, n=2 * N_FFT).conj() * spectrum, n=2 * N_FFT)[..., :half]
    energy = torch.cumsum(frames.square(), dim=-1)
    energy = torch.cat([torch.zeros_like(energy[..., :1]), energy], dim=-1)
    lags = torch.arange(half)
    shifted = energy[..., lags + half] - energy[..., lags]
    diff = (energy[..., half:half + 1] + shifted - 2 * cross).clamp_min(0)
    cumulative = torch.cumsum(diff[..., 1:], dim=-1) / torch.arange(1, half)
    cmnd = torch.cat([torch.ones_like(diff[..., :1]), diff[..., 1:] / cumulative.clamp_min(1e-20)], -1)
    search = cmnd[..., lag_min:lag_max]
    # YIN: the first lag under the threshold, walked down to its local minimum; else the minimum.
    under = search < YIN_THRESHOLD
    first = torch.where(under.any(-1), under.float().argmax(-1), search.argmin(-1))
    lag = first.clone()
    for _ in range(lag_max - lag_min):
        nxt = (lag + 1).clamp(max=search.shape[-1] - 1)
        better = (search.gather(-1, nxt[..., None])[..., 0] < search.gather(-1, lag[..., None])[..., 0])
        if not better.any():
            break
        lag = torch.where(better, nxt, lag)
    hz = sample_rate / (lag + lag_min).double()
    semitones = 69 + 12 * torch.log2(hz / 440.0)
    out = np.zeros(x.shape[0])
    for b in range(x.shape[0]):
        values = semitones[b][active[b]]
        out[b] = float(values.median()) if values.numel() else 0.0
    return out
