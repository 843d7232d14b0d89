"""LossPlotWidget: live loss curves of a training run, every term, on a log axis.

One curve per loss term and split: training solid, validation dashed, coloured per term
(``app.services.theme.TERM_COLORS``); optionally a faint per-step curve of the training total.
The row of toggles under the plot is the legend: each box carries a sample of its line, so
nothing is drawn over the curves (a legend inside the plot hid the first epochs).
Values arrive on the GUI thread (``add_epoch``/``add_step``, called by the panel when an
event arrives) and go into preallocated numpy buffers that double when full; a
single-shot timer then pushes the filled parts to the curves, so a burst of steps costs
one ``setData`` per curve. Curves clip to the view and peak-downsample, so a run of
thousands of steps draws as fast as one of ten.

The y axis is logarithmic: a value that is zero, negative or not finite (a KL of 0 before
the warm-up, a NaN before a rollback) is stored as NaN and drawn as a gap. An epoch or a
step that comes again (training rolled back to an earlier checkpoint) replaces what was
recorded from that point on.

GUI thread only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QVBoxLayout, QWidget

from app.services.theme import PALETTE, TERM_COLORS

#: Loss terms in the order of the toggles (``distill.models.LossTerms`` names).
TERMS = ("total", "magnitude", "instantaneous_frequency", "stft", "level", "kl")
TERM_LABELS = {"total": "total", "magnitude": "magnitude", "instantaneous_frequency": "IF",
               "stft": "STFT", "level": "level", "kl": "KL"}
SPLITS = ("train", "validation")
#: Milliseconds between the first new value and the repaint that shows it.
REPAINT_MS = 150
INITIAL_CAPACITY = 64
STEP_CURVE_ALPHA = 90
#: Size of the line samples on the toggles (logical pixels).
SAMPLE_SIZE = QSize(22, 10)


class SeriesBuffer:
    """``n`` series over one increasing x, preallocated and grown geometrically.

    ``y`` is ``[n, capacity]`` so each series is a contiguous row; only ``[:size]`` is data.
    Non-positive and non-finite values are stored as NaN (gaps on a log axis).
    """

    def __init__(self, n_series: int, capacity: int = INITIAL_CAPACITY) -> None:
        self.x = np.empty(capacity, dtype=np.float64)
        self.y = np.empty((n_series, capacity), dtype=np.float64)
        self.size = 0

    @property
    def capacity(self) -> int:
        return self.x.shape[0]

    def append(self, x: float, values: np.ndarray) -> None:
        """Add a point; points at or after ``x`` are dropped first (a rollback replays them)."""
        if self.size and x <= self.x[self.size - 1]:
            self.size = int(np.searchsorted(self.x[:self.size], x, side="left"))
        if self.size == self.capacity:
            self._grow()
        self.x[self.size] = x
        self.y[:, self.size] = np.where(np.isfinite(values) & (values > 0), values, np.nan)
        self.size += 1

    def series(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Views of the filled part of series ``index``: ``(x, y)``."""
        return self.x[:self.size], self.y[index, :self.size]

    def clear(self) -> None:
        self.size = 0

    def _grow(self) -> None:
        capacity = 2 * self.capacity
        x = np.empty(capacity, dtype=np.float64)
        y = np.empty((self.y.shape[0], capacity), dtype=np.float64)
        x[:self.size], y[:, :self.size] = self.x[:self.size], self.y[:, :self.size]
        self.x, self.y = x, y


