"""Explore: what a trained model learned — its measured axes and the map of the dataset.

Shows the model's summary, its axes (each label with the measured correlation behind it),
and the 2-D map of every training clip on the first two axes. Clicking a point renders
that clip's latent through the decoder (on the renderer thread) and plays it. The
real-time controls (sliders, XY pad, morph) build on this panel and on
``distill.latent.LatentSpace``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.audio_controller import AudioController
from app.render_worker import Rendered, RenderWorker
from app.theme import PALETTE
from distill.models import load_model
from distill.render import Renderer

log = logging.getLogger(__name__)

_FILE_COLORS = ("#e0a050", "#5fb3b3", "#c678dd", "#98c379", "#e06c75", "#61afef", "#d19a66", "#56b6c2")


class ExplorePanel(QWidget):
    """Model summary, labelled axes and the clickable dataset map (GUI thread only)."""

    def __init__(self, audio: AudioController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.audio = audio
        self.renderer: Renderer | None = None
        self.last_rendered: Rendered | None = None
        self._history: list[dict] = []
        self._worker: RenderWorker | None = None
        self._build()

    @property
    def has_model(self) -> bool:
        return self.renderer is not None

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self.title = QLabel("No model open", self)
        self.title.setProperty("role", "title")
        self.summary = QFormLayout()
        self.axes_table = QTableWidget(0, 4, self)
        self.axes_table.setHorizontalHeaderLabels(["Axis", "Measured feature", "Spearman ρ", "Variance"])
        self.axes_table.verticalHeader().setVisible(False)
        self.axes_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.axes_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.title)
        left_layout.addLayout(self.summary)
        caption = QLabel("Axes found in the data. A label is a measured claim: the feature that "
                         "changes most monotonically along the axis, with its correlation.", left)
        caption.setWordWrap(True)
        caption.setProperty("role", "caption")
        left_layout.addWidget(caption)
        left_layout.addWidget(self.axes_table, 1)

        self.map_plot = pg.PlotWidget(self)
        self.map_plot.setMenuEnabled(False)
        self.map_plot.showGrid(x=True, y=True, alpha=0.15)
        self.scatter = pg.ScatterPlotItem(size=9, hoverable=True, hoverSize=13, tip=self._point_tip)
        self.scatter.sigClicked.connect(self._on_point_clicked)
        self.map_plot.addItem(self.scatter)
        self.map_caption = QLabel("Click a point to hear that sound as the model renders it.", self)
        self.map_caption.setProperty("role", "caption")
        self.now_playing = QLabel("", self)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.map_plot, 1)
        row = QHBoxLayout()
        row.addWidget(self.map_caption, 1)
        row.addWidget(self.now_playing)
        right_layout.addLayout(row)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([380, 700])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    # ------------------------------------------------------------------ model
    def open_model(self, path: Path) -> None:
        """Load a model file; raises ``DistillError`` (e.g. ``ModelFileError``) if it can't."""
        loaded = load_model(path)
        renderer = Renderer(loaded)
        self.shutdown()
        self.renderer = renderer
        self._history = list(loaded.history or [])
        self._worker = RenderWorker(renderer, self)
        self._worker.finished.connect(self._on_rendered)
        self._worker.errored.connect(self._on_render_error)
        self._show_summary(path)
        self._show_axes()
        self._show_map()

    def _show_summary(self, path: Path) -> None:
        renderer = self.renderer
        assert renderer is not None
        while self.summary.rowCount():
            self.summary.removeRow(0)
        self.title.setText(Path(path).stem)
        self.title.setToolTip(str(path))
        history = self._history
        rows = [("Latent size", str(renderer.latent_dim)),
                ("Epochs trained", str(len(history)) if history else "—")]
        if history:
            last = history[-1]
            rows.append(("Final loss", _loss_text(last)))
        if renderer.analysis is not None:
            rows.append(("Clips analysed", f"{renderer.analysis.num_clips} from "
                                           f"{len(renderer.analysis.files)} files"))
        for name, value in rows:
            label = QLabel(value, self)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.summary.addRow(name, label)

    def _show_axes(self) -> None:
        analysis = self.renderer.analysis if self.renderer else None
        axes = analysis.axes if analysis is not None else ()
        self.axes_table.setRowCount(len(axes))
        for row, axis in enumerate(axes):
            rho = "—" if axis.correlation is None else f"{axis.correlation:+.2f}"
            cells = (axis.label, axis.feature or "none monotonic", rho, f"{100 * axis.variance_ratio:.1f} %")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(_axis_tip(axis))
                self.axes_table.setItem(row, col, item)

    def _show_map(self) -> None:
        analysis = self.renderer.analysis if self.renderer else None
        self.scatter.clear()
        if analysis is None:
            self.map_caption.setText("This model was saved without latent analysis (training was "
                                     "stopped before it ran), so there is no map.")
            return
        points = analysis.map_points().numpy()
        files = analysis.clip_files.numpy()
        brushes = [pg.mkBrush(_FILE_COLORS[f % len(_FILE_COLORS)]) for f in files]
        self.scatter.setData(x=points[:, 0], y=points[:, 1], brush=brushes,
                             pen=pg.mkPen(PALETTE["base"], width=0.5), data=np.arange(len(points)))
        axes = analysis.axes
        self.map_plot.setLabel("bottom", axes[0].label if axes else "axis 1")
        self.map_plot.setLabel("left", axes[1].label if len(axes) > 1 else "")
        self.map_caption.setText("Click a point to hear that sound as the model renders it.")

    # ------------------------------------------------------------------ audition
    def _point_tip(self, x: float, y: float, data) -> str:
        if self.renderer is None or self.renderer.analysis is None:
            return ""
        file, clip = self.renderer.analysis.clip_source(int(data))
        return f"{file}\nclip {clip + 1}"

    def _on_point_clicked(self, _item, points, _event=None) -> None:
        if not len(points) or self.renderer is None or self.renderer.analysis is None:
            return
        self.audition(int(points[0].data()))

    def audition(self, clip: int) -> None:
        """Render clip ``clip``'s latent on the renderer thread, then play it."""
        analysis = self.renderer.analysis if self.renderer else None
        if analysis is None or self._worker is None:
            return
        file, index = analysis.clip_source(clip)
        self.now_playing.setText(f"rendering {file} ({index + 1})…")
        self._worker.request(analysis.clip_latents[clip], tag=(file, index))

    def _on_rendered(self, result: Rendered) -> None:
        file, index = result.tag
        if self.audio.play(result.wave):
            self.now_playing.setText(f"playing {file} ({index + 1})")
        else:
            self.now_playing.setText("No audio output — rendering works, playback is off")
        self.last_rendered = result

    def _on_render_error(self, message: str) -> None:
        self.now_playing.setText(message)

    def shutdown(self) -> None:
        """Stop the renderer thread (main window close, or another model opened)."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        self.renderer = None


def _loss_text(epoch: dict) -> str:
    train = epoch.get("train", {}).get("total")
    val = epoch.get("validation", {}).get("total")
    parts = [f"train {train:.3f}" if isinstance(train, float) else None,
             f"validation {val:.3f}" if isinstance(val, float) else None]
    return ", ".join(p for p in parts if p) or "—"


def _axis_tip(axis) -> str:
    lines = [f"{axis.label}: range {axis.low:+.2f} … {axis.high:+.2f} (values)"]
    for name, rho in sorted((axis.correlations or {}).items(), key=lambda kv: -abs(kv[1])):
        lines.append(f"  {name}: ρ = {rho:+.2f}")
    return "\n".join(lines)
