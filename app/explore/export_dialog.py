"""Export…: render the current point, the A->B morph or a recorded take to an audio file.

``ExportDialog`` gathers an ``ExportRequest`` (source, duration, format, output file) and
runs it in an ``ExportWorker`` (``distill.render.export_job.run_export`` on the offline
copy of the renderer) with progress and Cancel. The morph is offered when both ends are
set, the performance when a take exists (its duration is the take's). The file's
extension follows the format. A cancelled export leaves no file; an export that failed
says why (the folder, the format), and the dialog stays open to try again.

GUI thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.services.instrument import InstrumentController
from app.workers import ExportWorker
from distill.constants import EXPORT_FORMATS
from distill.render import ControlState
from distill.render.export import EXPORT_CHOICES
from distill.render.export_job import MAX_SECONDS, MIN_SECONDS, ExportEvent, ExportRequest, take_seconds

log = logging.getLogger(__name__)

SOURCE_LABELS = {"point": "The current point", "morph": "The A → B morph over the duration",
                 "performance": "The recorded performance"}
DEFAULT_SECONDS = 10.0


class ExportDialog(QDialog):
    """Source, duration, format and file; Export runs in a worker (see the module docstring).

    Parameters
    ----------
    instrument
        The instrument whose point, morph ends and model are exported.
    take
        The recorded control states (None or fewer than two: no performance to export).

    Signals
    -------
    exported(object)
        The ``Path`` written, once an export has finished.
    """

    exported = Signal(object)

    def __init__(self, instrument: InstrumentController, take: Sequence[ControlState] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export audio")
        self.instrument = instrument
        self.take = tuple(take or ())
        self.worker: ExportWorker | None = None
        self.written: Path | None = None
        state = instrument.state
        available = {"point": state is not None, "morph": state is not None and state.has_morph,
                     "performance": len(self.take) >= 2}
        self.sources = QButtonGroup(self)
        self.source_buttons: dict[str, QRadioButton] = {}
        sources = QVBoxLayout()
        for source, label in SOURCE_LABELS.items():
            button = QRadioButton(label, self)
            button.setEnabled(available[source])
            button.toggled.connect(self._on_source)
            self.sources.addButton(button)
            self.source_buttons[source] = button
            sources.addWidget(button)
        self.seconds = QDoubleSpinBox(self)
        self.seconds.setRange(MIN_SECONDS, MAX_SECONDS)
        self.seconds.setDecimals(1)
        self.seconds.setSuffix(" s")
        self.seconds.setValue(DEFAULT_SECONDS)
        self.format = QComboBox(self)
        for key, (_fmt, _subtype, label) in EXPORT_CHOICES.items():
            self.format.addItem(label, key)
        self.format.currentIndexChanged.connect(self._follow_format)
        self.path_edit = QLineEdit(str(self._default_path()), self)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.path_edit, 1)
        file_row.addWidget(browse)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button.clicked.connect(self.reject)
        form = QFormLayout()
        form.addRow("Source", sources)
        form.addRow("Duration", self.seconds)
        form.addRow("Format", self.format)
        form.addRow("File", file_row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        first = next((s for s in ("performance", "morph", "point") if available[s]), None)
        if first is not None:
            self.source_buttons[first].setChecked(True)
        self.export_button.setEnabled(first is not None and instrument.renderer is not None)

    # ------------------------------------------------------------------ choices
    @property
    def source(self) -> str | None:
        return next((s for s, b in self.source_buttons.items() if b.isChecked()), None)

    def set_format(self, key: str) -> None:
        """Choose an ``EXPORT_CHOICES`` entry (``"wav16"``, ``"mp3"``, ...)."""
        self.format.setCurrentIndex(self.format.findData(key))

    def request(self) -> ExportRequest:
        """The export the dialog describes (``ValueError`` when it is not a valid one)."""
        source, state = self.source, self.instrument.state
        if source is None or state is None:
            raise ValueError("nothing to export: open a model first")
        fmt, subtype, _label = EXPORT_CHOICES[self.format.currentData()]
        common = dict(path=Path(self.path_edit.text().strip()).expanduser(), seconds=self.seconds.value(),
                      format=fmt, subtype=subtype)
        if source == "point":
            return ExportRequest("point", latent=state.latent, mode=self.instrument.mode, **common)
        if source == "morph":
            return ExportRequest("morph", morph=(state.morph_a.clone(), state.morph_b.clone()), **common)
        return ExportRequest("performance", take=self.take, **common)

    # ------------------------------------------------------------------ running
    def start_export(self) -> None:
        """Start the worker (GUI thread); the dialog stays open and shows its progress."""
        renderer = self.instrument.renderer
        if self.worker is not None or renderer is None:
            return
        if not self.path_edit.text().strip():
            self.status.setText("Choose the file to write")
            return
        try:
            request = self.request()
        except ValueError as exc:
            self.status.setText(str(exc))
            return
        self.written = None
        self.worker = ExportWorker(renderer, request, self)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_finished)
        self.worker.errored.connect(self._on_failed)
        self.export_button.setEnabled(False)
        self.status.setText(f"Exporting {request.duration:.1f} s…")
        self.worker.start()

    def reject(self) -> None:
        """Cancel: stops a running export (nothing is written), or closes the dialog."""
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Cancelling…")
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.worker is not None:
            self.worker.close()  # the window closes: join, never leave a thread writing
            self._worker_done()
            self.status.setText("Export cancelled; no file was written")
        super().closeEvent(event)

    def _on_progress(self, event: ExportEvent) -> None:
        if event.stage == "rendering":
            self.progress.setRange(0, 0)  # one render call: busy, not a made-up percentage
            self.status.setText(f"Rendering {event.path.name}…")
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(round(100 * event.fraction))
            if event.stage == "writing":
                self.status.setText(f"Writing {event.path.name}…")

    def _on_finished(self, path: Path | None) -> None:
        self._worker_done()
        if path is None:
            self.progress.setValue(0)
            self.status.setText("Export cancelled; no file was written")
            return
        self.written = path
        self.progress.setValue(100)
        self.status.setText(f"Exported to {path}")
        self.exported.emit(path)

    def _on_failed(self, text: str) -> None:
        self._worker_done()
        self.progress.setValue(0)
        self.status.setText(f"Export failed: {text}")

    def _worker_done(self) -> None:
        if self.worker is not None:
            self.worker.wait()
            self.worker = None
        self.progress.setRange(0, 100)
        self.export_button.setEnabled(True)

    # ------------------------------------------------------------------ helpers
    def _on_source(self) -> None:
        performance = self.source == "performance"
        self.seconds.setEnabled(not performance)
        if performance:
            # The take lasts what it lasts (clamped into the spin box; the request checks it).
            self.seconds.setValue(take_seconds(self.take))

    def _follow_format(self) -> None:
        """The file's extension follows the format."""
        text = self.path_edit.text().strip()
        if not text:
            return
        fmt = EXPORT_CHOICES[self.format.currentData()][0]
        path = Path(text)
        self.path_edit.setText(str(path.with_suffix(EXPORT_FORMATS[fmt][2])))

    def _default_path(self) -> Path:
        music = QStandardPaths.StandardLocation.MusicLocation
        folder = QStandardPaths.writableLocation(music) or str(Path.home())
        renderer = self.instrument.renderer
        stem = renderer.path.stem if renderer is not None and renderer.path is not None else "distill"
        return Path(folder) / f"{stem}-export.wav"

    def _browse(self) -> None:
        fmt = EXPORT_CHOICES[self.format.currentData()][0]
        suffix = EXPORT_FORMATS[fmt][2]
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text(),
                                              f"{fmt.upper()} audio (*{suffix})")
        if path:
            self.path_edit.setText(str(Path(path).with_suffix(suffix)))
