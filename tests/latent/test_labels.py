"""Axis labels a musician can read: no repeated name where another feature nearly explains the axis."""

from __future__ import annotations

import numpy as np

from distill.latent.build import ALTERNATIVE_TOLERANCE, _label_axis
from distill.latent.config import LatentConfig
from distill.latent.features import FEATURE_NAMES

CONFIG = LatentConfig()
STEPS = np.arange(CONFIG.sweep_steps, dtype=float)


def _sweep(orders: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Feature values along a sweep: the given orders, a flat (rho 0) line for the rest."""
    flat = np.array([0.0, 1.0] * (CONFIG.sweep_steps // 2) + [0.5] * (CONFIG.sweep_steps % 2))
    return {name: orders.get(name, flat) for name in FEATURE_NAMES}


def _label(values: dict[str, np.ndarray], taken: list[str]) -> str:
    return _label_axis(len(taken), values, (-1.0, 1.0), 1.0, 0.2, taken, CONFIG, (100, 20)).label


def _nearly_monotonic(swaps: int) -> np.ndarray:
    """A rising sweep with ``swaps`` neighbouring pairs exchanged (rho drops ~0.009 each)."""
    v = STEPS.copy()
    for i in range(swaps):
        v[2 * i], v[2 * i + 1] = v[2 * i + 1], v[2 * i]
    return v


def test_a_taken_label_yields_to_a_feature_nearly_as_good():
    values = _sweep({"sustain": STEPS * 2.0, "pitch": _nearly_monotonic(5)})  # rho 0.955: not tied
    assert _label(values, []) == "Sustain"
    label = _label(values, ["Sustain"])
    assert label == "Pitch"
    assert "Sustain" not in label


def test_without_a_close_alternative_the_runner_up_tells_the_repeat_apart():
    weak = STEPS.copy()
    weak[[0, 4, 6, 9]] = weak[[4, 0, 9, 6]]  # rho 0.77: under the best - tolerance, above 0.6
    values = _sweep({"sustain": STEPS * 2.0, "flatness": weak})
    rho = np.corrcoef(np.argsort(np.argsort(weak)), STEPS)[0, 1]
    assert CONFIG.min_label_correlation <= rho < 1.0 - ALTERNATIVE_TOLERANCE
    assert _label(values, ["Sustain"]) == "Sustain + Noisiness"


def test_a_taken_pair_gives_way_to_the_next_runner_up():
    weak = STEPS.copy()
    weak[[0, 4, 6, 9]] = weak[[4, 0, 9, 6]]  # rho 0.77
    weaker = STEPS.copy()
    weaker[[2, 8]] = weaker[[8, 2]]  # rho 0.67
    values = _sweep({"sustain": STEPS * 2.0, "flatness": weak, "pitch": weaker})
    rho = np.corrcoef(np.argsort(np.argsort(weaker)), STEPS)[0, 1]
    assert CONFIG.min_label_correlation <= rho < 0.77
    assert _label(values, ["Sustain"]) == "Sustain + Noisiness"
    assert _label(values, ["Sustain", "Sustain + Noisiness"]) == "Sustain + Pitch"
    assert _label(values, ["Sustain", "Sustain + Noisiness", "Sustain + Pitch"]) == "Sustain 4"


def test_a_number_only_when_nothing_else_follows_the_axis():
    values = _sweep({"sustain": STEPS * 2.0})
    assert _label(values, ["Sustain"]) == "Sustain 2"
    assert _label(values, ["Sustain", "Sustain 2"]) == "Sustain 3"
