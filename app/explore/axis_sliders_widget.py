"""AxisSlidersWidget: one slider per measured latent axis, moving the instrument.

Each row: the axis' measured label, a high-resolution slider and its value. The slider
spans the positions ``LatentSpace.POSITION_LIMITS`` allows (0 and 1 are the data's low
and high end, marked under the groove; a little beyond extrapolates); positions and values
are converted by ``LatentSpace`` only. The first ``SHOWN_AXES`` rows are shown, "More axes"
shows the rest. Double-click resets an axis to the dataset's mean (value 0); Reset all and
Randomize (within the data's range) act on every axis. A label whose axis was fitted on
few data (``AxisInfo.few_data``) is greyed, and a caption says what it rests on.

A moved slider calls ``InstrumentController.set_axis``; moves made elsewhere (the XY pad,
a map click, a preset) arrive through ``latentChanged`` and are shown with the sliders'
signals blocked, so following never echoes back. GUI thread only.
"""

from __future__ import annotations

import torch
from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.explore.model_summary_widget import _axis_tip
from app.services.instrument import InstrumentController
from app.services.theme import PALETTE
from distill.latent.space import POSITION_LIMITS, LatentSpace

#: Slider steps over ``POSITION_LIMITS`` (fine enough that a step is never heard alone).
STEPS = 1000
#: Rows shown before "More axes".
SHOWN_AXES = 8


def position_to_step(position: float) -> int:
    low, high = POSITION_LIMITS
    return round((min(high, max(low, position)) - low) / (high - low) * STEPS)


def step_to_position(step: int) -> float:
    low, high = POSITION_LIMITS
    return low + step / STEPS * (high - low)


class AxisSlider(QSlider):
    """A horizontal slider that marks the data's range (positions 0..1) under its groove.

    Signals
    -------
    resetRequested()
        The slider was double-clicked.
    """

    resetRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(0, STEPS)
        self.setSingleStep(STEPS // 200)
        self.setPageStep(STEPS // 20)

    def mouseDoubleClickEvent(self, event) -> None:
        self.resetRequested.emit()
        event.accept()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        groove = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                             QStyle.SubControl.SC_SliderGroove, self)
        handle = self.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                             QStyle.SubControl.SC_SliderHandle, self)
        span = groove.width() - handle.width()
        x0, x1 = (groove.left() + handle.width() // 2
                  + QStyle.sliderPositionFromValue(0, STEPS, position_to_step(p), span) for p in (0.0, 1.0))
        painter = QPainter(self)
        color = QColor(PALETTE["accent2"])
        color.setAlpha(150)
        painter.fillRect(QRect(x0, self.height() - 3, max(1, x1 - x0), 2), color)


