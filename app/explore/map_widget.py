"""MapWidget: the XY pad — every training clip on the map of axes 1–2, and the instrument's cursor.

Points are coloured by the file they came from (a legend names the files while the colours
are distinct; hovering a point names its file and clip). A crosshair marks the instrument's
current point and follows ``latentChanged`` from any control. With the left button,
dragging anywhere on the plot moves the cursor and emits ``xyDragged(x, y)`` continuously
(pan/zoom stay off while the cursor is dragged; the wheel zooms, "Fit" resets the view); a
click on empty ground jumps there; a click on a point emits ``clipClicked(clip index)``.
The panel decides what those mean (move the instrument). Positions are axis values, kept
within the range ``LatentSpace.POSITION_LIMITS`` allows. GUI thread only.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.services.theme import PALETTE
from distill.latent import LatentAnalysis
from distill.latent.space import POSITION_LIMITS

_FILE_COLORS = ("#e0a050", "#5fb3b3", "#c678dd", "#98c379", "#e06c75", "#61afef", "#d19a66", "#56b6c2")
CLICK_HINT = "Drag anywhere to play axes 1–2; click a point to go to that sound."


class PadViewBox(pg.ViewBox):
    """A ViewBox whose left button drags a cursor instead of panning.

    Signals
    -------
    padMoved(QPointF)
        The left button pressed-and-dragged or clicked at this point (view coordinates).
    """

    padMoved = Signal(object)

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.pad_enabled = True

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or not self.pad_enabled:
            super().mouseDragEvent(ev, axis)  # middle: pan, right: zoom, as pyqtgraph does
            return
        ev.accept()
        self.padMoved.emit(self.mapSceneToView(ev.scenePos()))

    def mouseClickEvent(self, ev) -> None:
        # Reached only when no point took the click (ScatterPlotItem accepts clicks on points).
        if ev.button() == Qt.MouseButton.LeftButton and self.pad_enabled:
            ev.accept()
            self.padMoved.emit(self.mapSceneToView(ev.scenePos()))
            return
        super().mouseClickEvent(ev)


class MapWidget(QWidget):
    """Scatter map of a model's clips with the instrument's cursor.

    Signals
    -------
    clipClicked(int)
        The clip (index into the analysis' clips) whose point was clicked.
    xyDragged(float, float)
        The cursor was dragged (or clicked) to this map point, in axis values.
    """

    clipClicked = Signal(int)
    xyDragged = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._analysis: LatentAnalysis | None = None
        self._limits: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.view_box = PadViewBox()
        self.view_box.padMoved.connect(self._on_pad)
        self.map_plot = pg.PlotWidget(self, viewBox=self.view_box)
        self.map_plot.setMenuEnabled(False)
        self.map_plot.hideButtons()
        self.map_plot.showGrid(x=True, y=True, alpha=0.15)
        self.map_plot.setAccessibleName("XY pad")
        for side in ("bottom", "left"):
            self.map_plot.getAxis(side).enableAutoSIPrefix(False)  # values, not "(x0.001)"
        self.scatter = pg.ScatterPlotItem(size=9, hoverable=True, hoverSize=13, tip=self._point_tip)
        self.scatter.sigClicked.connect(self._on_point_clicked)
        self.map_plot.addItem(self.scatter)
        pen = pg.mkPen(PALETTE["accent"], width=1, style=Qt.PenStyle.DashLine)
        self.cursor_lines = (pg.InfiniteLine(angle=90, pen=pen), pg.InfiniteLine(angle=0, pen=pen))
        self.cursor = pg.ScatterPlotItem(size=16, symbol="o", brush=pg.mkBrush(None),
                                         pen=pg.mkPen(PALETTE["accent"], width=2))
        for item in (*self.cursor_lines, self.cursor):
            item.setZValue(10)
            self.map_plot.addItem(item, ignoreBounds=True)
            item.setVisible(False)
        self.legend = pg.LegendItem(offset=(-10, 10), labelTextColor=PALETTE["muted"])
        self.legend.setParentItem(self.map_plot.getPlotItem().vb)
        self.map_caption = QLabel(CLICK_HINT, self)
        self.map_caption.setProperty("role", "caption")
        self.now_playing = QLabel("", self)
        self.fit_button = QPushButton("Fit", self)
        self.fit_button.setToolTip("Show the whole map again (the wheel zooms; the middle button pans)")
        self.fit_button.clicked.connect(self.fit_view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.map_plot, 1)
        row = QHBoxLayout()
        row.addWidget(self.map_caption, 1)
        row.addWidget(self.now_playing)
        row.addWidget(self.fit_button)
        layout.addLayout(row)

    def show_analysis(self, analysis: LatentAnalysis | None) -> None:
        """Plot ``analysis``' map (None: a model without analysis — say there is no map)."""
        self._analysis = analysis
        self.scatter.clear()
        self.legend.clear()
        self.now_playing.clear()
        self.show_cursor(None)
        if analysis is None or not analysis.axes:
            self._limits = None
            self.map_caption.setText("This model was saved without latent analysis (training was "
                                     "stopped before it ran), so there is no map.")
            return
        points = analysis.map_points().numpy()
        files = analysis.clip_files.numpy()
        brushes = [pg.mkBrush(_FILE_COLORS[f % len(_FILE_COLORS)]) for f in files]
        self.scatter.setData(x=points[:, 0], y=points[:, 1], brush=brushes,
                             pen=pg.mkPen(PALETTE["base"], width=0.5), data=np.arange(len(points)))
        if len(analysis.files) <= len(_FILE_COLORS):  # beyond that colours repeat: hover names files
            for f, name in enumerate(analysis.files):
                sample = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(_FILE_COLORS[f]), pen=None)
                self.legend.addItem(sample, name)
        axes = analysis.axes
        self._limits = tuple(_value_limits(a.low, a.high) for a in axes[:2]) if len(axes) > 1 else (
            _value_limits(axes[0].low, axes[0].high), (0.0, 0.0))
        self.map_plot.setLabel("bottom", axes[0].label)
        self.map_plot.setLabel("left", axes[1].label if len(axes) > 1 else "")
        self.map_caption.setText(CLICK_HINT)
        self.fit_view()

    def show_cursor(self, xy: tuple[float, float] | None) -> None:
        """Put the crosshair at map point ``xy`` (None hides it)."""
        for item in (*self.cursor_lines, self.cursor):
            item.setVisible(xy is not None)
        if xy is None:
            return
        self.cursor_lines[0].setValue(xy[0])
        self.cursor_lines[1].setValue(xy[1])
        self.cursor.setData(x=[xy[0]], y=[xy[1]])

    def cursor_xy(self) -> tuple[float, float] | None:
        if not self.cursor.isVisible():
            return None
        return float(self.cursor_lines[0].value()), float(self.cursor_lines[1].value())

    def set_pad_enabled(self, enabled: bool) -> None:
        """Off while the instrument warms up (clicks on points still emit ``clipClicked``)."""
        self.view_box.pad_enabled = enabled

    def fit_view(self) -> None:
        self.view_box.autoRange(items=[self.scatter] if len(self.scatter.points()) else None)

    def set_status(self, text: str) -> None:
        """What happens with the last click (playing, an error)."""
        self.now_playing.setText(text)

    def _on_pad(self, point: QPointF) -> None:
        if self._limits is None:
            return
        (x0, x1), (y0, y1) = self._limits
        x = min(x1, max(x0, point.x()))
        y = min(y1, max(y0, point.y()))
        self.show_cursor((x, y))
        self.xyDragged.emit(x, y)

    def _point_tip(self, x: float, y: float, data) -> str:
        if self._analysis is None:
            return ""
        file, clip = self._analysis.clip_source(int(data))
        return f"{file}\nclip {clip + 1}"

    def _on_point_clicked(self, _item, points, _event=None) -> None:
        if len(points) and self._analysis is not None:
            self.clipClicked.emit(int(points[0].data()))


def _value_limits(low: float, high: float) -> tuple[float, float]:
    """The values an axis may take on the pad: its data range widened to ``POSITION_LIMITS``."""
    return low + POSITION_LIMITS[0] * (high - low), low + POSITION_LIMITS[1] * (high - low)
