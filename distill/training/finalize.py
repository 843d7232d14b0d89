"""After training: latent analysis, then the model file.

The analysis lives in ``distill.latent`` (``analyze_latents``). It is called here and
nowhere else in training, guarded: when it fails or is cancelled, the model is saved
without it and the reason is logged and reported. A finished training
run must never be lost to its analysis.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from distill.audio.normalization import NormalizationStats
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data import DatasetCache
from distill.errors import TrainingError
from distill.latent import analyze_latents
from distill.models import ConvVAE, save_model
from distill.progress import EventCallback
from distill.training.checkpoint import write_failure
from distill.training.config import RunConfig
from distill.training.events import AnalysisSkipped, AnalysisStarted, RunEvent, TrainingControl

log = logging.getLogger(__name__)


def latent_extras(model: ConvVAE, cache: DatasetCache, spectrogram: ComplexSpectrogram,
                  normalization: NormalizationStats, *, on_event: EventCallback[RunEvent],
                  control: TrainingControl) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(extra_tensors, extra_metadata)`` of the latent analysis, or empty ones without it."""
    if control.cancelled:  # the user asked to stop: save what was trained, now
        log.info("training was cancelled: the model is saved without latent analysis")
        return {}, {}
    on_event(AnalysisStarted())
    try:
        analysis = analyze_latents(model, cache, spectrogram, normalization, on_event=on_event,
                                   cancel=lambda: control.cancelled)
        extras = analysis.to_model_extras()
    except Exception as exc:  # a failed analysis must not lose the trained model
        if control.cancelled:
            return _skipped(on_event, "the latent analysis was cancelled")
        log.exception("latent analysis failed")
        return _skipped(on_event, f"the latent analysis failed ({type(exc).__name__}: {exc})")
    return extras


def _skipped(on_event: EventCallback[RunEvent], reason: str) -> tuple[dict, dict]:
    log.warning("saving the model without latent analysis: %s", reason)
    on_event(AnalysisSkipped(reason))
    return {}, {}


def finalize_model(path: Path, model: ConvVAE, run: RunConfig, normalization: NormalizationStats,
                   history: Sequence[dict[str, Any]], cache: DatasetCache, *,
                   on_event: EventCallback[RunEvent], control: TrainingControl,
                   last_checkpoint: Path | None = None) -> Path:
    """Analyse the latent space (when possible) and write the model file atomically.

    Parameters
    ----------
    path
        The model file to write.
    model
        The trained VAE (moved to the CPU, eval mode).
    run
        Its full configuration; the file stores all four parts.
    normalization, history
        Stored with it (history: one record per epoch, every loss term, train and validation).
    cache
        The training data, for the analysis.
    last_checkpoint
        Named in the error message when the file cannot be written.

    Raises
    ------
    TrainingError
        The file cannot be written (disk full, permissions).
    """
    model = model.to(torch.device("cpu")).eval()
    spectrogram = ComplexSpectrogram(run.spectrogram)
    extra_tensors, extra_metadata = latent_extras(model, cache, spectrogram, normalization,
                                                  on_event=on_event, control=control)
    try:
        return save_model(path, model, spectrogram=run.spectrogram, data=run.data,
                          normalization=normalization, training=run.training, history=history,
                          extra_tensors=extra_tensors, extra_metadata=extra_metadata)
    except OSError as exc:
        raise TrainingError(write_failure("the model", path, exc, last_checkpoint)) from None