class AxisSlidersWidget(QWidget):
    """The sliders of one model's axes (see the module docstring)."""

    def __init__(self, instrument: InstrumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.instrument = instrument
        self.space: LatentSpace | None = None
        self.sliders: list[AxisSlider] = []
        self.labels: list[QLabel] = []
        self.value_labels: list[QLabel] = []
        self._rows = QGridLayout()
        self._rows.setColumnStretch(1, 1)
        self.caption = QLabel("No axes: open a model with a latent analysis.", self)
        self.caption.setWordWrap(True)
        self.caption.setProperty("role", "caption")
        self.more_button = QToolButton(self)
        self.more_button.setCheckable(True)
        self.more_button.toggled.connect(self._show_rows)
        self.reset_button = QPushButton("Reset all", self)
        self.reset_button.setToolTip("Every axis back to the dataset's mean (double-click resets one)")
        self.reset_button.clicked.connect(instrument.reset_all)
        self.random_button = QPushButton("Randomize", self)
        self.random_button.setToolTip("Every axis somewhere within the range the data covers")
        self.random_button.clicked.connect(lambda: instrument.randomize())
        buttons = QHBoxLayout()
        buttons.addWidget(self.more_button)
        buttons.addStretch(1)
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.random_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addLayout(self._rows)
        layout.addLayout(buttons)
        layout.addStretch(1)
        instrument.latentChanged.connect(self._on_latent)
        self.show_space(None)

    def show_space(self, space: LatentSpace | None) -> None:
        """One row per axis of ``space`` (None: a model without analysis, no sliders)."""
        while self._rows.count():
            widget = self._rows.takeAt(0).widget()
            widget.setParent(None)
            widget.deleteLater()
        self.space = space
        self.sliders, self.labels, self.value_labels = [], [], []
        axes = space.axes if space is not None else ()
        for i, axis in enumerate(axes):
            label = QLabel(axis.label, self)
            label.setProperty("fewData", axis.few_data)
            if axis.few_data:
                label.setStyleSheet(f"color: {PALETTE['muted']};")
            slider = AxisSlider(self)
            value = QLabel("", self)
            value.setMinimumWidth(value.fontMetrics().horizontalAdvance("+00.00"))
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            tip = _slider_tip(axis)
            for widget in (label, slider, value):
                widget.setToolTip(tip)
            slider.setAccessibleName(f"{axis.label} slider")
            slider.valueChanged.connect(lambda step, i=i: self._on_slider(i, step))
            slider.resetRequested.connect(lambda i=i: self.instrument.reset_axis(i))
            for col, widget in enumerate((label, slider, value)):
                self._rows.addWidget(widget, i, col)
            self.labels.append(label)
            self.sliders.append(slider)
            self.value_labels.append(value)
        hidden = max(0, len(axes) - SHOWN_AXES)
        self.caption.setText(_caption(axes))
        self.caption.setVisible(bool(self.caption.text()))
        self.more_button.setVisible(hidden > 0)
        self.more_button.setText(f"More axes ({hidden})")
        self.more_button.setChecked(False)
        self.reset_button.setEnabled(bool(axes))
        self.random_button.setEnabled(bool(axes))
        self._show_rows(False)
        if space is not None:
            self.show_values(torch.zeros(space.num_axes))

    def show_values(self, values: torch.Tensor) -> None:
        """Put the sliders at ``values`` ``[K]`` without emitting (following another control)."""
        if self.space is None or not self.sliders:
            return
        positions = self.space.values_to_positions(values).tolist()
        for slider, label, value, position in zip(self.sliders, self.value_labels, values.tolist(), positions,
                                                  strict=True):
            slider.blockSignals(True)
            slider.setValue(position_to_step(position))
            slider.blockSignals(False)
            label.setText(f"{value:+.2f}")

    def values(self) -> torch.Tensor:
        """``[K]`` the values the sliders show (from their positions)."""
        if self.space is None:
            return torch.zeros(0)
        steps = torch.tensor([step_to_position(s.value()) for s in self.sliders])
        return self.space.positions_to_values(steps)

    def _show_rows(self, more: bool) -> None:
        for i, widgets in enumerate(zip(self.labels, self.sliders, self.value_labels, strict=True)):
            for widget in widgets:
                widget.setVisible(more or i < SHOWN_AXES)

    def _on_slider(self, index: int, step: int) -> None:
        if self.space is None:
            return
        positions = torch.zeros(self.space.num_axes)
        positions[index] = step_to_position(step)
        value = float(self.space.positions_to_values(positions)[index])
        self.value_labels[index].setText(f"{value:+.2f}")
        self.instrument.set_axis(index, value, source="slider")

    def _on_latent(self, latent: torch.Tensor, source: str) -> None:
        if self.space is None or source == "slider":  # the moved slider already shows it
            return
        self.show_values(self.space.latent_to_controls(latent))


def _caption(axes) -> str:
    """Above the sliders: why there are none, or what greyed labels rest on ("" otherwise)."""
    if not axes:
        return "No axes: open a model with a latent analysis."
    few = [a for a in axes if a.few_data]
    if not few:
        return ""
    axis = few[0]  # the axes of one analysis share their counts
    if not axis.fitted_clips:
        rests = "how much was not recorded with this model"
    else:
        rests = (f"the axes were fitted on {axis.fitted_clips} clips from {axis.fitted_files} files, "
                 f"each ρ measured over {axis.sweep_points} sweep steps")
    return f"Grey labels rest on few data: {rests}. Read them as hints; hover a label for the details."


def _slider_tip(axis) -> str:
    return (f"{_axis_tip(axis)}\nDrag to move; double-click resets to the dataset's mean. The "
            "marked part of the groove is the range the data covers.")
