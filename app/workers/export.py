"""Exporting audio off the GUI thread: ``run_export`` in a ``CallbackWorker``.

``ExportWorker`` runs ``distill.render.export_job.run_export`` with the private offline copy
of the renderer (``app.workers.offline``; the real-time loop keeps the original), re-emits
its ``ExportEvent`` stages as ``progress`` and the written path as ``finished``. Cancel is
honoured before anything is written: ``finished`` then carries None and no file is left
(writes are atomic, so never a partial one either).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject

from app.workers.base import CallbackWorker
from app.workers.encode import OFFLINE_THREADS
from app.workers.offline import offline_renderer
from distill.render import Renderer
from distill.render.export_job import ExportCancelledError, ExportEvent, ExportRequest, run_export
from distill.threads import apply_thread_policy


class ExportWorker(CallbackWorker):
    """Renders and writes ``request`` (``progress``: ``ExportEvent``; ``finished``: Path | None).

    Parameters
    ----------
    renderer
        The playing model's renderer (only its offline copy is used here).
    request
        What to export and where.
    """

    def __init__(self, renderer: Renderer, request: ExportRequest, parent: QObject | None = None) -> None:
        self.request = request
        self._renderer = renderer
        super().__init__(self._export, f"Exporting {Path(request.path).name}", parent)

    def _export(self, on_event: Callable[[ExportEvent], None], cancel: threading.Event) -> Path | None:
        # Worker thread.
        apply_thread_policy(OFFLINE_THREADS)
        with offline_renderer(self._renderer) as renderer:
            try:
                return run_export(renderer, self.request, on_event, cancel)
            except ExportCancelledError:
                return None
