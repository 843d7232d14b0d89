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
only the newest requested file is analysed, older requests are dropped (the only place a
finished result may be dropped). ``ModelLoadWorker`` opens a model file and builds its
renderer for the Explore panel. ``EncodeWorker`` (a dropped file -> a latent) and
``ExportWorker`` (``run_export``) work on a private copy of the playing renderer
(``app.workers.offline``): the real-time loop owns the original.
"""

from app.workers.base import (
    CallbackWorker,
    LatestRequestWorker,
    WorkerBase,
    close_all,
    error_message,
    live_workers,
)
from app.workers.dataset import DatasetWorker, FileAnalysisWorker
from app.workers.encode import Encoded, EncodeWorker
from app.workers.export import ExportWorker
from app.workers.model_load import ModelLoadWorker, OpenedModel
from app.workers.training import TrainingWorker

__all__ = [
    "CallbackWorker",
    "DatasetWorker",
    "EncodeWorker",
    "Encoded",
    "ExportWorker",
    "FileAnalysisWorker",
    "LatestRequestWorker",
    "ModelLoadWorker",
    "OpenedModel",
    "TrainingWorker",
    "WorkerBase",
    "close_all",
    "error_message",
    "live_workers",
]
