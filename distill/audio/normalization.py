"""Per-dataset normalisation of 2-channel spectrograms.

Channel 0 (log mel energy, >= 0) is divided by the dataset's largest value, so it stays
non-negative and lands in [0, 1] (a Softplus reaches it). Channel 1 (IF, in [-1, 1]) is
multiplied by ``if_scale`` < 1 so a Tanh reaches every target without saturating.
Stored in the model file; ``denormalize`` is the exact inverse of ``normalize``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from distill.config_base import ConfigBase

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class NormalizationStats(ConfigBase):
    """Scale factors of the two channels (see module docstring)."""

    magnitude_scale: float = 1.0
    if_scale: float = 0.9

    def __post_init__(self) -> None:
        if not self.magnitude_scale > 0:
            raise ValueError(f"magnitude_scale must be positive, got {self.magnitude_scale}")
        if not 0 < self.if_scale <= 1:
            raise ValueError(f"if_scale must be in (0, 1], got {self.if_scale}")

    @classmethod
    def from_magnitude_maxima(cls, maxima: Iterable[float], if_scale: float = 0.9
                              ) -> NormalizationStats:
        """Stats from the largest channel-0 value of every file (or clip) of a dataset."""
        top = max((float(m) for m in maxima), default=0.0)
        return cls(magnitude_scale=top if top > 0 else 1.0, if_scale=if_scale)

    def normalize(self, spec: torch.Tensor) -> torch.Tensor:
        """``[..., 2, M, T]`` representation -> model space (channel 0 in [0, 1])."""
        import torch  # here, not at the top: reading a model file's settings needs no torch

        return torch.stack([spec[..., 0, :, :] / self.magnitude_scale,
                            spec[..., 1, :, :] * self.if_scale], dim=-3)

    def denormalize(self, spec: torch.Tensor) -> torch.Tensor:
        """Model space ``[..., 2, M, T]`` -> representation (channel 1 clamped to [-1, 1])."""
        import torch

        return torch.stack([spec[..., 0, :, :].clamp_min(0.0) * self.magnitude_scale,
                            (spec[..., 1, :, :] / self.if_scale).clamp(-1.0, 1.0)], dim=-3)
