"""MapWidget: every training clip on the model's 2-D map; a click asks for that clip.

Points are coloured by the file they came from; hovering names the file and clip. A click
emits ``clipClicked(clip index)`` — the panel decides what to do with it (render and play).
``set_status`` shows what the panel is doing with the last click. GUI thread only.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.services.theme import PALETTE
from distill.latent import LatentAnalysis

_FILE_COLORS = ("#e0a050", "#5fb3b3", "#c678dd", "#98c379", "#e06c75", "#61afef", "#d19a66", "#56b6c2")
CLICK_HINT = "Click a point to hear that sound as the model renders it."


class MapWidget(QWidget):
    """Scatter map of a model's clips (first two map coordinates).

    Signals
    -------
    clipClicked(int)
        The clip (index into the analysis' clips) whose point was clicked.
    """

    clipClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._analysis: LatentAnalysis | None = None
        self.map_plot = pg.PlotWidget(self)
        self.map_plot.setMenuEnabled(False)
        self.map_plot.showGrid(x=True, y=True, alpha=0.15)
        self.scatter = pg.ScatterPlotItem(size=9, hoverable=True, hoverSize=13, tip=self._point_tip)
        self.scatter.sigClicked.connect(self._on_point_clicked)
        self.map_plot.addItem(self.scatter)
        self.map_caption = QLabel(CLICK_HINT, self)
        self.map_caption.setProperty("role", "caption")
        self.now_playing = QLabel("", self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.map_plot, 1)
        row = QHBoxLayout()
        row.addWidget(self.map_caption, 1)
        row.addWidget(self.now_playing)
        layout.addLayout(row)

    def show_analysis(self, analysis: LatentAnalysis | None) -> None:
        """Plot ``analysis``' map (None: a model without analysis — say there is no map)."""
        self._analysis = analysis
        self.scatter.clear()
        self.now_playing.clear()
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
        self.map_caption.setText(CLICK_HINT)

    def set_status(self, text: str) -> None:
        """What happens with the last click (rendering, playing, an error)."""
        self.now_playing.setText(text)

    def _point_tip(self, x: float, y: float, data) -> str:
        if self._analysis is None:
            return ""
        file, clip = self._analysis.clip_source(int(data))
        return f"{file}\nclip {clip + 1}"

    def _on_point_clicked(self, _item, points, _event=None) -> None:
        if len(points) and self._analysis is not None:
            self.clipClicked.emit(int(points[0].data()))
