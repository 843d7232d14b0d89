"""The training worker: ``distill.training.run.train`` in a child process, relayed by a thread."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.workers.base import WorkerBase
from distill.training.child import TrainingProcess
from distill.training.config import RunConfig
from distill.training.events import TrainingCancelledError

if TYPE_CHECKING:
    from distill.data import DatasetCache

log = logging.getLogger(__name__)


class TrainingWorker(WorkerBase):
    """Runs ``distill.training.run.train`` in a child process, with pause, resume and cancel.

    The same entry as ``distill train``, through ``distill.training.child.TrainingProcess``:
    the run shares neither the GIL nor the CPU priority of the instrument playing in this
    process. This worker's thread only relays: every event ``train`` reports (training
    events, then analysis events, then ``Finished`` or ``Failed``) is re-emitted as
    ``progress``, in order. ``pause``/``resume``/``finish``/``cancel`` may be called from
    the GUI thread at any time; they travel to the child's ``TrainingControl``, which the
    training loop checks before every step. A cancelled run still writes the model trained
    so far (``finished``); a child that does not obey a cancel within
    ``CANCEL_GRACE_S`` is killed (logged), so closing the studio never waits forever.

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
        The run failed (unusable data, divergence, disk full, the training process was
        killed, ...): a message for the user. A ``Failed`` event with the same message came
        through ``progress`` first.
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
        # Created now, started by the worker thread: commands given before the start wait
        # in its pipe and reach the child before it trains.
        self.process = TrainingProcess(source, self.output, setup, explicit=self.explicit,
                                       cache_dir=cache_dir, checkpoint_dir=checkpoint_dir, resume=resume)

    # ---------------------------------------------------------------- any thread
    def pause(self) -> None:
        """Hold the run before its next step (a no-op once cancelled)."""
        self.process.pause()

    def resume(self) -> None:
        self.process.resume()

    def finish(self) -> None:
        """Stop training after the current step; the run saves and analyses the model."""
        self.process.finish()  # also releases a paused run

    def cancel(self) -> None:
        """Stop as soon as possible; the model so far is saved without its analysis."""
        super().cancel()
        self.process.cancel()  # also releases a paused run

    @property
    def paused(self) -> bool:
        return self.process.paused

    # ---------------------------------------------------------------- worker thread
    def _work(self) -> None:
        try:
            path = self.process.run(self.progress.emit)
        except TrainingCancelledError:
            if not self.process.control.cancelled:
                raise
            log.info("training was cancelled before its first step; nothing was saved")
            path = None
        self.finished.emit(path)
