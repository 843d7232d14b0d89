"""MapWidget: the XY pad — every training clip on the map of axes 1–2, and the instrument's cursor.

Points are coloured by group (``colour_groups``): by sub-folder when the dataset has them (a
folder per kind of sound is how people sort samples), else by file while there are colours
enough, else by the files' name prefix ("kick_01", "kick_02"), else by runs of neighbouring
files; the legend names what each colour stands for and how many files share it. Hovering a
point names its file and where in the file the clip lies. A crosshair marks the instrument's
current point and follows ``latentChanged`` from any control. With the left button,
dragging anywhere on the plot moves the cursor and emits ``xyDragged(x, y)`` continuously
(pan/zoom stay off while the cursor is dragged; the wheel zooms, "Fit" resets the view); a
click on empty ground jumps there; a click on a point emits ``clipClicked(clip index)``.
The panel decides what those mean (move the instrument). Positions, range and axis names come
from the analysis' map (``LatentAnalysis.map_points`` / ``map_limits`` / ``map_labels``): the
model's stored layout, where sounds of one kind lie together, or for older models axis values
of axes 1–2 within the range ``LatentSpace.POSITION_LIMITS`` allows. GUI thread only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.services.theme import PALETTE
from distill.latent import LatentAnalysis
from distill.latent.space import POSITION_LIMITS

_FILE_COLORS = ("#e0a050", "#5fb3b3", "#c678dd", "#98c379", "#e06c75", "#61afef", "#d19a66", "#56b6c2")
LAYOUT_HINT = ("Similar sounds lie together. Drag anywhere to play between them; click a point "
               "to go to that sound.")
CLICK_HINT = "Drag anywhere to play axes 1–2; click a point to go to that sound."
_PREFIX = re.compile(r"[^\W\d_]+")  # a name's leading letters: "kick" of "Kick_01.wav"


@dataclass(frozen=True)
class ColourGroups:
    """Which colour each file gets and what the legend says about each colour.

    Attributes
    ----------
    of_file
        Colour index (into the palette) of each file, in the order of the files.
    legend
        One line per colour used, in colour order: what it stands for and, when it stands
        for several files, how many.
    by
        What the colours follow: ``"folder"``, ``"file"``, ``"name"`` or ``"run"``.
    """

    of_file: tuple[int, ...]
    legend: tuple[str, ...]
    by: str


def colour_groups(files: Sequence[str], colours: int = len(_FILE_COLORS)) -> ColourGroups:
    """Colour the dataset's files (relative paths) so that a colour means one thing.

    Sub-folders first (two or more top-level folders); else one colour per file when there
    are ``colours`` files or fewer; else the name prefix when it splits the files into 2 to
    ``colours`` groups; else runs of neighbouring files. Groups beyond ``colours`` share a
    colour, and the legend line says so.
    """
    paths = [PurePosixPath(f) for f in files]
    folders = [p.parts[0] if len(p.parts) > 1 else "" for p in paths]
    if len(set(folders)) >= 2:
        return _grouped(folders, colours, "folder", lambda key: f"{key}/" if key else "(top folder)")
    if len(files) <= colours:
        return ColourGroups(tuple(range(len(files))), tuple(p.name for p in paths), "file")
    prefixes = [_PREFIX.match(p.stem) for p in paths]
    keys = [m.group(0).casefold() if m else "" for m in prefixes]
    if all(keys) and 2 <= len(set(keys)) <= colours:
        return _grouped(keys, colours, "name", lambda key: f"{key}…")
    run = math.ceil(len(files) / colours)
    of_file = tuple(i // run for i in range(len(files)))
    legend = tuple(f"{paths[lo].name} … {paths[min(lo + run, len(files)) - 1].name}"
                   f" ({min(lo + run, len(files)) - lo} files)" for lo in range(0, len(files), run))
    return ColourGroups(of_file, legend, "run")


def _grouped(keys: list[str], colours: int, by: str, name) -> ColourGroups:
    order = list(dict.fromkeys(keys))  # first appearance: the files' own order
    of_file = tuple(order.index(k) % colours for k in keys)
    legend = []
    for c in range(min(colours, len(order))):
        names = ", ".join(name(k) for k in order[c::colours])
        count = of_file.count(c)
        legend.append(names if count == 1 else f"{names} ({count} files)")
    return ColourGroups(of_file, tuple(legend), by)



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
        self._clip_seconds: tuple[float, float] | None = None
        self.groups: ColourGroups | None = None
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
        self.legend_corner = "top right"  # moved by show_analysis to the emptiest corner
        self.legend.setParentItem(self.map_plot.getPlotItem().vb)
        self.map_caption = QLabel(CLICK_HINT, self)
        self.map_caption.setWordWrap(True)
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

    def show_analysis(self, analysis: LatentAnalysis | None,
                      clip_seconds: tuple[float, float] | None = None) -> None:
        """Plot ``analysis``' map (None: a model without analysis — say there is no map).

        ``clip_seconds`` = (seconds between clip starts, seconds per clip) of the model's
        data: hover tips then say where in its file a clip lies.
        """
        self._analysis = analysis
        self._clip_seconds = clip_seconds
        self.groups = None
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
        self.groups = colour_groups(analysis.files)
        palette = [pg.mkBrush(c) for c in _FILE_COLORS]
        brushes = [palette[self.groups.of_file[f]] for f in analysis.clip_files.tolist()]
        self.scatter.setData(x=points[:, 0], y=points[:, 1], brush=brushes,
                             pen=pg.mkPen(PALETTE["base"], width=0.5), data=np.arange(len(points)))
        for c, text in enumerate(self.groups.legend):
            sample = pg.ScatterPlotItem(size=8, brush=palette[c], pen=None)
            self.legend.addItem(sample, text)
        (x0, x1), (y0, y1) = analysis.map_limits()
        # A layout's box already has a margin; axis values may go a little past the data.
        self._limits = ((x0, x1), (y0, y1)) if analysis.has_layout else (
            _value_limits(x0, x1), _value_limits(y0, y1) if len(analysis.axes) > 1 else (0.0, 0.0))
        x_label, y_label = analysis.map_labels()
        self.map_plot.setLabel("bottom", x_label)
        self.map_plot.setLabel("left", y_label)
        self.map_caption.setText(LAYOUT_HINT if analysis.has_layout else CLICK_HINT)
        # The legend goes where it hides the fewest points.
        self.legend_corner = emptiest_corner(points, self._limits)
        anchor, offset = CORNERS[self.legend_corner]
        self.legend.anchor(itemPos=anchor, parentPos=anchor, offset=offset)
        self.fit_view()

    @staticmethod
    def clip_seconds_of(renderer) -> tuple[float, float]:
        """``show_analysis``' ``clip_seconds`` for a ``distill.render.Renderer``'s model: clips
        start every ``clip_hop_frames`` frames of ``hop_length`` samples (as the cache cut them)."""
        rate = renderer.sample_rate
        hop = renderer.data.clip_hop_frames * renderer.spectrogram.config.hop_length
        return hop / rate, renderer.clip_samples / rate

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
        if self._clip_seconds is None:
            return f"{file}\nclip {clip + 1}"
        hop, length = self._clip_seconds
        return f"{file}\n{_clock(clip * hop)} – {_clock(clip * hop + length)} (clip {clip + 1})"

    def _on_point_clicked(self, _item, points, _event=None) -> None:
        if len(points) and self._analysis is not None:
            self.clipClicked.emit(int(points[0].data()))


#: Share of the map's width and height the legend's corner covers, when choosing where it goes.
LEGEND_CORNER = (0.4, 0.35)
#: Corner -> (the legend's anchor on itself and on the plot, offset in pixels); ties go to
#: the first (top right, where a legend is looked for).
CORNERS = {"top right": ((1, 0), (-10, 10)), "top left": ((0, 0), (10, 10)),
           "bottom right": ((1, 1), (-10, -10)), "bottom left": ((0, 1), (10, -10))}


def emptiest_corner(points: np.ndarray, limits: tuple[tuple[float, float], tuple[float, float]]) -> str:
    """The corner of the map (``CORNERS``) with the fewest of ``points`` [N, 2] under it."""
    (x0, x1), (y0, y1) = limits
    u = (points[:, 0] - x0) / max(x1 - x0, 1e-12)
    v = (points[:, 1] - y0) / max(y1 - y0, 1e-12)
    w, h = LEGEND_CORNER
    right, left, top, bottom = u > 1 - w, u < w, v > 1 - h, v < h
    counts = {"top right": right & top, "top left": left & top, "bottom right": right & bottom,
              "bottom left": left & bottom}
    return min(CORNERS, key=lambda corner: int(counts[corner].sum()))


def _value_limits(low: float, high: float) -> tuple[float, float]:
    """The values an axis may take on the pad: its data range widened to ``POSITION_LIMITS``."""
    return low + POSITION_LIMITS[0] * (high - low), low + POSITION_LIMITS[1] * (high - low)


def _clock(seconds: float) -> str:
    """"0.50 s", or "2:05.3" past a minute."""
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"
