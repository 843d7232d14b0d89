"""Progress events of the latent analysis (small frozen dataclasses, safe across threads).

``analyze_latents`` reports through one plain callback
(``distill.progress.EventCallback[LatentEvent]``), like the dataset cache build: the CLI
prints the events, the studio re-emits them as Qt signals. The callback runs on the
analysing thread, so it must be quick and must not block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distill.latent.space import AxisInfo


@dataclass(frozen=True)
class ClipsEncoded:
    """``done`` of ``total`` clips have been encoded."""

    done: int
    total: int


@dataclass(frozen=True)
class AxisMeasured:
    """Axis ``index`` (0-based) of ``total`` was swept, measured and labelled."""

    index: int
    total: int
    axis: AxisInfo


@dataclass(frozen=True)
class AnalysisFinished:
    """The analysis ended: ``num_axes`` sliders from ``num_clips`` clips in ``seconds``."""

    num_clips: int
    num_axes: int
    seconds: float


LatentEvent = ClipsEncoded | AxisMeasured | AnalysisFinished
