"""QThread workers: long core work off the GUI thread, reported through Qt signals.

Threads and what each may call:

- the **GUI thread** creates a worker, connects its signals to slots of QObjects (so they
  run queued on the GUI thread), and calls ``start``, ``cancel``, ``wait`` and ``close``;
- the **worker thread** runs only Qt-free core code. It reaches the GUI solely by emitting
  the worker's signals; it never touches a widget.

A worker object lives on the GUI thread and owns its ``QThread``. While that thread runs
the worker is kept in a module registry (``live_workers``), so dropping the last Python
reference can never destroy a running thread; ``close`` (cancel + wait) is what a window
calls on exit, so no thread is killed mid-write. An exception inside the work becomes the
``errored(str)`` signal: a ``DistillError``'s message verbatim (it is written for the
user), anything else logged with its traceback and summarised.

``CallbackWorker`` wraps any core function of the shape ``fn(on_event, cancel)`` (the
dataset build, training): each event is re-emitted as ``progress(object)``, the return
value as ``finished(object)``. ``FileAnalysisWorker`` is a "latest request wins" thread:
only the newest requested file is analysed, older requests are dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.dataset_import import resolve_dataset_folder
from distill.errors import DistillError
from distill.training.config import ComplexSpectrogramConfig, DataConfig, RunConfig
from distill.training.events import TrainingCancelledError, TrainingControl

if TYPE_CHECKING:
    from distill.data import DatasetCache  # imports torch: not at start-up

log = logging.getLogger(__name__)

#: Workers whose thread may still run; touched only on the GUI thread.
_LIVE: set[WorkerBase] = set()


def live_workers() -> tuple[WorkerBase, ...]:
    """Workers whose thread was started and has not been joined yet (GUI thread)."""
    return tuple(_LIVE)


def close_all(timeout_ms: int | None = None) -> bool:
    """Cancel every live worker and wait for its thread; True when all have ended."""
    workers = live_workers()
    for worker in workers:
        worker.cancel()
    return all([worker.wait(timeout_ms) for worker in workers])


def error_message(exc: BaseException, title: str) -> str:
    """The text a user sees for an exception raised by ``title`` (e.g. "Loading sounds")."""
    if isinstance(exc, DistillError):
        return str(exc)
    return f"{title} failed unexpectedly ({type(exc).__name__}: {exc}). Details are in the log."


class _Thread(QThread):
    """Runs ``worker._run`` on a new thread; nothing else."""

    def __init__(self, worker: WorkerBase) -> None:
        super().__init__(worker)
        self._worker = worker

    def run(self) -> None:
        self._worker._run()


class WorkerBase(QObject):
    """One background thread with cancel, join and error reporting; subclasses define ``_work``.

    Parameters
    ----------
    title
        What the work is, for people and logs ("Loading drums", "Training").
    """

    # Emitted on the worker thread; connect it to a QObject's slot.
    errored = Signal(str)

    def __init__(self, title: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self._cancel = threading.Event()
        self._thread = _Thread(self)
        self._thread.setObjectName(title)
        self._thread.finished.connect(self._on_thread_finished)
        self._started = False

    # ---------------------------------------------------------------- GUI thread
    def start(self) -> None:
        """Start the thread (once per worker)."""
        if self._started:
            raise RuntimeError(f"{self.title}: a worker runs once; create a new one")
        self._started = True
        _LIVE.add(self)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the work to stop at its next check (returns at once; ``wait`` to join)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int | None = None) -> bool:
        """Block until the thread has ended (None: however long it takes). True if it has."""
        ended = self._thread.wait() if timeout_ms is None else self._thread.wait(int(timeout_ms))
        if ended:
            _LIVE.discard(self)
        return ended

    def close(self, timeout_ms: int | None = None) -> bool:
        """``cancel`` then ``wait``: what a window calls when it closes."""
        self.cancel()
        return self.wait(timeout_ms)

    @Slot()
    def _on_thread_finished(self) -> None:
        # QThread.finished is emitted just before the thread exits: join it before the
        # registry lets go, or the QThread could be destroyed while still running.
        self.wait()

    # ---------------------------------------------------------------- worker thread
    def _run(self) -> None:
        try:
            self._work()
        except Exception as exc:
            if not isinstance(exc, DistillError):
                log.exception("%s failed", self.title)
            self.errored.emit(error_message(exc, self.title))

    def _work(self) -> None:
        raise NotImplementedError


class CallbackWorker(WorkerBase):
    """Runs ``fn(on_event, cancel)`` on its own thread.

    ``fn`` is Qt-free core code: it calls ``on_event(event)`` with progress events and
    checks ``cancel`` (a ``threading.Event``) between steps.

    Signals (emitted on the worker thread)
    --------------------------------------
    progress(object)
        Each event ``fn`` reports, as is. (Not named ``event``: that would shadow
        ``QObject.event``, through which Qt delivers queued calls.)
    finished(object)
        ``fn``'s return value; also after a cancel when ``fn`` returns normally.
    errored(str)
        ``fn`` raised; the message is meant for the user.
    """

    progress = Signal(object)
    finished = Signal(object)

    def __init__(self, fn: Callable[[Callable[[Any], None], threading.Event], Any], title: str,
                 parent: QObject | None = None) -> None:
        super().__init__(title, parent)
        self._fn = fn

    def _work(self) -> None:
        result = self._fn(self.progress.emit, self._cancel)
        self.finished.emit(result)


class DatasetWorker(CallbackWorker):
    """Builds the cache of a dataset: one folder, or files gathered into a managed folder.

    ``progress`` carries ``DatasetImported`` (when files were gathered), then the events of
    ``distill.data.build_cache``; ``finished`` carries the ``DatasetCache``.

    Parameters
    ----------
    paths
        One folder, or several files/folders (linked or copied into a managed folder).
    cache_dir, spectrogram_config, data_config
        Passed to ``build_cache`` (None: its defaults).
    datasets_root
        Where managed folders are made (None: the user data dir).
    """

    def __init__(self, paths: Sequence[Path], cache_dir: Path | None = None,
                 spectrogram_config: ComplexSpectrogramConfig | None = None,
                 data_config: DataConfig | None = None, datasets_root: Path | None = None,
                 parent: QObject | None = None) -> None:
        self.paths = tuple(Path(p) for p in paths)

        def load(on_event: Callable[[Any], None], cancel: threading.Event):
            from distill.data import build_cache  # worker thread: keeps torch's import off the GUI

            folder = resolve_dataset_folder(self.paths, on_event, cancel, datasets_root)
            return build_cache(folder, spectrogram_config, data_config, cache_dir,
                               on_event=on_event, cancel=cancel)

        name = self.paths[0].name if len(self.paths) == 1 else f"{len(self.paths)} files"
        super().__init__(load, f"Loading {name}", parent)


class FileAnalysis(NamedTuple):
    """One analysed file: what the preview shows and plays."""

    path: Path
    waveform: np.ndarray  # [S] float32 at SAMPLE_RATE
    spectrogram: np.ndarray  # [2, M, T] float32, representation units
    request_id: int


class FileAnalysisWorker(WorkerBase):
    """Loads a file and computes its 2-channel spectrogram; the newest request wins.

    ``request(path)`` (GUI thread) replaces any request not started yet; the thread
    analyses only the newest and emits a result or error only while it is still the
    newest. The receiver should still compare ``request_id``/``path`` with what it shows:
    a request made after the emission is not known to it.

    Signals (emitted on the worker thread)
    --------------------------------------
    finished(object)
        A ``FileAnalysis``.
    errored(str)
        The newest file could not be analysed (its path is in the message).
    """

    finished = Signal(object)

    def __init__(self, config: ComplexSpectrogramConfig | None = None,
                 max_seconds: float | None = None, parent: QObject | None = None) -> None:
        super().__init__("Analysing a file", parent)
        self.config = config or ComplexSpectrogramConfig()
        self.max_seconds = DataConfig().max_file_seconds if max_seconds is None else max_seconds
        self._wake = threading.Condition()
        self._pending: tuple[int, Path] | None = None
        self._latest = 0

    # ---------------------------------------------------------------- GUI thread
    def request(self, path: str | Path) -> int:
        """Analyse ``path`` next (starting the thread on first use). Returns the request id."""
        if self.cancelled:
            raise RuntimeError("the file analysis worker was closed")
        with self._wake:
            self._latest += 1
            self._pending = (self._latest, Path(path))
            self._wake.notify()
        if not self._started:
            self.start()
        return self._latest

    def cancel(self) -> None:
        with self._wake:
            super().cancel()
            self._pending = None
            self._wake.notify()

    # ---------------------------------------------------------------- worker thread
    def _work(self) -> None:
        transform = None  # built on the first request: it imports librosa and torch work
        while True:
            with self._wake:
                while self._pending is None and not self._cancel.is_set():
                    self._wake.wait()
                if self._cancel.is_set():
                    return
                request_id, path = self._pending
                self._pending = None
            try:
                if transform is None:
                    from distill.audio.spectrogram import ComplexSpectrogram

                    transform = ComplexSpectrogram(self.config)
                wave, spec = analyse_file(path, transform, self.max_seconds)
            except Exception as exc:
                if not isinstance(exc, DistillError):
                    log.exception("analysing %s failed", path)
                if self._is_latest(request_id):
                    self.errored.emit(error_message(exc, f"Analysing {path.name}"))
                continue
            if self._is_latest(request_id):
                self.finished.emit(FileAnalysis(path, wave, spec, request_id))

    def _is_latest(self, request_id: int) -> bool:
        with self._wake:
            return request_id == self._latest and not self._cancel.is_set()


def analyse_file(path: Path, transform, max_seconds: float | None) -> tuple[np.ndarray, np.ndarray]:
    """``(waveform [S] float32, spectrogram [2, M, T] float32)`` of one file (any thread).

    Decodes like the cache build does (same shortest length and longest duration), so a
    file the table lists as usable always has a preview.
    """
    import torch

    from distill.audio.io import load_audio

    wave = load_audio(path, min_samples=transform.config.n_fft, max_seconds=max_seconds)
    with torch.inference_mode():
        spec = transform.waveform_to_complex_mel(torch.from_numpy(wave).view(1, 1, -1))[0]
    return wave, np.ascontiguousarray(spec.numpy(), dtype=np.float32)


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
