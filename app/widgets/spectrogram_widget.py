"""SpectrogramWidget: one 2-channel spectrogram ``[2, M, T]`` as two pyqtgraph images.

Channel 0 (log mel magnitude) gets a perceptual colour map and explicit levels; channel 1
(instantaneous frequency) gets levels fixed to [-1, 1]. The IF channel is a band's
frequency as an offset from its centre, clamped to +-1, with 0 where the band is quiet:
an offset, not a wrapped phase, so its default map is diverging with a dark centre
(CET-D4: quiet bands and partials on the centre dark, below blue, above red); a cyclic
map (``if_colormap="CET-C6"``) would paint -1 and +1 alike. The y axis is the mel band,
labelled with the band's centre frequency; the x axis is time in seconds.

GUI thread only. The widget shows arrays it is given and never computes audio; images are
float32, row-major and contiguous, levels are explicit (no auto-levels per update) and the
LUTs have 256 entries, so an update is one cheap copy and pyqtgraph renders at paint time.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QBoxLayout, QLabel, QVBoxLayout, QWidget

from distill.audio.melbank import mel_geometry
from distill.constants import SAMPLE_RATE
from distill.training.config import ComplexSpectrogramConfig

#: Frequencies labelled on the mel axis, most wanted first: a label is left out when it
#: would crowd one already placed (those outside the bands' range never show).
TICK_HZ = (1000, 100, 10_000, 500, 5000, 2000, 200, 20_000, 50)
#: Least distance between two frequency labels, as a fraction of the axis and in pixels.
TICK_GAP_FRACTION = 0.07
TICK_GAP_PX = 16
#: Levels of the IF channel: its whole range.
IF_LEVELS = (-1.0, 1.0)


def hz_label(hz: float) -> str:
    """``100``, ``500``, ``1k``, ``2.5k``, ``20k``."""
    if hz >= 1000:
        return f"{hz / 1000:g}k"
    return f"{hz:g}"


class MelAxisItem(pg.AxisItem):
    """An axis over mel-band rows: position ``b + 0.5`` is band ``b``'s centre frequency.

    Band ``b`` occupies ``[b, b + 1)`` of the axis. ``set_centres`` gives the bands' centre
    frequencies (Hz, increasing); the ticks then sit at round frequencies (``TICK_HZ``).
    """

    def __init__(self, orientation: str = "left", **kwargs) -> None:
        self._centres = np.zeros(0)  # before the base: its constructor resizes the axis
        super().__init__(orientation, **kwargs)
        self.setTicks([[], []])

    @property
    def centres(self) -> np.ndarray:
        return self._centres

    def set_centres(self, centres: np.ndarray) -> None:
        self._centres = np.asarray(centres, dtype=np.float64)
        self.setTicks([self.frequency_ticks(), []])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if len(self._centres):
            self.setTicks([self.frequency_ticks(), []])  # fewer labels on a short axis

    def hz_to_position(self, hz: float) -> float:
        """Axis position of frequency ``hz`` (interpolated between band centres)."""
        return float(np.interp(hz, self._centres, np.arange(len(self._centres)))) + 0.5

    def position_to_hz(self, position: float) -> float:
        """Frequency (Hz) at an axis position (band index + 0.5 = the band's centre)."""
        return float(np.interp(position - 0.5, np.arange(len(self._centres)), self._centres))

    def frequency_ticks(self) -> list[tuple[float, str]]:
        """``(position, label)`` of the round frequencies that fit without crowding."""
        bands = len(self._centres)
        if bands < 2:
            return []
        length = self.size().height() if self.orientation in ("left", "right") else self.size().width()
        gap = bands * max(TICK_GAP_FRACTION, TICK_GAP_PX / length if length > 0 else 0.0)
        placed: list[tuple[float, str]] = []
        for hz in TICK_HZ:
            position = self.hz_to_position(hz)
            if self._centres[0] <= hz <= self._centres[-1] and all(
                    abs(position - p) >= gap for p, _ in placed):
                placed.append((position, hz_label(hz)))
        return sorted(placed)


class SpectrogramWidget(QWidget):
    """Magnitude and IF of one 2-channel spectrogram, side by side or stacked.

    Parameters
    ----------
    parent
        Parent widget.
    title
        Caption shown above the images (empty: no caption line).
    orientation
        ``"horizontal"`` (magnitude left, IF right) or ``"vertical"`` (stacked).
    config, sample_rate
        The representation the spectrograms come from: band centres and hop (s per frame).
    magnitude_colormap, if_colormap
        pyqtgraph colour map names.
    """

    def __init__(self, parent: QWidget | None = None, *, title: str = "",
                 orientation: str = "horizontal", config: ComplexSpectrogramConfig | None = None,
                 sample_rate: int = SAMPLE_RATE, magnitude_colormap: str = "inferno",
                 if_colormap: str = "CET-D4") -> None:
        super().__init__(parent)
        if orientation not in ("horizontal", "vertical"):
            raise ValueError(f"orientation must be 'horizontal' or 'vertical', got {orientation!r}")
        self.config = config or ComplexSpectrogramConfig()
        self.sample_rate = sample_rate
        self._shape: tuple[int, int] | None = None
        self._magnitude_levels: tuple[float, float] | None = None

        self.caption = QLabel(title, self)
        self.caption.setWordWrap(True)
        self.caption.setVisible(bool(title))
        # Two plot widgets in a box with equal stretch: both images get the same size
        # (one GraphicsLayout shares its width unevenly between plots).
        images = QBoxLayout(QBoxLayout.Direction.LeftToRight if orientation == "horizontal"
                            else QBoxLayout.Direction.TopToBottom)
        images.setContentsMargins(0, 0, 0, 0)
        self.magnitude_plot, self.magnitude_item = self._add_image(images, "magnitude",
                                                                   magnitude_colormap)
        self.if_plot, self.if_item = self._add_image(images, "instantaneous frequency", if_colormap)
        self.if_plot.setXLink(self.magnitude_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addLayout(images, 1)
        self.setAccessibleName(title or "spectrogram")

    # ------------------------------------------------------------------ public
    @property
    def title(self) -> str:
        return self.caption.text()

    def set_title(self, text: str) -> None:
        self.caption.setText(text)
        self.caption.setVisible(bool(text))
        self.setAccessibleName(text or "spectrogram")

    @property
    def magnitude_levels(self) -> tuple[float, float] | None:
        """The magnitude image's levels (None while empty)."""
        return self._magnitude_levels

    @property
    def is_empty(self) -> bool:
        return self._shape is None

    def set_spectrogram(self, spec: np.ndarray, levels: tuple[float, float] | None = None) -> None:
        """Show ``spec`` ``[2, M, T]`` (representation units, numpy or CPU tensor).

        ``levels`` fixes the magnitude's colour range (e.g. the same for an input and its
        reconstruction so they compare); None uses ``(0, max of channel 0)``.
        """
        spec = np.asarray(spec)
        if spec.ndim != 3 or spec.shape[0] != 2:
            raise ValueError(f"expected a spectrogram [2, M, T], got shape {spec.shape}")
        n_bands, n_frames = spec.shape[1:]
        if n_bands != self.config.n_mels:
            raise ValueError(f"expected {self.config.n_mels} mel bands, got {n_bands}")
        magnitude = np.ascontiguousarray(spec[0], dtype=np.float32)
        frequency = np.ascontiguousarray(spec[1], dtype=np.float32)
        self._magnitude_levels = _levels(magnitude) if levels is None else (float(levels[0]),
                                                                            float(levels[1]))
        self.magnitude_item.setImage(magnitude, autoLevels=False, levels=self._magnitude_levels)
        self.if_item.setImage(frequency, autoLevels=False, levels=IF_LEVELS)
        if self._shape != (n_bands, n_frames):
            self._place(n_bands, n_frames)

    def clear(self) -> None:
        """Remove the images (the caption stays; set it to say why)."""
        self.magnitude_item.clear()
        self.if_item.clear()
        self._shape = None
        self._magnitude_levels = None

    def frame_to_seconds(self, frame: float) -> float:
        """Time of frame ``frame``'s centre (frames are centred on ``frame * hop``)."""
        return frame * self.config.hop_length / self.sample_rate

    # ------------------------------------------------------------------ internals
    def _add_image(self, box: QBoxLayout, name: str, colormap: str) -> tuple[pg.PlotItem, pg.ImageItem]:
        widget = pg.PlotWidget(self, axisItems={"left": MelAxisItem("left")})
        widget.setBackground(None)  # the theme's window colour
        widget.setAccessibleName(f"{name} spectrogram")
        box.addWidget(widget, 1)
        plot = widget.getPlotItem()
        plot.setTitle(name)
        plot.setLabel("left", "frequency", units="Hz")
        plot.getAxis("left").enableAutoSIPrefix(False)
        plot.setLabel("bottom", "time", units="s")
        plot.hideButtons()
        plot.setMenuEnabled(False)
        view = plot.getViewBox()
        view.setMouseEnabled(x=True, y=False)  # zoom along time only; the bands always fit
        view.setDefaultPadding(0.0)
        item = pg.ImageItem(axisOrder="row-major")
        item.setLookupTable(pg.colormap.get(colormap).getLookupTable(nPts=256, alpha=False))
        item.setAutoDownsample(True)  # long files: thousands of frames on a few hundred pixels
        plot.addItem(item)
        return plot, item

    def _place(self, n_bands: int, n_frames: int) -> None:
        """Map pixels to (seconds, band): column t centred on frame t's time, row b on [b, b+1)."""
        frame_s = self.frame_to_seconds(1)
        rect = QRectF(-0.5 * frame_s, 0.0, n_frames * frame_s, float(n_bands))
        centres = mel_geometry(self.config, self.sample_rate).centres
        for plot, item in ((self.magnitude_plot, self.magnitude_item), (self.if_plot, self.if_item)):
            item.setRect(rect)
            plot.getAxis("left").set_centres(centres)
            view = plot.getViewBox()
            view.setLimits(xMin=rect.left(), xMax=rect.right(), yMin=0.0, yMax=float(n_bands))
            view.setRange(xRange=(rect.left(), rect.right()), yRange=(0.0, float(n_bands)), padding=0.0)
        self._shape = (n_bands, n_frames)


def _levels(magnitude: np.ndarray) -> tuple[float, float]:
    peak = float(np.nanmax(magnitude)) if magnitude.size else 0.0
    return (0.0, peak if np.isfinite(peak) and peak > 0 else 1.0)
