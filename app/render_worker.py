"""A renderer thread: decodes the latest requested latent; older requests are dropped.

The GUI thread calls ``request(z)``; the thread renders only the newest request (a map
click while another renders replaces it) with the model's ``Renderer`` and emits the
audio. The renderer is built and used on this thread only (it is not thread-safe).
"""

from __future__ import annotations

import logging
import threading
from typing import NamedTuple

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal

from app.workers import WorkerBase, error_message
from distill.errors import DistillError
from distill.render import Renderer

log = logging.getLogger(__name__)


class Rendered(NamedTuple):
    """Audio for one request: ``wave`` [S] float32 at the model's sample rate."""

    request_id: int
    wave: np.ndarray
    tag: object


class RenderWorker(WorkerBase):
    """Latest-request-wins rendering of single latents to clips.

    Signals (emitted on the worker thread): ``finished(object)`` with a ``Rendered``,
    ``errored(str)``.
    """

    finished = Signal(object)

    def __init__(self, renderer: Renderer, parent: QObject | None = None) -> None:
        super().__init__("Rendering", parent)
        self._renderer = renderer
        self._wake = threading.Condition()
        self._pending: tuple[int, torch.Tensor, object] | None = None
        self._latest = 0

    def request(self, latent: torch.Tensor, tag: object = None) -> int:
        """Render ``latent`` ([D]) next (GUI thread); ``tag`` comes back with the audio."""
        with self._wake:
            self._latest += 1
            self._pending = (self._latest, latent.detach().clone(), tag)
            self._wake.notify()
        if not self._started:
            self.start()
        return self._latest

    def cancel(self) -> None:
        with self._wake:
            super().cancel()
            self._pending = None
            self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._cancel.is_set():
                    self._wake.wait()
                if self._cancel.is_set():
                    return
                request_id, latent, tag = self._pending
                self._pending = None
            try:
                wave = self._renderer.render_clips(latent[None])[0]
            except Exception as exc:
                if not isinstance(exc, DistillError):
                    log.exception("rendering failed")
                self.errored.emit(error_message(exc, "Rendering"))
                continue
            with self._wake:
                current = request_id == self._latest and not self._cancel.is_set()
            if current:
                self.finished.emit(Rendered(request_id, np.ascontiguousarray(wave, np.float32), tag))
