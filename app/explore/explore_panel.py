"""Explore: what a trained model learned — its measured axes and the map of the dataset.

``ExplorePanel`` composes a ``ModelSummaryWidget`` (summary and axes) and a ``MapWidget``
(the 2-D map of every training clip). Clicking a point renders that clip's latent through
the decoder (on the renderer thread, ``RenderWorker``) and plays it. The real-time controls
(sliders, XY pad, morph) build on this panel and on ``distill.latent.LatentSpace``.
GUI thread only.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from app.explore.map_widget import MapWidget
from app.explore.model_summary_widget import ModelSummaryWidget
from app.services.audio_controller import AudioController
from app.workers import Rendered, RenderWorker
from distill.models import load_model
from distill.render import Renderer

log = logging.getLogger(__name__)


class ExplorePanel(QWidget):
    """Model summary, labelled axes and the clickable dataset map."""

    def __init__(self, audio: AudioController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.audio = audio
        self.renderer: Renderer | None = None
        self.last_rendered: Rendered | None = None
        self._worker: RenderWorker | None = None
        self.summary_widget = ModelSummaryWidget(self)
        self.map_widget = MapWidget(self)
        self.map_widget.clipClicked.connect(self.audition)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.summary_widget)
        splitter.addWidget(self.map_widget)
        splitter.setSizes([380, 700])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    @property
    def has_model(self) -> bool:
        return self.renderer is not None

    def open_model(self, path: Path) -> None:
        """Load a model file; raises ``DistillError`` (e.g. ``ModelFileError``) if it can't,
        and the model shown so far stays."""
        loaded = load_model(path)
        renderer = Renderer(loaded)
        self.shutdown()
        self.renderer = renderer
        self._worker = RenderWorker(renderer, self)
        self._worker.finished.connect(self._on_rendered)
        self._worker.errored.connect(self.map_widget.set_status)
        self.summary_widget.show_model(path, renderer.latent_dim, list(loaded.history or []),
                                       renderer.analysis)
        self.map_widget.show_analysis(renderer.analysis)

    def audition(self, clip: int) -> None:
        """Render clip ``clip``'s latent on the renderer thread, then play it."""
        analysis = self.renderer.analysis if self.renderer else None
        if analysis is None or self._worker is None:
            return
        file, index = analysis.clip_source(clip)
        self.map_widget.set_status(f"rendering {file} ({index + 1})…")
        self._worker.request(analysis.clip_latents[clip], tag=(file, index))

    def _on_rendered(self, result: Rendered) -> None:
        file, index = result.tag
        if self.audio.play(result.wave):
            self.map_widget.set_status(f"playing {file} ({index + 1})")
        else:
            self.map_widget.set_status("No audio output — rendering works, playback is off")
        self.last_rendered = result

    def shutdown(self) -> None:
        """Stop the renderer thread (main window close, or another model opened)."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        self.renderer = None
