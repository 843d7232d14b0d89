"""The test-signal generators give audible, finite signals, or say why they cannot."""

from __future__ import annotations

import numpy as np
import pytest

from distill.audio import synth


def test_a_harmonic_tone_keeps_only_partials_under_nyquist_and_peaks_at_amp():
    tone = synth.harmonic(15_000, 0.2, n_harmonics=8, amp=0.5)  # only the fundamental fits
    assert np.isfinite(tone).all() and np.abs(tone).max() == pytest.approx(0.5, rel=1e-6)
    spectrum = np.abs(np.fft.rfft(tone))
    peak_hz = np.argmax(spectrum) * 48_000 / len(tone)
    assert abs(peak_hz - 15_000) < 50


def test_a_tone_above_nyquist_is_refused_instead_of_returning_nan():
    # Was: every partial skipped, then 0 / 0 -> a file of NaN samples.
    with pytest.raises(ValueError, match="Nyquist"):
        synth.harmonic(23_000, 0.2)
