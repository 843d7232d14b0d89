"""Record and Export…: capture a performance, then render it (or the point, or the morph) to a file.

``ExportWidget`` holds the Record toggle (``InstrumentController.start_recording`` /
``stop_recording``: every control move with its time stamp), the length of the take, and
"Export…", which opens an ``ExportDialog`` with the take. Recording again replaces the take.

GUI thread only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.explore.export_dialog import ExportDialog
from app.services.instrument import InstrumentController
from distill.render import ControlState
from distill.render.export_job import take_seconds

log = logging.getLogger(__name__)

#: How often the length of a take being recorded is updated.
CLOCK_MS = 200


class ExportWidget(QWidget):
    """Record toggle, take length and Export… (see the module docstring).

    Signals
    -------
    message(str)
        For the status bar: where an export went.
    """

    message = Signal(str)

    def __init__(self, instrument: InstrumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.instrument = instrument
        self.take: list[ControlState] = []
        self.dialog: ExportDialog | None = None
        self._started = 0.0
        self.record_button = QPushButton("● Record", self)
        self.record_button.setCheckable(True)
        self.record_button.setToolTip("Record the control moves, to export them as a performance")
        self.record_button.toggled.connect(self._on_record_toggled)
        self.take_label = QLabel("No take", self)
        self.export_button = QPushButton("Export…", self)
        self.export_button.setToolTip("Render the current point, the morph or the take to an audio file")
        self.export_button.clicked.connect(self.open_dialog)
        layout = QHBoxLayout(self)
        layout.addWidget(self.record_button)
        layout.addWidget(self.take_label, 1)
        layout.addWidget(self.export_button)
        self._clock = QTimer(self)
        self._clock.setInterval(CLOCK_MS)
        self._clock.timeout.connect(self._tick)
        instrument.recordingChanged.connect(self._on_recording_changed)
        instrument.takeRecorded.connect(self._keep)
        instrument.latentChanged.connect(self._on_latent)
        instrument.readyChanged.connect(lambda _ready: self._sync_enabled())
        self._sync_enabled()

    @property
    def take_seconds(self) -> float:
        return take_seconds(self.take)

    def open_dialog(self) -> ExportDialog:
        """Show the export dialog (non-modal: the instrument stays playable)."""
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        self.dialog = ExportDialog(self.instrument, self.take, self)
        self.dialog.exported.connect(self._on_exported)
        self.dialog.finished.connect(self._on_dialog_closed)
        self.dialog.show()
        return self.dialog

    def shutdown(self) -> None:
        """Join a running export (the window closes)."""
        if self.dialog is not None:
            self.dialog.close()

    # ------------------------------------------------------------------ slots
    def _on_record_toggled(self, on: bool) -> None:
        if on and not self.instrument.recording:
            self.instrument.start_recording()
        elif not on and self.instrument.recording:
            self.instrument.stop_recording()  # the take arrives through takeRecorded

    def _on_recording_changed(self, recording: bool) -> None:
        # Also when the controller starts or stops a take by itself (its length limit).
        self.record_button.blockSignals(True)
        self.record_button.setChecked(recording)
        self.record_button.blockSignals(False)
        if recording:
            self._started = time.perf_counter()
            self._clock.start()
            self._tick()
        else:
            self._clock.stop()
            self._show_take()

    def _keep(self, take: list[ControlState]) -> None:
        self.take = take
        self._show_take()

    def _tick(self) -> None:
        self.take_label.setText(f"Recording… {time.perf_counter() - self._started:.1f} s")

    def _show_take(self) -> None:
        if len(self.take) >= 2:
            moves = len(self.take) - 2  # the start and the end marker are not moves
            self.take_label.setText(f"Take: {self.take_seconds:.1f} s, {moves} moves")
        else:
            self.take_label.setText("No take")

    def _on_exported(self, path: Path) -> None:
        self.message.emit(f"Exported to {path}")

    def _on_dialog_closed(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None

    def _on_latent(self, _latent: object, source: str) -> None:
        if source == "open":
            self.take = []  # a take belongs to the model it was played on
            self._show_take()
            self._sync_enabled()

    def _sync_enabled(self) -> None:
        self.setEnabled(self.instrument.state is not None)
