"""The worker machinery: one background thread per worker, cancel/join, errors as signals.

See ``app.workers`` for the threading rules.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from distill.errors import DistillError

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
        raise TypeError(f"{type(self).__name__} must define _work")


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


class LatestRequestWorker(WorkerBase):
    """A long-lived thread where only the newest request matters.

    ``request(payload)`` (GUI thread) replaces any request not started yet; the thread
    serves only the newest and emits its result (or error) only while it is still the
    newest. A receiver should still compare the request id with what it shows: a request
    made after the emission is not known to it. Subclasses define ``_process``.

    Signals (emitted on the worker thread)
    --------------------------------------
    finished(object)
        What ``_process`` returned for the newest request.
    errored(str)
        The newest request failed (the message says which).
    """

    finished = Signal(object)

    def __init__(self, title: str, parent: QObject | None = None) -> None:
        super().__init__(title, parent)
        self._wake = threading.Condition()
        self._pending: tuple[int, Any] | None = None
        self._latest = 0

    # ---------------------------------------------------------------- GUI thread
    def request(self, payload: Any) -> int:
        """Serve ``payload`` next (starting the thread on first use). Returns the request id."""
        if self.cancelled:
            raise RuntimeError(f"{self.title}: the worker was closed")
        with self._wake:
            self._latest += 1
            self._pending = (self._latest, payload)
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
    def _process(self, request_id: int, payload: Any) -> Any:
        """The work for one request (worker thread); its return value is emitted."""
        raise TypeError(f"{type(self).__name__} must define _process")

    def _describe(self, payload: Any) -> str:
        """What failed, for the error message ("Analysing kick.wav")."""
        return self.title

    def _work(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._cancel.is_set():
                    self._wake.wait()
                if self._cancel.is_set():
                    return
                request_id, payload = self._pending
                self._pending = None
            try:
                result = self._process(request_id, payload)
            except Exception as exc:
                if not isinstance(exc, DistillError):
                    log.exception("%s failed", self._describe(payload))
                if self._is_latest(request_id):
                    self.errored.emit(error_message(exc, self._describe(payload)))
                continue
            if self._is_latest(request_id):
                self.finished.emit(result)

    def _is_latest(self, request_id: int) -> bool:
        with self._wake:
            return request_id == self._latest and not self._cancel.is_set()
