"""TransportWidget: Play/Stop, Stream/Loop, volume, the level meter and the engine's figures.

Everything goes through the ``InstrumentController``: Play/Stop toggles it (Space does the
same while the Explore tab shows; see ``ExplorePanel``), the mode buttons and the volume
slider set its mode and gain; ``statsChanged`` feeds the meter and a one-line readout of
control-to-sound latency (p50/p95), underruns, gaps and dropped control states. Without an
audio output Play is disabled and a label says why (rendering and export still work).
GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QWidget,
)

from app.explore.level_meter_widget import LevelMeterWidget
from app.services.instrument import InstrumentController
from app.services.theme import PALETTE
from distill.audio.playback import Telemetry
from distill.render import RealtimeStats

PLAY_TIP = "Play or stop the instrument (Space)"


class TransportWidget(QWidget):
    """The Explore tab's bottom bar (see the module docstring)."""

    def __init__(self, instrument: InstrumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.instrument = instrument
        self.play_button = QPushButton("Play", self)
        self.play_button.setCheckable(True)
        self.play_button.setMinimumWidth(90)
        self.play_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.play_button.clicked.connect(self._on_play_clicked)
        self.mode_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        for mode, text, tip in (("stream", "Stream", "A held sound, rendered ahead from the controls"),
                                ("loop", "Loop", "The current sound repeating seamlessly")):
            button = QToolButton(self)
            button.setText(text)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, m=mode: instrument.set_mode(m))
            group.addButton(button)
            self.mode_buttons[mode] = button
        self.mode_buttons[instrument.mode].setChecked(True)
        # The theme's stylesheet has no checked state: show which mode (and Play) is on.
        self.setStyleSheet(f"QToolButton:checked, QPushButton:checked {{ "
                           f"background-color: {PALETTE['accent']}; color: {PALETTE['base']}; }}")
        self.volume = QSlider(Qt.Orientation.Horizontal, self)
        self.volume.setRange(0, 100)
        self.volume.setValue(round(100 * instrument.gain))
        self.volume.setMaximumWidth(120)
        self.volume.setToolTip("Volume")
        self.volume.setAccessibleName("volume")
        self.volume.valueChanged.connect(lambda v: instrument.set_volume(v / 100))
        self.meter = LevelMeterWidget(self)
        self.meter.setMaximumWidth(220)
        self.readout = QLabel("", self)
        self.readout.setProperty("role", "caption")
        self.no_audio = QLabel("", self)
        self.no_audio.setProperty("role", "caption")
        self.no_audio.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.play_button)
        for button in self.mode_buttons.values():
            layout.addWidget(button)
        layout.addSpacing(12)
        layout.addWidget(QLabel("Volume", self))
        layout.addWidget(self.volume)
        layout.addWidget(self.meter, 1)
        layout.addWidget(self.no_audio, 1)
        layout.addStretch(1)
        layout.addWidget(self.readout)
        instrument.playingChanged.connect(self._show_playing)
        instrument.modeChanged.connect(lambda m: self.mode_buttons[m].setChecked(True))
        instrument.statsChanged.connect(self.show_stats)
        self.set_ready(False)

    def set_ready(self, ready: bool) -> None:
        """Enable the controls once the instrument is warm; Play also needs an audio output."""
        audio = self.instrument.audio
        for button in self.mode_buttons.values():
            button.setEnabled(ready)
        self.volume.setEnabled(ready)
        self.play_button.setEnabled(ready and audio.available)
        message = "" if audio.available else audio.no_audio_message()
        self.play_button.setToolTip(message or PLAY_TIP)
        self.no_audio.setText(message)
        self.no_audio.setVisible(bool(message))

    def toggle(self) -> None:
        """Space: play/stop, when Play may be pressed."""
        if self.play_button.isEnabled():
            self.instrument.toggle()

    def show_stats(self, telemetry: Telemetry, stats: RealtimeStats | None) -> None:
        self.meter.set_levels(telemetry.peak, telemetry.rms)
        parts = []
        if telemetry.latency_p50_ms is not None:
            parts.append(f"latency {telemetry.latency_p50_ms:.0f}/{telemetry.latency_p95_ms:.0f} ms")
        if telemetry.running:
            parts.append(f"underruns {telemetry.underruns}, gaps {telemetry.dropouts}")
        if stats is not None:
            parts.append(f"dropped {stats.skipped}")
        self.readout.setText(" · ".join(parts))
        self.readout.setToolTip(_stats_tip(telemetry, stats))

    def _on_play_clicked(self) -> None:
        self.toggle()
        self._show_playing(self.instrument.playing)

    def _show_playing(self, playing: bool) -> None:
        self.play_button.setChecked(playing)
        self.play_button.setText("Stop" if playing else "Play")


def _stats_tip(telemetry: Telemetry, stats: RealtimeStats | None) -> str:
    lines = ["Latency: from the control's event to its first sample at the output (p50/p95)"]
    if telemetry.latency_max_ms is not None:
        lines.append(f"  worst {telemetry.latency_max_ms:.0f} ms over {telemetry.latency_count} changes")
    lines.append(f"Underruns while playing (the device's): {telemetry.underruns}; "
                 f"gaps (nothing ready to play): {telemetry.dropouts}")
    if stats is not None:
        lines.append(f"Control states dropped for a newer one: {stats.skipped}; renders: {stats.renders}")
        if stats.render_ms_p50 is not None:
            lines.append(f"Render time p50/p95: {stats.render_ms_p50:.1f}/{stats.render_ms_p95:.1f} ms")
        lines.append(f"Decoder: {stats.decode_precision}; render thread: {_scheduling(stats.scheduling)}")
    return "\n".join(lines)


def _scheduling(scheduling: str) -> str:
    if scheduling == "normal":
        return "normal scheduling (no real-time right: other programs can cause gaps; see the README)"
    return f"real-time ({scheduling})"
