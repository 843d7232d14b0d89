"""Deterministic signal synthesis: test signals, benchmark material and the demo dataset.

Everything returns float32 mono ``[S]`` at ``SAMPLE_RATE`` with peaks below 1.
"""

from __future__ import annotations

import numpy as np

from distill.constants import SAMPLE_RATE


def _time(duration: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    return np.arange(round(duration * sr)) / sr


def envelope(n: int, attack: float = 0.01, release: float = 0.05, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Linear attack, flat sustain, linear release over ``n`` samples."""
    env = np.ones(n)
    a, r = min(n, max(1, round(attack * sr))), min(n, max(1, round(release * sr)))
    env[:a] = np.linspace(0, 1, a)
    env[n - r:] *= np.linspace(1, 0, r)
    return env


def sine(freq: float, duration: float = 1.0, amp: float = 0.5, sr: int = SAMPLE_RATE) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * _time(duration, sr))).astype(np.float32)


def chirp(f0: float, f1: float, duration: float = 1.0, amp: float = 0.5,
          sr: int = SAMPLE_RATE) -> np.ndarray:
    """Exponential sweep from ``f0`` to ``f1`` Hz."""
    t = _time(duration, sr)
    k = np.log(f1 / f0) / duration
    phase = 2 * np.pi * f0 * (np.exp(k * t) - 1) / k
    return (amp * np.sin(phase)).astype(np.float32)


def harmonic(freq: float, duration: float = 1.0, n_harmonics: int = 8, rolloff: float = 1.0,
             amp: float = 0.5, vibrato: float = 0.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Harmonic tone; partial h has amplitude ``h ** -rolloff`` (small rolloff = bright).

    ``vibrato`` is the depth in semitones of a 5 Hz vibrato. Raises ValueError when even
    the fundamental is above 95 % of Nyquist (the tone would be silence).
    """
    if freq >= sr / 2 * 0.95:
        raise ValueError(f"a {freq:g} Hz tone is above 95 % of the Nyquist frequency at {sr} Hz")
    t = _time(duration, sr)
    inst = freq * 2 ** (vibrato / 12 * np.sin(2 * np.pi * 5.0 * t))
    phase = 2 * np.pi * np.cumsum(inst) / sr
    out = np.zeros_like(t)
    for h in range(1, n_harmonics + 1):
        if h * freq >= sr / 2 * 0.95:
            break
        out += h ** -rolloff * np.sin(h * phase)
    out *= envelope(len(t), sr=sr)
    return (amp * out / np.max(np.abs(out))).astype(np.float32)


def noise_burst(duration: float = 1.0, centre: float = 2000.0, bandwidth: float = 1.0,
                amp: float = 0.3, seed: int = 0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Band-pass noise (log-Gaussian band around ``centre``, ``bandwidth`` octaves)."""
    rng = np.random.default_rng(seed)
    n = round(duration * sr)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sr)
    octaves = np.log2(np.maximum(f, 1.0) / centre)
    spec *= np.exp(-0.5 * (octaves / max(bandwidth, 1e-3)) ** 2)
    out = np.fft.irfft(spec, n) * envelope(n, 0.005, 0.2, sr)
    return (amp * out / np.max(np.abs(out))).astype(np.float32)


def pluck(freq: float, duration: float = 1.0, brightness: float = 0.5, amp: float = 0.5,
          seed: int = 0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Karplus-Strong plucked string; ``brightness`` in (0, 1] sets the damping filter."""
    rng = np.random.default_rng(seed)
    n = round(duration * sr)
    period = max(2, round(sr / freq))
    buf = rng.uniform(-1, 1, period)
    out = np.empty(n)
    a = 0.5 + 0.49 * brightness  # 0.5 = two-point average, the darkest string
    decay = 0.996
    idx = 0
    for i in range(n):
        out[i] = buf[idx]
        nxt = buf[(idx + 1) % period]
        buf[idx] = decay * (a * buf[idx] + (1 - a) * nxt)
        idx = (idx + 1) % period
    out *= envelope(n, 0.001, 0.05, sr)
    return (amp * out / np.max(np.abs(out))).astype(np.float32)


def fm_bell(freq: float, duration: float = 1.5, ratio: float = 1.4, index: float = 3.0,
            amp: float = 0.5, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Two-operator FM bell with exponentially decaying index and amplitude."""
    t = _time(duration, sr)
    decay = np.exp(-3.0 * t / duration)
    mod = index * decay * np.sin(2 * np.pi * freq * ratio * t)
    out = np.sin(2 * np.pi * freq * t + mod) * decay * envelope(len(t), 0.002, 0.05, sr)
    return (amp * out / np.max(np.abs(out))).astype(np.float32)


def drum(pitch: float = 60.0, duration: float = 0.6, noise: float = 0.3, amp: float = 0.7,
         seed: int = 0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Kick/tom-like hit: a pitch-dropping sine plus a short noise click."""
    t = _time(duration, sr)
    rng = np.random.default_rng(seed)
    inst = pitch * (1 + 3 * np.exp(-t * 40))
    body = np.sin(2 * np.pi * np.cumsum(inst) / sr) * np.exp(-t * 8)
    click = rng.standard_normal(len(t)) * np.exp(-t * 60) * noise
    out = (body + click) * envelope(len(t), 0.0005, 0.05, sr)
    return (amp * out / np.max(np.abs(out))).astype(np.float32)
