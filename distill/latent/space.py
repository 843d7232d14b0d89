"""The ONE mapping between controls (sliders, the XY pad) and latent vectors.

A slider's *value* is the latent's coordinate along a principal component, measured
from the mean latent and multiplied by the axis' ``direction`` (+1 or -1), chosen by
the analysis so that a larger value means more of the axis' feature (brighter, louder):

    z = mean + sum_k value_k * direction_k * component_k
    value_k = direction_k * component_k . (z - mean)

Value 0 is the mean latent. A slider's *position* is its value rescaled so that 0 and 1
are the axis' ``low`` and ``high`` (percentiles of the dataset's values): what a GUI
slider or ``distill generate --axis NAME=POSITION`` shows. The map (XY pad) is the
plane of the first two axes, in values; with a single axis its y is always 0.

Components are orthonormal, so ``latent_to_controls(controls_to_latent(v)) == v``;
the other way round a latent loses what lies outside the axes' span (a map point keeps
it when moved from a base latent, see ``map_to_latent``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from distill.config_base import ConfigBase, check_range
from distill.latent.config import FEW_DATA_CLIPS, FEW_DATA_FILES, FEW_SWEEP_POINTS
from distill.latent.errors import AxisError

#: Slider positions accepted from users: 0..1 spans the dataset, a little beyond extrapolates.
POSITION_LIMITS = (-0.5, 1.5)

ArrayLike = torch.Tensor | np.ndarray | Sequence[float]


@dataclass(frozen=True)
class AxisInfo(ConfigBase):
    """One slider: what it is called, the measured claim behind the name, its range.

    Attributes
    ----------
    label
        Name shown to the user ("Brightness", "Brightness 2" for a second axis with the
        same feature, "Axis 3" when no feature follows it monotonically).
    feature
        Key of the feature that names it (``distill.latent.features``), or None.
    correlation
        Spearman rho of that feature along the sweep, in the oriented direction (>= 0),
        or None for an unlabelled axis.
    direction
        +1 or -1: the sign that turns the principal component into "more of the feature".
    low, high
        Slider range in values (the analysis' ``range_percentiles`` of the dataset).
    variance, variance_ratio
        Variance of the encoded clips along the axis and its share of the total.
    span
        How far the sweep moves the naming feature, in just-noticeable differences
        (``Feature.resolution``; 0 for an unlabelled axis).
    correlations
        Every feature's rho along the oriented sweep.
    sweep_points
        Decoded points of the sweep the correlations were measured over.
    fitted_clips, fitted_files
        How many dataset clips, from how many files, the axis (PCA) was fitted on.
        The three counts are 0 when unknown (an analysis stored before they were; the
        loader fills them in from the analysis it belongs to).
    """

    label: str
    feature: str | None
    correlation: float | None
    direction: int
    low: float
    high: float
    variance: float
    variance_ratio: float
    span: float = 0.0
    correlations: dict[str, float] = field(default_factory=dict)
    sweep_points: int = 0
    fitted_clips: int = 0
    fitted_files: int = 0

    def __post_init__(self) -> None:
        for name in ("sweep_points", "fitted_clips", "fitted_files"):
            check_range(type(self).__name__, name, getattr(self, name), 0, 2**31 - 1, integer=True)

    @property
    def few_data(self) -> bool:
        """True when the claim rests on little: few clips or files fitted, or a short sweep
        (``distill.latent.config.FEW_DATA_*``). Unknown counts count as few."""
        return (self.fitted_clips < FEW_DATA_CLIPS or self.fitted_files < FEW_DATA_FILES
                or self.sweep_points < FEW_SWEEP_POINTS)

    def evidence(self) -> str:
        """What the label's claim was measured over, in words: "ρ +1.00 over 11 sweep steps;
        axis fitted on 30 clips from 6 files" (parts not known are left out)."""
        if self.correlation is None:
            claim = "no feature changes monotonically"
        else:
            claim = f"ρ {self.correlation:+.2f}"
        if self.sweep_points:
            claim += f" over {self.sweep_points} sweep steps"
        if self.fitted_clips:
            clips = "clip" if self.fitted_clips == 1 else "clips"
            files = "file" if self.fitted_files == 1 else "files"
            claim += f"; axis fitted on {self.fitted_clips} {clips} from {self.fitted_files} {files}"
        return claim


@dataclass(frozen=True, eq=False)
class LatentSpace:
    """Mean latent, principal directions and the axes built on them.

    Parameters
    ----------
    mean
        ``[D]`` mean latent of the dataset.
    components
        ``[K, D]`` orthonormal principal directions (un-oriented), one per axis.
    axes
        ``K`` axes, in the order of ``components``.
    """

    mean: torch.Tensor
    components: torch.Tensor
    axes: tuple[AxisInfo, ...]

    def __post_init__(self) -> None:
        if self.mean.dim() != 1 or self.components.dim() != 2:
            raise ValueError(f"expected mean [D] and components [K, D], got {list(self.mean.shape)} "
                             f"and {list(self.components.shape)}")
        if self.components.shape != (len(self.axes), self.mean.shape[0]):
            raise ValueError(f"components {list(self.components.shape)} do not match {len(self.axes)} "
                             f"axes of a {self.mean.shape[0]}-dimensional latent")
        object.__setattr__(self, "axes", tuple(self.axes))
        directions = torch.tensor([float(a.direction) for a in self.axes], dtype=self.mean.dtype)
        # Oriented rows: the basis every conversion below uses.
        object.__setattr__(self, "_basis", self.components * directions[:, None])

    @property
    def num_axes(self) -> int:
        return len(self.axes)

    @property
    def latent_dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(a.label for a in self.axes)

    @property
    def low(self) -> torch.Tensor:
        """``[K]`` low ends of the slider ranges (values)."""
        return torch.tensor([a.low for a in self.axes], dtype=self.mean.dtype)

    @property
    def high(self) -> torch.Tensor:
        """``[K]`` high ends of the slider ranges (values)."""
        return torch.tensor([a.high for a in self.axes], dtype=self.mean.dtype)

    # ------------------------------------------------------------------ values <-> latents
    def controls_to_latent(self, values: ArrayLike) -> torch.Tensor:
        """Slider values ``[..., K]`` -> latents ``[..., D]``."""
        v = self._as_tensor(values)
        if v.shape[-1:] != (self.num_axes,):
            raise ValueError(f"expected {self.num_axes} axis values, got shape {list(v.shape)}")
        return self.mean + v @ self._basis

    def latent_to_controls(self, z: ArrayLike) -> torch.Tensor:
        """Latents ``[..., D]`` -> slider values ``[..., K]`` (their projection on the axes)."""
        z = self._as_tensor(z)
        if z.shape[-1:] != (self.latent_dim,):
            raise ValueError(f"expected latents [..., {self.latent_dim}], got {list(z.shape)}")
        return (z - self.mean) @ self._basis.T

    # ------------------------------------------------------------------ positions
    def values_to_positions(self, values: ArrayLike) -> torch.Tensor:
        """Values ``[..., K]`` -> slider positions (0 = ``low``, 1 = ``high``)."""
        width = (self.high - self.low).clamp_min(1e-12)
        return (self._as_tensor(values) - self.low) / width

    def positions_to_values(self, positions: ArrayLike) -> torch.Tensor:
        """Slider positions ``[..., K]`` -> values."""
        return self.low + self._as_tensor(positions) * (self.high - self.low)

    def values_from_positions(self, positions: Mapping[str, float]) -> torch.Tensor:
        """Slider values ``[K]``: the named axes at the given positions, the others at 0 (the mean).

        Parameters
        ----------
        positions
            Axis name (label, feature key or 1-based number; see ``axis_index``) ->
            position (0 = ``low``, 1 = ``high``, within ``POSITION_LIMITS``).

        Raises
        ------
        AxisError
            An unknown axis, or a position that is not a number within the limits.
        """
        values = torch.zeros(self.num_axes, dtype=self.mean.dtype)
        low, high = self.low, self.high
        for name, position in positions.items():
            i = self.axis_index(name)
            if not (isinstance(position, (int, float)) and math.isfinite(position)
                    and POSITION_LIMITS[0] <= position <= POSITION_LIMITS[1]):
                raise AxisError(f"axis {self.axes[i].label}: position {position!r} is not a number from "
                                f"{POSITION_LIMITS[0]:g} to {POSITION_LIMITS[1]:g} (0 = the dataset's low "
                                f"end, 1 = its high end)")
            values[i] = low[i] + position * (high[i] - low[i])
        return values

    # ------------------------------------------------------------------ the map
    def map_to_latent(self, x: float, y: float, base: ArrayLike | None = None) -> torch.Tensor:
        """A point of the map -> latent ``[D]``.

        The first two axes take the values ``x`` and ``y`` (``y`` is ignored with a single
        axis); everything else comes from ``base`` (default: the mean latent), so moving
        on the map changes only what the map shows.
        """
        if self.num_axes == 0:
            raise ValueError("this latent space has no axes, so no map")
        z = self.mean.clone() if base is None else self._as_tensor(base).clone()
        current = self.latent_to_controls(z)
        target = torch.tensor([x, y][:min(2, self.num_axes)], dtype=z.dtype)
        return z + (target - current[:target.shape[0]]) @ self._basis[:target.shape[0]]

    def latent_to_map(self, z: ArrayLike) -> torch.Tensor:
        """Latents ``[..., D]`` -> map points ``[..., 2]`` (y = 0 with a single axis)."""
        values = self.latent_to_controls(z)[..., :2]
        if values.shape[-1] < 2:
            values = torch.nn.functional.pad(values, (0, 2 - values.shape[-1]))
        return values

    # ------------------------------------------------------------------ names
    def axis_index(self, name: str) -> int:
        """The 0-based index of an axis given by label, feature key or 1-based number.

        Raises
        ------
        AxisError
            No such axis; the message lists the available ones.
        """
        key = name.strip().casefold()
        for i, axis in enumerate(self.axes):
            if axis.label.casefold() == key:
                return i
        for i, axis in enumerate(self.axes):
            if axis.feature is not None and axis.feature.casefold() == key:
                return i
        if key.isdigit() and 1 <= int(key) <= self.num_axes:
            return int(key) - 1
        raise AxisError(f"unknown axis {name!r}; {self.describe_axes()}")

    def describe_axes(self) -> str:
        """"the axes are 1 Brightness, 2 Loudness" (or that there are none), for messages."""
        if not self.axes:
            return "this model has no axes"
        return "the axes are " + ", ".join(f"{i + 1} {a.label}" for i, a in enumerate(self.axes))

    def _as_tensor(self, values: ArrayLike) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values,
                               dtype=self.mean.dtype, device=self.mean.device)
