"""A renderer thread: decodes the latest requested latent; older requests are dropped.

The GUI thread calls ``request(z, tag)``; the thread renders only the newest request (a
map click while another renders replaces it) with the model's ``Renderer`` and emits the
audio. The renderer is used on this thread only (it is not thread-safe).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from PySide6.QtCore import QObject

from app.workers.base import LatestRequestWorker
from distill.render import Renderer
from distill.threads import apply_realtime_policy


class Rendered(NamedTuple):
    """Audio for one request: ``wave`` [S] float32 at the model's sample rate."""

    request_id: int
    wave: np.ndarray
    tag: object


class RenderWorker(LatestRequestWorker):
    """Latest-request-wins rendering of single latents to clips (``finished``: ``Rendered``)."""

    def __init__(self, renderer: Renderer, parent: QObject | None = None) -> None:
        super().__init__("Rendering", parent)
        self._renderer = renderer

    def request(self, latent: torch.Tensor, tag: object = None) -> int:
        """Render ``latent`` ([D]) next (GUI thread); ``tag`` comes back with the audio."""
        return super().request((latent.detach().clone(), tag))

    def _process(self, request_id: int, payload: tuple[torch.Tensor, object]) -> Rendered:
        apply_realtime_policy()  # this thread only; measured fastest for one clip
        latent, tag = payload
        wave = self._renderer.render_clips(latent[None])[0]
        return Rendered(request_id, np.ascontiguousarray(wave, np.float32), tag)
