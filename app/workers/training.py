"""The training worker: ``distill.training.run.train`` on its own thread."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.workers.base import WorkerBase
from distill.threads import lower_thread_priority
from distill.training.config import RunConfig
from distill.training.events import TrainingCancelledError, TrainingControl

if TYPE_CHECKING:
    from distill.data import DatasetCache

log = logging.getLogger(__name__)


class TrainingWorker(WorkerBase):
    """Runs ``distill.training.run.train`` on its own thread, with pause, resume and cancel.

    The same entry as ``distill train``: every event ``train`` reports (training events,
    then analysis events, then ``Finished`` or ``Failed``) is re-emitted as ``progress``.
    ``pause``/``resume``/``cancel`` may be called from the GUI thread at any time; they
    forward to the run's ``TrainingControl``, which the training thread checks before
    every step. A cancelled run still writes the model trained so far (``finished``).

    Parameters
    ----------
    source
        A ``DatasetCache`` built with ``setup.spectrogram``/``setup.data``, or a folder.
    output
        The model file to write.
    setup, explicit, cache_dir, checkpoint_dir, resume
        Passed to ``train`` as they are.

    Signals (emitted on the worker thread)
    --------------------------------------
    progress(object)
        Each event of the run, in order.
    finished(object)
        The model file's ``Path``; ``None`` when the run was cancelled before its first step
        (nothing was trained, nothing saved; ``train`` reported a ``Failed`` event saying so).
    errored(str)
        The run failed (unusable data, divergence, disk full, ...): a message for the user.
        A ``Failed`` event with the same message came through ``progress`` first.
    """

    progress = Signal(object)
    finished = Signal(object)

    def __init__(self, source: DatasetCache | Path, output: Path, setup: RunConfig | None = None, *,
                 explicit: Iterable[str] = (), cache_dir: Path | None = None,
                 checkpoint_dir: Path | None = None, resume: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__("Training", parent)
        self.source, self.output, self.setup = source, Path(output), setup
        self.explicit = frozenset(explicit)
        self.cache_dir, self.checkpoint_dir, self.resume_from = cache_dir, checkpoint_dir, resume
        self.control = TrainingControl()

    # ---------------------------------------------------------------- any thread
    def pause(self) -> None:
        """Hold the run before its next step (a no-op once cancelled)."""
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def finish(self) -> None:
        """Stop training after the current step; the run saves and analyses the model."""
        self.control.finish()  # also releases a paused run

    def cancel(self) -> None:
        """Stop as soon as possible; the model so far is saved without its analysis."""
        super().cancel()
        self.control.cancel()  # also releases a paused run

    @property
    def paused(self) -> bool:
        return self.control.paused

    # ---------------------------------------------------------------- worker thread
    def _work(self) -> None:
        from distill.training.run import train  # torch-heavy: imported on the worker thread

        # The instrument may be playing in this process: its render thread and the audio
        # callback must win the cores (benchmarks/realtime.py --train measures it).
        lower_thread_priority()
        try:
            path = train(self.source, self.output, self.setup, explicit=self.explicit,
                         on_event=self.progress.emit, control=self.control, cache_dir=self.cache_dir,
                         checkpoint_dir=self.checkpoint_dir, resume=self.resume_from)
        except TrainingCancelledError:
            if not self.control.cancelled:
                raise
            log.info("training was cancelled before its first step; nothing was saved")
            path = None
        self.finished.emit(path)
