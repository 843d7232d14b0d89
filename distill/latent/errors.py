"""User-facing errors of the latent space (messages a musician can act on)."""

from __future__ import annotations

from distill.errors import DistillError


class AnalysisCancelledError(DistillError):
    """``analyze_latents`` was cancelled; nothing was computed that could be kept."""

    def __init__(self) -> None:
        super().__init__("the latent analysis was cancelled")


class NoLatentAnalysisError(DistillError):
    """A model file without latent analysis was asked for something that needs its sliders."""


class LatentFormatError(DistillError):
    """The latent analysis stored in a model file cannot be read (corrupt or too new)."""


class AxisError(DistillError):
    """An unknown axis name or an unusable axis value; the message lists the valid ones."""
