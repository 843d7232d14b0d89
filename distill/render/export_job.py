"""Export as a job: what to render (``ExportRequest``) and ``run_export``, with progress and cancel.

Three sources, each rendered with the synthesis the instrument plays through, so a file
sounds like what was heard:

- ``"point"``: one latent held for the duration (``render_performance`` with a single
  ``ControlState``: the real-time loop's frame synthesizer, offline);
- ``"morph"``: from latent A to latent B over the duration (``Renderer.morph``, the slerp
  path around the dataset's mean the morph slider moves along);
- ``"performance"``: a recorded take (``InstrumentController.stop_recording``) replayed
  by its time stamps (``render_performance``); its length is the take's.

``run_export`` reports ``ExportEvent`` stages (rendering, writing, done) through one
callback and checks the cancel flag before each stage. The renders are single calls, so
the rendering stage reports no fraction of its own; a cancel during it is honoured as
soon as it ends, before anything is written. The write is atomic (temporary file, fsync,
rename): a cancelled or failed export leaves no file behind and never a partial one.

Qt-free, so the CLI can run it too. Thread: any, but it uses ``renderer``, which is not
thread-safe: the caller gives it a renderer no other thread uses meanwhile (the studio
uses a private copy, never the one its real-time loop renders with).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from distill.progress import CancelFlag, EventCallback, cancel_check, emitter
from distill.render.export import check_output, export_audio
from distill.render.performance import render_performance
from distill.render.realtime_config import ControlState
from distill.render.renderer import Renderer

log = logging.getLogger(__name__)

SOURCES = ("point", "morph", "performance")
#: Shortest and longest export, in seconds.
MIN_SECONDS = 0.5
MAX_SECONDS = 600.0


class ExportCancelledError(Exception):
    """The export was cancelled before it wrote anything (not an error for the user)."""


@dataclass(frozen=True)
class ExportEvent:
    """Progress of one export: ``stage`` is ``"rendering"``, ``"writing"`` or ``"done"``.

    ``fraction`` is the share of the whole job done when the stage began (0 at rendering,
    0.9 at writing, 1 when done); ``path`` is the file (the final one once done).
    """

    stage: str
    fraction: float
    path: Path


@dataclass(frozen=True, eq=False)
class ExportRequest:
    """What to export (immutable: built on the GUI thread, read on the worker's).

    Attributes
    ----------
    source
        ``"point"``, ``"morph"`` or ``"performance"`` (module docstring).
    path
        Output file; its extension follows ``format`` (``output_path``).
    seconds
        Length; ignored for a performance, whose length is its take's.
    format, subtype
        ``wav``/``flac``/``ogg``/``mp3`` and a soundfile subtype (e.g. ``PCM_16``,
        ``FLOAT``; ``distill.render.export.EXPORT_CHOICES``); None for the format's default.
    latent
        ``[D]`` the point (source ``"point"``).
    mode, gain
        How the point plays (``"stream"`` or ``"loop"``; linear gain).
    morph
        ``([D], [D])`` the morph's ends A and B (source ``"morph"``).
    take
        The recorded control states, in time order (source ``"performance"``).
    """

    source: str
    path: Path
    seconds: float = 10.0
    format: str = "wav"
    subtype: str | None = None
    latent: torch.Tensor | None = None
    mode: str = "stream"
    gain: float = 1.0
    morph: tuple[torch.Tensor, torch.Tensor] | None = None
    take: tuple[ControlState, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "point" and self.latent is None:
            raise ValueError("a point export needs the latent")
        if self.source == "morph" and self.morph is None:
            raise ValueError("a morph export needs both ends (A and B)")
        if self.source == "performance" and len(self.take) < 2:
            raise ValueError("a performance export needs a recorded take")
        if not MIN_SECONDS <= self.duration <= MAX_SECONDS:
            raise ValueError(f"an export lasts {MIN_SECONDS:g} s to {MAX_SECONDS / 60:g} min, "
                             f"not {self.duration:.2f} s")

    @property
    def duration(self) -> float:
        """Seconds of audio the export writes."""
        return take_seconds(self.take) if self.source == "performance" else float(self.seconds)


def take_seconds(take: Sequence[ControlState]) -> float:
    """Length of a recorded take: from its first state to its last (the end marker)."""
    return float(take[-1].stamp - take[0].stamp) if len(take) >= 2 else 0.0


def render_request(renderer: Renderer, request: ExportRequest) -> np.ndarray:
    """The request's audio, ``[round(duration * sr)]`` float32 (no file written)."""
    n = round(request.duration * renderer.sample_rate)
    if request.source == "point":
        state = ControlState(request.latent.detach().float().reshape(-1), 0.0, mode=request.mode,
                             gain=request.gain)
        return render_performance(renderer, [state], n)
    if request.source == "morph":
        a, b = request.morph
        return renderer.morph(a, b, n).astype(np.float32, copy=False)
    return render_performance(renderer, list(request.take), n)


def run_export(renderer: Renderer, request: ExportRequest, on_event: EventCallback[ExportEvent] | None = None,
               cancel: CancelFlag = None) -> Path:
    """Render ``request`` and write it; returns the file written.

    Parameters
    ----------
    renderer
        The model; used by this thread alone while the export runs (module docstring).
    request
        What to render and where to write it.
    on_event
        Receives ``ExportEvent`` stages (on this thread).
    cancel
        Checked before rendering and before writing.

    Raises
    ------
    ExportCancelledError
        Cancelled before the file was written (nothing is left on disk).
    AudioFileError
        The path rules of ``check_output`` (checked before rendering: a missing or
        read-only folder, an extension that contradicts the format) or a failed write.
    """
    emit, cancelled = emitter(on_event), cancel_check(cancel)
    target, fmt = check_output(request.path, request.format)  # before a render that could be long
    if cancelled():
        raise ExportCancelledError(target)
    emit(ExportEvent("rendering", 0.0, target))
    wave = render_request(renderer, request)
    if cancelled():
        raise ExportCancelledError(target)
    emit(ExportEvent("writing", 0.9, target))
    written = export_audio(target, wave, fmt, renderer.sample_rate, request.subtype)
    log.info("exported %s (%s, %.2f s) to %s", request.source, request.subtype or fmt, request.duration,
             written)
    emit(ExportEvent("done", 1.0, written))
    return written
