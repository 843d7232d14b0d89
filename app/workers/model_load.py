"""Opening a model off the GUI thread: read the file, build the ``Renderer``.

``load_model`` plus ``Renderer(...)`` take seconds (weights, the inference decoder, the
inverse transform); on the GUI thread that froze the window. ``ModelLoadWorker`` does both
on its own thread and hands the result over in ``finished``; a ``DistillError`` (a foreign
or newer file) becomes ``errored`` with its message, written for the user. The renderer is
not touched by this thread after it was emitted (the panel gives it to the real-time loop).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from PySide6.QtCore import QObject

from app.workers.base import CallbackWorker
from distill.models import load_model
from distill.render import Renderer


class OpenedModel(NamedTuple):
    """A model ready to play: its file, its renderer and its training history (epochs)."""

    path: Path
    renderer: Renderer
    history: list[dict]


class ModelLoadWorker(CallbackWorker):
    """Loads ``path`` and builds its renderer (``finished``: ``OpenedModel``; ``errored``: str).

    Parameters
    ----------
    path
        The model file (or folder).
    """

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        self.path = Path(path)
        super().__init__(self._load, f"Opening {self.path.name}", parent)

    def _load(self, _on_event: Callable[[Any], None], _cancel: threading.Event) -> OpenedModel:
        # Worker thread. Nothing to cancel between the two steps: each is one call.
        loaded = load_model(self.path)
        return OpenedModel(self.path, Renderer(loaded), list(loaded.history or []))
