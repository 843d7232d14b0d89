"""Encoding a dropped audio file into a latent, off the GUI thread (the morph's A/B slots).

``EncodeWorker`` reads and encodes one file with the model (``Renderer.encode_file``) and
hands back the latent of its loudest clip (the body of a one-shot, not its silent tail).
It encodes with the private offline copy of the renderer (``app.workers.offline``), never
with the object the real-time loop renders with. A file that cannot be used becomes
``errored`` with the ``AudioFileError`` text, which names the file and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from PySide6.QtCore import QObject, Signal

from app.workers.base import WorkerBase
from app.workers.offline import offline_renderer
from distill.render import Renderer
from distill.threads import apply_thread_policy

#: Torch threads of offline work: the real-time loop keeps the other core of a small machine.
OFFLINE_THREADS = 1


class Encoded(NamedTuple):
    """A file's latent ``[D]`` for morph end ``slot`` (``"a"`` or ``"b"``)."""

    slot: str
    path: Path
    latent: torch.Tensor


class EncodeWorker(WorkerBase):
    """Encodes ``path`` for ``slot`` once (``finished``: ``Encoded``; ``errored``: str).

    Parameters
    ----------
    renderer
        The playing model's renderer (only its offline copy is used here).
    path
        The audio file.
    slot
        Which morph end it is for; comes back in ``Encoded``.
    """

    finished = Signal(object)

    def __init__(self, renderer: Renderer, path: Path, slot: str, parent: QObject | None = None) -> None:
        self.path = Path(path)
        super().__init__(f"Encoding {self.path.name}", parent)
        self.renderer = renderer
        self.slot = slot

    def _work(self) -> None:
        # Worker thread.
        apply_thread_policy(OFFLINE_THREADS)
        with offline_renderer(self.renderer) as renderer:
            if self.cancelled:
                return
            latent = renderer.encode_file(self.path).loudest().clone()
        if not self.cancelled:
            self.finished.emit(Encoded(self.slot, self.path, latent))
