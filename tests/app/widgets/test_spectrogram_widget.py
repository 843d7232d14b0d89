"""SpectrogramWidget: image layout (row-major float32, explicit levels, 256-entry LUTs) and axes."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from app.widgets.spectrogram_widget import IF_LEVELS, MelAxisItem, SpectrogramWidget, hz_label
from distill.audio.melbank import mel_geometry
from distill.training.config import ComplexSpectrogramConfig

CENTRES = mel_geometry(ComplexSpectrogramConfig()).centres


def spectrogram(frames: int = 94, peak: float = 7.5) -> np.ndarray:
    rng = np.random.default_rng(0)
    spec = np.empty((2, 128, frames), np.float64)  # float64, to see the widget convert it
    spec[0] = rng.uniform(0, peak, (128, frames))
    spec[1] = rng.uniform(-1, 1, (128, frames))
    spec[0, 0, 0] = peak
    return spec


@pytest.fixture
def widget(qtbot):
    w = SpectrogramWidget(title="input")
    qtbot.addWidget(w)
    w.resize(900, 360)
    return w


def test_images_are_row_major_float32_with_explicit_levels_and_luts(widget):
    spec = spectrogram(frames=50)
    widget.set_spectrogram(spec)
    for item, channel in ((widget.magnitude_item, 0), (widget.if_item, 1)):
        assert item.axisOrder == "row-major"
        assert item.image.shape == (128, 50)  # rows = bands, columns = frames
        assert item.image.dtype == np.float32 and item.image.flags.c_contiguous
        np.testing.assert_allclose(item.image, spec[channel], rtol=1e-6)
        assert item.lut.shape == (256, 3)
    assert tuple(widget.magnitude_item.levels) == pytest.approx((0.0, 7.5))
    assert tuple(widget.if_item.levels) == IF_LEVELS
    assert widget.magnitude_levels == pytest.approx((0.0, 7.5))


def test_fixed_levels_are_kept_across_updates(widget):
    widget.set_spectrogram(spectrogram(peak=3.0), levels=(0.0, 10.0))
    widget.set_spectrogram(spectrogram(peak=9.0), levels=(0.0, 10.0))
    assert tuple(widget.magnitude_item.levels) == (0.0, 10.0)
    assert tuple(widget.if_item.levels) == IF_LEVELS


def test_silent_input_gets_usable_levels(widget):
    widget.set_spectrogram(np.zeros((2, 128, 10), np.float32))
    assert widget.magnitude_levels == (0.0, 1.0)


def test_pixels_map_to_seconds_and_bands(widget):
    widget.set_spectrogram(spectrogram(frames=94))
    hop_s = 512 / 48_000
    for frame, band in ((0, 0), (10, 3), (93, 127)):
        point = widget.magnitude_item.mapToParent(QPointF(frame + 0.5, band + 0.5))  # pixel centre
        assert point.x() == pytest.approx(frame * hop_s)
        assert point.y() == pytest.approx(band + 0.5)
    assert widget.frame_to_seconds(94) == pytest.approx(94 * hop_s)
    view = widget.if_plot.getViewBox().viewRange()
    assert view[0] == pytest.approx([-0.5 * hop_s, 93.5 * hop_s]) and view[1] == pytest.approx([0, 128])


def test_frequency_axis_labels_band_centres_in_hz(widget):
    widget.set_spectrogram(spectrogram())
    axis = widget.magnitude_plot.getAxis("left")
    assert isinstance(axis, MelAxisItem)
    for band in (0, 40, 127):
        assert axis.position_to_hz(band + 0.5) == pytest.approx(CENTRES[band])
    ticks = axis.frequency_ticks()
    labels = [label for _, label in ticks]
    assert {"100", "1k", "10k"} <= set(labels)
    assert set(labels) <= {"50", "100", "200", "500", "1k", "2k", "5k", "10k", "20k"}
    positions = [p for p, _ in ticks]
    assert positions == sorted(positions) and min(np.diff(positions)) >= 0.07 * 128
    for position, label in ticks:  # each label sits where its frequency is
        hz = float(label.replace("k", "e3"))
        assert axis.position_to_hz(position) == pytest.approx(hz, rel=1e-6)


def test_short_axis_shows_fewer_labels(qtbot, widget):
    widget.set_spectrogram(spectrogram())
    widget.show()
    qtbot.waitExposed(widget)
    tall = len(widget.magnitude_plot.getAxis("left").frequency_ticks())
    widget.resize(900, 120)
    # the layout reaches the axis through posted events: wait for it, however long it takes
    qtbot.waitUntil(lambda: len(widget.magnitude_plot.getAxis("left").frequency_ticks()) < tall)


def test_clear_and_title(widget):
    widget.set_spectrogram(spectrogram())
    widget.clear()
    assert widget.is_empty and widget.magnitude_item.image is None and widget.magnitude_levels is None
    widget.set_title("reconstruction")
    assert widget.title == "reconstruction" and widget.caption.isVisibleTo(widget)
    widget.set_title("")
    assert not widget.caption.isVisibleTo(widget)


def test_stacked_layout_and_shape_checks(qtbot):
    w = SpectrogramWidget(orientation="vertical")
    qtbot.addWidget(w)
    w.set_spectrogram(spectrogram(frames=12))
    assert w.if_item.image.shape == (128, 12)
    with pytest.raises(ValueError, match=r"\[2, M, T\]"):
        w.set_spectrogram(np.zeros((128, 12)))
    with pytest.raises(ValueError, match="128 mel bands"):
        w.set_spectrogram(np.zeros((2, 64, 12)))
    with pytest.raises(ValueError):
        SpectrogramWidget(orientation="diagonal")


@pytest.mark.parametrize(("hz", "text"), [(50, "50"), (500, "500"), (1000, "1k"), (2500, "2.5k"),
                                          (20_000, "20k")])
def test_hz_labels(hz, text):
    assert hz_label(hz) == text
