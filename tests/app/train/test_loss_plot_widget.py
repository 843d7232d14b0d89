"""LossPlotWidget: log axis with zeros and NaN, growing buffers, rollbacks, toggles, timed repaint."""

from __future__ import annotations

import warnings

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor

from app.services.theme import TERM_COLORS
from app.train.loss_plot_widget import (
    INITIAL_CAPACITY,
    SAMPLE_SIZE,
    STEP_CURVE_ALPHA,
    TERM_LABELS,
    TERMS,
    LossPlotWidget,
    SeriesBuffer,
)


@pytest.fixture
def plot(qtbot) -> LossPlotWidget:
    widget = LossPlotWidget()
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    widget.show()
    return widget


def losses(scale: float) -> dict[str, float]:
    return {term: scale * (i + 1) for i, term in enumerate(TERMS)}


def shown(plot: LossPlotWidget, term: str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The data a curve was given (before the log transform)."""
    x, y = plot.curves[term, split].getOriginalDataset()
    return (np.array([]), np.array([])) if x is None else (x, y)


def test_the_y_axis_is_logarithmic_and_curves_are_styled_per_term(plot):
    assert plot.plot_widget.getPlotItem().getAxis("left").logMode
    for term in TERMS:
        train, validation = plot.curves[term, "train"], plot.curves[term, "validation"]
        assert train.opts["pen"].color().name() == TERM_COLORS[term].lower()
        assert validation.opts["pen"].color().name() == TERM_COLORS[term].lower()
        assert train.opts["pen"].style() != validation.opts["pen"].style()  # solid vs dashed
        assert train.opts["clipToView"] and train.opts["autoDownsample"]


def test_the_toggle_row_is_the_legend_and_nothing_is_drawn_over_the_curves(plot):
    items = plot.plot_widget.getPlotItem().getViewBox().allChildren()
    assert not any(isinstance(item, pg.LegendItem) for item in items)
    assert plot.plot_widget.getPlotItem().legend is None
    for term in TERMS:
        alpha, rgb = line_sample(plot.term_boxes[term])
        assert plot.term_boxes[term].text() == TERM_LABELS[term]
        assert (alpha == 255).all() and (rgb == QColor(TERM_COLORS[term]).rgb()).all()  # solid, its colour
    alpha, _ = line_sample(plot.validation_box)
    assert (alpha[2:-2] == 0).any() and (alpha > 0).sum() > len(alpha) // 2  # dashed, as the curves
    alpha, _ = line_sample(plot.steps_box)
    assert (alpha > 0).all() and alpha.max() < STEP_CURVE_ALPHA  # unbroken and faint, as the curve


def line_sample(box) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and ``0xAARRGGBB`` of the pixels along the line sample of a toggle (its upper row)."""
    image = box.icon().pixmap(SAMPLE_SIZE).toImage()
    row = SAMPLE_SIZE.height() // 2 - 1
    colors = [image.pixelColor(x, row) for x in range(image.width())]
    return np.array([c.alpha() for c in colors]), np.array([c.rgb() for c in colors])


def test_zeros_negatives_and_nan_become_gaps_without_warnings(qtbot, plot):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a log10(0) would warn
        plot.add_epoch(1, {**losses(1.0), "kl": 0.0}, {})  # KL 0 before the warm-up, no validation
        plot.add_epoch(2, {**losses(0.5), "stft": float("nan"), "kl": -1.0}, losses(0.6))
        plot.add_epoch(3, losses(0.25), {**losses(0.3), "total": float("inf")})
        plot.add_step(0.5, 0.0)
        plot.add_step(1.0, 2.0)
        plot.refresh()
        plot.grab()  # paints with the gaps
    x, y = shown(plot, "kl")
    assert list(x) == [1, 2, 3] and np.isnan(y[:2]).all()
    assert y[2] == pytest.approx(0.25 * (TERMS.index("kl") + 1))
    assert np.isnan(shown(plot, "stft")[1][1])
    _, val = shown(plot, "total", "validation")
    assert np.isnan(val[0]) and val[1] == pytest.approx(0.6) and np.isnan(val[2])
    assert np.isnan(plot.step_curve.getOriginalDataset()[1][0])
    plot.clear()
    assert plot.epoch_count == 0 and shown(plot, "total")[0].size == 0


def test_buffers_grow_geometrically_and_keep_every_point(plot):
    buffer = SeriesBuffer(2)
    for i in range(INITIAL_CAPACITY * 3 + 1):
        buffer.append(float(i), np.array([i + 1.0, 2.0 * (i + 1)]))
    assert buffer.size == INITIAL_CAPACITY * 3 + 1 and buffer.capacity == INITIAL_CAPACITY * 4
    x, y = buffer.series(1)
    assert np.array_equal(x, np.arange(buffer.size)) and np.array_equal(y, 2.0 * (x + 1))
    assert y.base is not None  # a view of the buffer: nothing copied per update

    for epoch in range(1, 201):
        plot.add_epoch(epoch, losses(1.0 / epoch), losses(1.2 / epoch))
    plot.refresh()
    assert plot.epoch_count == 200
    assert shown(plot, "magnitude", "validation")[1][-1] == pytest.approx(2.4 / 200)


def test_a_rollback_replaces_what_came_after_it(plot):
    for epoch in (1, 2, 3, 4):
        plot.add_epoch(epoch, losses(float(epoch)), {})
        plot.add_step(epoch - 0.5, float(epoch))
    plot.add_epoch(3, losses(10.0), {})  # rolled back to the end of epoch 2, epoch 3 again
    plot.add_step(2.5, 10.0)
    plot.refresh()
    x, y = shown(plot, "total")
    assert list(x) == [1, 2, 3] and y[-1] == pytest.approx(10.0)
    assert list(plot.step_curve.getOriginalDataset()[0]) == [0.5, 1.5, 2.5]


def test_toggles_hide_terms_validation_and_steps(qtbot, plot):
    changes = []
    plot.visibilityChanged.connect(lambda name, on: changes.append((name, on)))
    plot.set_term_visible("kl", False)
    assert not plot.curves["kl", "train"].isVisible() and not plot.curves["kl", "validation"].isVisible()
    assert plot.curves["total", "train"].isVisible() and not plot.term_boxes["kl"].isChecked()
    plot.validation_box.click()  # the user's way
    assert not plot.curves["magnitude", "validation"].isVisible()
    assert plot.curves["magnitude", "train"].isVisible()
    plot.set_term_visible("steps", False)
    assert not plot.step_curve.isVisible() and not plot.is_term_visible("steps")
    plot.set_term_visible("validation", True)
    plot.set_term_visible("kl", True)
    assert plot.curves["kl", "validation"].isVisible()
    assert changes == [("kl", False), ("validation", False), ("steps", False), ("validation", True),
                       ("kl", True)]
    with pytest.raises(ValueError):
        plot.set_term_visible("loudness", True)


def test_new_values_are_painted_by_the_timer(qtbot, plot):
    plot.add_epoch(1, losses(1.0), losses(1.0))
    assert shown(plot, "total")[0].size == 0  # not drawn on arrival...
    qtbot.waitUntil(lambda: shown(plot, "total")[0].size == 1, timeout=2000)  # ...but soon
