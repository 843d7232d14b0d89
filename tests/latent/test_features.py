"""The audio features move the right way on signals whose properties are known."""

from __future__ import annotations

import numpy as np
import pytest

from distill.audio import synth
from distill.constants import SAMPLE_RATE
from distill.latent import FEATURES, measure_features
from distill.latent.features import FEATURE_NAMES


def measure(*waves: np.ndarray) -> dict[str, np.ndarray]:
    n = min(w.shape[0] for w in waves)
    return measure_features(np.stack([w[:n] for w in waves]), SAMPLE_RATE)


def test_every_feature_is_measured_and_finite():
    values = measure(synth.harmonic(220, 1.0), synth.noise_burst(1.0), np.zeros(48_000, np.float32))
    assert set(values) == set(FEATURE_NAMES) == {f.name for f in FEATURES}
    for v in values.values():
        assert v.shape == (3,) and np.isfinite(v).all()


def test_brightness_follows_the_rolloff():
    tones = [synth.harmonic(220, 1.0, 40, r) for r in (0.5, 1.0, 2.0, 3.0)]
    centroid = measure(*tones)["centroid"]
    assert (np.diff(centroid) < 0).all()  # steeper rolloff = darker


def test_loudness_is_the_level_in_db():
    tone = synth.harmonic(220, 1.0)
    rms = measure(tone, tone * 0.5)["rms"]
    assert rms[0] - rms[1] == pytest.approx(6.02, abs=0.01)
    sine = measure(synth.sine(440, 1.0, amp=0.5))["rms"][0]
    assert sine == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)


def test_noise_is_flatter_than_a_tone():
    flat = measure(synth.harmonic(220, 1.0), synth.noise_burst(1.0, 3000, bandwidth=3.0))["flatness"]
    assert flat[1] > flat[0] + 20


@pytest.mark.parametrize("freq", [110.0, 220.0, 440.0, 1000.0])
def test_pitch(freq):
    pitch = measure(synth.harmonic(freq, 1.0, 10, 1.0))["pitch"][0]
    assert pitch == pytest.approx(69 + 12 * np.log2(freq / 440), abs=0.3)


def test_envelope_features():
    held = synth.harmonic(220, 1.0)
    bell = synth.fm_bell(220, 1.0)  # decays exponentially
    late = np.concatenate([np.zeros(24_000, np.float32), synth.harmonic(220, 0.5)])  # onset mid-clip
    values = measure(held, bell, late)
    assert values["sustain"][1] < values["sustain"][0] - 10  # the bell fades, the tone holds
    assert values["attack"][2] > values["attack"][0]  # from silence to full level in a few frames
