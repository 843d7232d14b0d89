"""Events of a training run, and the control object that pauses or cancels it.

Training reports through ONE plain callback ``on_event(event)``, the same for the CLI
(which prints) and the studio (whose worker re-emits each event as a Qt signal). Events
are small frozen dataclasses holding only plain values and numpy arrays, so they can be
handed to another thread as they are. The callback runs on the training thread between
steps: it must be quick (draw a bar, emit a signal) and must not block. The callback
also receives the dataset events of the cache build (``distill.data.events``) and those
of the latent analysis, in the order they happen.

``TrainingControl`` is the other direction: any thread may call ``pause``, ``resume``
and ``cancel``; the training thread checks it before every step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from distill.errors import TrainingError

if TYPE_CHECKING:  # typing only: importing the events stays numpy-light (no torch)
    from distill.data.events import DatasetEvent
    from distill.latent.events import LatentEvent


@dataclass(frozen=True)
class TrainingStarted:
    """The run is set up. ``split_mode`` is ``"by file"`` or ``"by clip"``; ``start_epoch``
    and ``start_step`` are 0 for a new run and where a resumed run continues."""

    device: str
    split_mode: str
    train_files: int
    validation_files: int
    train_clips: int
    validation_clips: int
    num_clips: int
    preset: str
    epochs: int
    steps_per_epoch: int
    total_steps: int
    start_epoch: int = 0
    start_step: int = 0
    num_parameters: int = 0
    checkpoint_dir: Path | None = None


@dataclass(frozen=True)
class StepProgress:
    """One optimiser step done. ``epoch`` is 1-based (the epoch being trained), ``step``
    counts every step of the run, ``progress`` is in [0, 1]; ``losses`` holds every term of
    this batch (``distill.models.LossTerms`` names)."""

    epoch: int
    epochs: int
    step: int
    step_in_epoch: int
    steps_per_epoch: int
    total_steps: int
    progress: float
    losses: dict[str, float]
    eta_seconds: float | None


@dataclass(frozen=True)
class EpochEnd:
    """Epoch ``epoch`` (1-based) done: mean of every loss term over the epoch's training
    batches and over the validation set (empty when nothing is held out). Training totals
    weigh the terms as the step did (KL and waveform-loss warm-ups, ``beta``); validation
    totals weigh them as after the warm-ups, so validation curves compare across epochs."""

    epoch: int
    epochs: int
    train: dict[str, float]
    validation: dict[str, float]
    lr: float
    beta: float
    seconds: float


@dataclass(frozen=True)
class Preview:
    """A validation clip and its reconstruction after epoch ``epoch``.

    ``input_spectrogram`` and ``reconstruction`` are ``[2, M, F]`` float32 in
    representation units (denormalised); the audio of both went through the same PGHI
    inverse, so the two can be compared by ear (``[S]`` float32 at ``sample_rate``).
    """

    epoch: int
    input_spectrogram: np.ndarray = field(repr=False)
    reconstruction: np.ndarray = field(repr=False)
    input_audio: np.ndarray = field(repr=False)
    reconstruction_audio: np.ndarray = field(repr=False)
    sample_rate: int = 0
    file_index: int = 0
    clip_index: int = 0


@dataclass(frozen=True)
class CheckpointSaved:
    path: Path
    epoch: int
    step: int


@dataclass(frozen=True)
class RolledBack:
    """The loss diverged (``reason``); training went back to the state after ``epoch``
    epochs / ``step`` steps and continues with learning rate ``new_lr``."""

    epoch: int
    step: int
    reason: str
    new_lr: float
    rollbacks: int


@dataclass(frozen=True)
class Paused:
    epoch: int
    step: int


@dataclass(frozen=True)
class Resumed:
    epoch: int
    step: int


@dataclass(frozen=True)
class AnalysisStarted:
    """The trained model's latent space is being analysed (before the model file is written);
    the events of ``distill.latent.analyze_latents`` follow."""


@dataclass(frozen=True)
class AnalysisSkipped:
    """The model is saved without latent analysis; ``reason`` says why. (A successful
    analysis ends with ``distill.latent.AnalysisFinished`` instead.)"""

    reason: str


@dataclass(frozen=True)
class Finished:
    """The model file is written. ``epochs`` were completed; ``stopped_early``: early stopping
    ended the run (no better validation loss for ``early_stop_patience`` epochs);
    ``cancelled``: the user cancelled it (the model trained so far was saved, unanalysed);
    ``stopped``: the user asked it to finish now (saved with its analysis)."""

    model_path: Path
    epochs: int
    stopped_early: bool
    cancelled: bool
    stopped: bool = False


@dataclass(frozen=True)
class Failed:
    """The run stopped on an error; the same message is raised as a ``DistillError``.
    ``model_path`` is set when the last good model was still saved."""

    message: str
    model_path: Path | None = None


TrainingEvent = (TrainingStarted | StepProgress | EpochEnd | Preview | CheckpointSaved | RolledBack
                 | Paused | Resumed | AnalysisStarted | AnalysisSkipped | Finished | Failed)
#: Everything ``train`` reports: its own events, and the dataset and analysis events it
#: forwards. Callbacks are ``distill.progress.EventCallback[RunEvent]``.
RunEvent: TypeAlias = "TrainingEvent | DatasetEvent | LatentEvent"


class TrainingCancelledError(TrainingError):
    """Cancelled before a single step was trained: there is nothing to save."""


class TrainingControl:
    """Pause, resume, finish and cancel a run from any thread.

    ``finish``: stop training after the current step and end the run normally — the model
    is saved WITH its latent analysis (what "Stop" means to a musician). ``cancel``: stop
    as soon as possible — the model trained so far is saved, the analysis skipped (closing
    the window, a second Stop, a second Ctrl-C). The training thread calls ``checkpoint()``
    before each step: it returns False once finishing or cancelled and blocks (without
    spinning) while paused. Both also release a paused run, so it never stays blocked.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # makes pause/cancel/resume atomic with respect to each other
        self._cancelled = threading.Event()
        self._finishing = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def finish(self) -> None:
        with self._lock:
            self._finishing.set()
            self._running.set()

    @property
    def finishing(self) -> bool:
        return self._finishing.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled.set()
            self._running.set()

    def pause(self) -> None:
        with self._lock:
            if not self._cancelled.is_set():
                self._running.clear()

    def resume(self) -> None:
        with self._lock:
            self._running.set()

    @property
    def cancelled(self) -> bool:
        """True once ``cancel`` was called (pass ``lambda: control.cancelled`` where a
        cancel flag is wanted, e.g. ``distill.data.build_cache``)."""
        return self._cancelled.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def checkpoint(self, on_pause: Callable[[], None] | None = None,
                   on_resume: Callable[[], None] | None = None) -> bool:
        """Training thread only: wait while paused; True to go on, False to stop."""
        if not self._running.is_set():
            if on_pause is not None:
                on_pause()
            self._running.wait()
            if on_resume is not None and not self._cancelled.is_set():
                on_resume()
        return not (self._cancelled.is_set() or self._finishing.is_set())