class LossPlotWidget(QWidget):
    """Loss curves per epoch (training and validation, every term) plus a per-step curve.

    Signals
    -------
    visibilityChanged(str, bool)
        A toggle changed: a term name, ``"validation"`` or ``"steps"``, and its state.
    """

    visibilityChanged = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.epochs = SeriesBuffer(len(TERMS) * len(SPLITS))  # row: split * len(TERMS) + term
        self.steps = SeriesBuffer(1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REPAINT_MS)
        self._timer.timeout.connect(self.refresh)

        self.plot_widget = pg.PlotWidget(self)
        self.plot_widget.setAccessibleName("Loss curves")
        plot = self.plot_widget.getPlotItem()
        plot.setLogMode(x=False, y=True)
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", "loss (log scale)")
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setMenuEnabled(False)
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        for split in SPLITS:
            for term in TERMS:
                self.curves[term, split] = self._curve(_pen(term, split))
        self.step_curve = self._curve(pg.mkPen(_color(TERM_COLORS["total"], STEP_CURVE_ALPHA), width=1))
        self.step_curve.setZValue(-1)

        self.term_boxes: dict[str, QCheckBox] = {}
        toggles = QHBoxLayout()
        for term in TERMS:
            box = self._toggle(TERM_LABELS[term], term, toggles, self.curves[term, "train"].opts["pen"])
            box.setStyleSheet(f"QCheckBox {{ color: {TERM_COLORS[term]}; }}")
            self.term_boxes[term] = box
        toggles.addSpacing(12)
        # What dashed and faint mean, in a neutral colour (they apply to every term).
        self.validation_box = self._toggle("validation", "validation", toggles,
                                           pg.mkPen(PALETTE["muted"], width=1.5, style=Qt.PenStyle.DashLine))
        self.steps_box = self._toggle("per step", "steps", toggles, self.step_curve.opts["pen"])
        toggles.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget, 1)
        layout.addLayout(toggles)

    # ------------------------------------------------------------------ data
    @property
    def epoch_count(self) -> int:
        return self.epochs.size

    @property
    def step_count(self) -> int:
        return self.steps.size

    def add_epoch(self, epoch: float, train: Mapping[str, float],
                  validation: Mapping[str, float]) -> None:
        """Record the mean losses of epoch ``epoch`` (missing terms are gaps)."""
        values = np.array([split.get(term, np.nan) for split in (train, validation) for term in TERMS],
                          dtype=np.float64)
        self.epochs.append(float(epoch), values)
        self._schedule()

    def add_step(self, position: float, total: float) -> None:
        """Record one step's training total at ``position`` epochs (e.g. 2.25: a quarter into epoch 3)."""
        self.steps.append(float(position), np.array([total], dtype=np.float64))
        self._schedule()

    def clear(self) -> None:
        """Forget every value (a new run)."""
        self.epochs.clear()
        self.steps.clear()
        self.refresh()

    def refresh(self) -> None:
        """Push the buffers to the curves now (the repaint timer calls this)."""
        self._timer.stop()
        for (term, split), curve in self.curves.items():
            curve.setData(*self.epochs.series(SPLITS.index(split) * len(TERMS) + TERMS.index(term)),
                          connect="finite")
        self.step_curve.setData(*self.steps.series(0), connect="finite")

    # ------------------------------------------------------------------ visibility
    def set_term_visible(self, name: str, visible: bool) -> None:
        """Show or hide a term's curves, ``"validation"`` curves or the ``"steps"`` curve."""
        box = self.term_boxes.get(name) or {"validation": self.validation_box,
                                            "steps": self.steps_box}.get(name)
        if box is None:
            raise ValueError(f"unknown curve {name!r}; choose one of {TERMS} or validation/steps")
        box.setChecked(visible)  # toggled -> _apply_visibility

    def is_term_visible(self, name: str) -> bool:
        box = self.term_boxes.get(name) or {"validation": self.validation_box,
                                            "steps": self.steps_box}[name]
        return box.isChecked()

    def _apply_visibility(self) -> None:
        show_validation = self.validation_box.isChecked()
        for (term, split), curve in self.curves.items():
            curve.setVisible(self.term_boxes[term].isChecked()
                             and (split == "train" or show_validation))
        self.step_curve.setVisible(self.steps_box.isChecked() and self.term_boxes["total"].isChecked())

    # ------------------------------------------------------------------ internals
    def _curve(self, pen) -> pg.PlotDataItem:
        curve = self.plot_widget.getPlotItem().plot(pen=pen)
        curve.setClipToView(True)
        curve.setDownsampling(auto=True, method="peak")
        return curve

    def _toggle(self, text: str, name: str, box_layout: QHBoxLayout, pen: QPen) -> QCheckBox:
        box = QCheckBox(text, self)
        box.setIcon(line_sample(pen))
        box.setIconSize(SAMPLE_SIZE)
        box.setChecked(True)
        box.setToolTip(f"Show or hide the {text} curve(s)")
        box.toggled.connect(lambda checked, n=name: self._on_toggled(n, checked))
        box_layout.addWidget(box)
        return box

    def _on_toggled(self, name: str, checked: bool) -> None:
        self._apply_visibility()
        self.visibilityChanged.emit(name, checked)

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()


def line_sample(pen: QPen, size: QSize = SAMPLE_SIZE) -> QIcon:
    """An icon of a short horizontal line drawn with ``pen`` (a legend entry's sample)."""
    pixmap = QPixmap(size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    sample = QPen(pen)
    sample.setCosmetic(True)
    painter.setPen(sample)
    middle = size.height() / 2
    painter.drawLine(QPointF(1, middle), QPointF(size.width() - 1, middle))
    painter.end()
    return QIcon(pixmap)


def _color(hex_color: str, alpha: int = 255) -> QColor:
    color = QColor(hex_color)
    color.setAlpha(alpha)
    return color


def _pen(term: str, split: str):
    if split == "train":
        return pg.mkPen(TERM_COLORS[term], width=2)
    return pg.mkPen(TERM_COLORS[term], width=1.5, style=Qt.PenStyle.DashLine)
