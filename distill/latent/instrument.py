"""The instrument's position in latent space, moved by sliders, the XY pad and the morph.

Qt-free, so the studio's widgets, MIDI and OSC all move the same state the same way.
The point is a full latent vector ``[D]``. The controls are views of it through the ONE
mapping, ``LatentSpace``:

- moving one slider changes only that axis' coordinate; everything the other sliders
  and the off-axis part of the latent hold stays (a point picked on the map and then
  brightened keeps its character);
- the XY pad goes through the analysis' map (``LatentAnalysis.map_to_latent``): with a
  nonlinear layout, to the interpolated latents of the clips near the pad point; without
  one, the first two axes move the way sliders do (the current point as the base). The
  cursor of any point comes from the same place (``LatentAnalysis.latent_to_map``), except
  that a point the pad itself set reports the pad position it was set from (the layout's
  two directions are interpolations, not exact inverses, and a cursor must not creep
  away from the hand);
- the morph puts the point on the ``slerp`` path between two ends A and B, around the
  dataset's mean latent;
- Reset puts an axis (or all) back to the dataset's mean; Randomize draws every axis
  uniformly within the range the data covers (the slider's low..high) from the mean.

Not thread-safe: one owner (the GUI thread) moves it and hands copies of ``latent`` on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from distill.latent.analysis import LatentAnalysis
from distill.latent.morph import slerp
from distill.latent.space import LatentSpace


class InstrumentState:
    """Where the instrument is: ``latent`` ``[D]`` plus the morph's two ends.

    Parameters
    ----------
    latent_dim
        Latent size of the model.
    analysis
        The model's latent analysis; without it there are no sliders or map, and the
        point starts (and resets) at the origin of the prior.
    """

    def __init__(self, latent_dim: int, analysis: LatentAnalysis | None = None) -> None:
        self.latent_dim = latent_dim
        self.analysis = analysis
        self.space: LatentSpace | None = analysis.space if analysis is not None else None
        self._latent = self._origin()
        self._pad: tuple[tuple[float, float], torch.Tensor] | None = None  # (xy, the latent it set)
        self.morph_a: torch.Tensor | None = None
        self.morph_b: torch.Tensor | None = None
        self.morph_position = 0.0

    # ------------------------------------------------------------------ reading
    @property
    def latent(self) -> torch.Tensor:
        """A copy of the current point ``[D]`` (safe to hand to another thread)."""
        return self._latent.clone()

    @property
    def num_axes(self) -> int:
        return 0 if self.space is None else self.space.num_axes

    def controls(self) -> torch.Tensor:
        """Slider values ``[K]`` of the current point (empty without axes)."""
        if self.space is None:
            return torch.zeros(0)
        return self.space.latent_to_controls(self._latent)

    def xy(self) -> tuple[float, float] | None:
        """The current point on the map (where the pad's cursor sits), or None without axes."""
        if self.num_axes == 0:
            return None
        if self._pad is not None and torch.equal(self._pad[1], self._latent):
            return self._pad[0]
        x, y = self.analysis.latent_to_map(self._latent).tolist()
        return float(x), float(y)

    @property
    def has_morph(self) -> bool:
        return self.morph_a is not None and self.morph_b is not None

    # ------------------------------------------------------------------ moves (each returns the new point)
    def set_latent(self, latent: Sequence[float] | torch.Tensor | np.ndarray) -> torch.Tensor:
        """Go to a latent (a preset, a map point, a dropped file's encoding)."""
        z = torch.as_tensor(np.asarray(latent, dtype=np.float32)).reshape(-1)
        if z.shape[0] != self.latent_dim:
            raise ValueError(f"expected a latent of {self.latent_dim} values, got {z.shape[0]}")
        if not bool(torch.isfinite(z).all()):
            raise ValueError("the latent holds NaN or infinite values")
        self._latent = z.clone()
        return self.latent

    def set_axis(self, index: int, value: float) -> torch.Tensor:
        """Slider ``index`` to ``value`` (values, not positions); the rest of the point stays."""
        space = self._require_space()
        if not 0 <= index < space.num_axes:
            raise IndexError(f"axis {index} of {space.num_axes}")
        current = space.latent_to_controls(self._latent)
        delta = float(value) - float(current[index])
        direction = space.controls_to_latent(_unit(space.num_axes, index)) - space.mean
        self._latent = self._latent + delta * direction
        return self.latent

    def set_controls(self, values: Sequence[float] | torch.Tensor) -> torch.Tensor:
        """Every slider at once; the off-axis part of the point stays."""
        space = self._require_space()
        target = torch.as_tensor(np.asarray(values, dtype=np.float32))
        current = space.latent_to_controls(self._latent)
        self._latent = self._latent + (space.controls_to_latent(target) - space.controls_to_latent(current))
        return self.latent

    def set_xy(self, x: float, y: float) -> torch.Tensor:
        """The XY pad at map point ``(x, y)`` (see the module docstring for what moves)."""
        self._require_space()
        self._latent = self.analysis.map_to_latent(float(x), float(y), base=self._latent).float()
        self._pad = ((float(x), float(y)), self._latent.clone())
        return self.latent

    def go_to_clip(self, clip: int) -> torch.Tensor:
        """The latent of dataset clip ``clip`` (a map point clicked)."""
        if self.analysis is None:
            raise ValueError("this model has no latent analysis, so no dataset clips")
        return self.set_latent(self.analysis.clip_latents[clip])

    def reset_axis(self, index: int) -> torch.Tensor:
        """Slider ``index`` back to the dataset's mean (value 0)."""
        return self.set_axis(index, 0.0)

    def reset_all(self) -> torch.Tensor:
        """The dataset's mean latent (the origin without analysis)."""
        self._latent = self._origin()
        return self.latent

    def randomize(self, rng: np.random.Generator | None = None) -> torch.Tensor:
        """Every axis uniformly within the data's range, from the mean latent."""
        space = self._require_space()
        rng = rng or np.random.default_rng()
        low, high = space.low.numpy(), space.high.numpy()
        values = low + rng.random(space.num_axes) * (high - low)
        self._latent = space.controls_to_latent(torch.as_tensor(values, dtype=torch.float32)).float()
        return self.latent

    def set_morph_end(self, end: str, latent: Sequence[float] | torch.Tensor | np.ndarray) -> None:
        """Set morph end ``"a"`` or ``"b"`` (does not move the point)."""
        z = torch.as_tensor(np.asarray(latent, dtype=np.float32)).reshape(-1)
        if z.shape[0] != self.latent_dim or not bool(torch.isfinite(z).all()):
            raise ValueError(f"a morph end must be {self.latent_dim} finite values")
        if end == "a":
            self.morph_a = z.clone()
        elif end == "b":
            self.morph_b = z.clone()
        else:
            raise ValueError(f"morph end must be 'a' or 'b', got {end!r}")

    def set_morph(self, position: float) -> torch.Tensor:
        """The point at ``position`` (0 = A, 1 = B) on the path between the morph's ends."""
        if not self.has_morph:
            raise ValueError("choose both morph ends (A and B) first")
        self.morph_position = float(min(1.0, max(0.0, position)))
        center = self.space.mean if self.space is not None else None
        self._latent = slerp(self.morph_a, self.morph_b, self.morph_position, center=center).float()
        return self.latent

    # ------------------------------------------------------------------ helpers
    def _origin(self) -> torch.Tensor:
        if self.space is not None:
            return self.space.mean.clone().float()
        return torch.zeros(self.latent_dim)

    def _require_space(self) -> LatentSpace:
        if self.space is None or self.space.num_axes == 0:
            raise ValueError("this model has no measured axes (it was saved without latent analysis)")
        return self.space


def _unit(size: int, index: int) -> torch.Tensor:
    out = torch.zeros(size)
    out[index] = 1.0
    return out
