"""The A<->B morph: two ends, each a dataset sound, the current point or a dropped file.

``MorphWidget`` holds two ``MorphSlotWidget``s and the morph slider. An end is set by
picking one of the dataset's files (its latent is the mean of its clips: the analysis
keeps no clip levels, so the loudest clip is not known), by "Set from current" (the
instrument's point now), or by dropping any audio file on the slot: the file is encoded
by an ``EncodeWorker`` (the latent of its loudest clip) on the private offline copy of
the renderer, never the one the real-time loop plays with. A file that cannot be used is
reported with its name and reason, and the slot keeps what it had. Once both ends are
set, the slider (0..1 in ``STEPS`` steps) moves the instrument along the path between them.

GUI thread only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.services.instrument import InstrumentController
from app.workers import Encoded, EncodeWorker

log = logging.getLogger(__name__)

#: Slider steps between A and B.
STEPS = 1000
ENDS = ("a", "b")


def dropped_file(event: QDropEvent | QDragEnterEvent) -> Path | None:
    """The first local file a drag carries, or None."""
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return None
    files = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return files[0] if files else None


class MorphSlotWidget(QFrame):
    """One end of the morph: its name, a dataset-file chooser, "Set from current", a drop target."""

    fileDropped = Signal(object)  # Path
    datasetFileChosen = Signal(int)  # index into the analysis' files
    fromCurrentClicked = Signal()

    def __init__(self, end: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.end = end
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAcceptDrops(True)
        self.setToolTip("Drop an audio file here, pick a dataset sound, or take the current point")
        title = QLabel(f"<b>{end.upper()}</b>", self)
        self.name_label = QLabel("(empty)", self)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.files = QComboBox(self)
        self.files.setPlaceholderText("dataset sound…")
        self.files.activated.connect(self.datasetFileChosen)
        self.current_button = QPushButton("Set from current", self)
        self.current_button.clicked.connect(self.fromCurrentClicked)
        layout = QGridLayout(self)
        layout.addWidget(title, 0, 0)
        layout.addWidget(self.name_label, 0, 1)
        layout.addWidget(self.files, 1, 0, 1, 2)
        layout.addWidget(self.current_button, 2, 0, 1, 2)

    def set_files(self, files: tuple[str, ...]) -> None:
        self.files.clear()
        self.files.addItems(list(files))
        self.files.setCurrentIndex(-1)

    def show_name(self, name: str) -> None:
        self.name_label.setText(name)
        self.name_label.setToolTip(name)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_file(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = dropped_file(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.fileDropped.emit(path)


class MorphWidget(QWidget):
    """Morph ends A and B and the slider between them (see the module docstring).

    Signals
    -------
    message(str)
        Something for the status bar (an encoded file, a file that could not be used).
    """

    message = Signal(str)

    def __init__(self, instrument: InstrumentController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.instrument = instrument
        self.names: dict[str, str] = {}
        self._latents: dict[str, torch.Tensor] = {}
        self._workers: dict[str, EncodeWorker] = {}
        self._model: object = None  # the renderer the ends belong to
        self.slots = {end: MorphSlotWidget(end, self) for end in ENDS}
        for end, slot in self.slots.items():
            slot.fileDropped.connect(lambda path, end=end: self.encode_file(end, path))
            slot.datasetFileChosen.connect(lambda index, end=end: self.set_from_dataset(end, index))
            slot.fromCurrentClicked.connect(lambda end=end: self.set_from_current(end))
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, STEPS)
        self.slider.setToolTip("Morph from A (left) to B (right)")
        self.slider.valueChanged.connect(self._on_slider)
        self.status = QLabel("Set both ends to morph between them", self)
        self.status.setWordWrap(True)
        ends = QHBoxLayout()
        ends.addWidget(self.slots["a"])
        ends.addWidget(self.slots["b"])
        row = QHBoxLayout()
        row.addWidget(QLabel("A", self))
        row.addWidget(self.slider, 1)
        row.addWidget(QLabel("B", self))
        layout = QVBoxLayout(self)
        layout.addLayout(ends)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addStretch(1)
        instrument.latentChanged.connect(self._on_latent)
        instrument.readyChanged.connect(lambda _ready: self._sync_model())
        self._sync_model()

    # ------------------------------------------------------------------ setting an end
    @property
    def has_both(self) -> bool:
        return all(end in self._latents for end in ENDS)

    def set_end(self, end: str, latent: torch.Tensor, name: str) -> None:
        """Set end ``end`` (``"a"``/``"b"``) of the instrument's morph and show ``name``."""
        try:
            self.instrument.set_morph_end(end, latent)
        except ValueError as exc:
            self._say(f"{name} cannot be morph end {end.upper()}: {exc}")
            return
        self._latents[end] = torch.as_tensor(latent).detach().clone()
        self.names[end] = name
        self.slots[end].show_name(name)
        self.slider.setEnabled(self.has_both)
        if self.has_both:
            self.status.setText(f"Morph: {self.names['a']} → {self.names['b']}")

    def set_from_dataset(self, end: str, file_index: int) -> None:
        """The mean latent of the clips of dataset file ``file_index``."""
        renderer = self.instrument.renderer
        analysis = renderer.analysis if renderer is not None else None
        if analysis is None or not 0 <= file_index < len(analysis.files):
            return
        mask = analysis.clip_files == file_index
        if not bool(mask.any()):
            self._say(f"{analysis.files[file_index]} has no clips in the model's analysis")
            return
        self.set_end(end, analysis.clip_latents[mask].mean(dim=0), analysis.files[file_index])

    def set_from_current(self, end: str) -> None:
        state = self.instrument.state
        if state is not None:
            self.set_end(end, state.latent, "current point")

    def encode_file(self, end: str, path: Path) -> None:
        """Encode ``path`` on a worker thread; the slot changes when it succeeds."""
        renderer = self.instrument.renderer
        if renderer is None:
            self._say("Open a model before dropping sounds on the morph")
            return
        previous = self._workers.pop(end, None)
        if previous is not None:
            previous.cancel()  # a newer drop on the same slot wins
        worker = EncodeWorker(renderer, Path(path), end, self)
        worker.finished.connect(self._on_encoded)
        worker.errored.connect(lambda text, worker=worker: self._on_encode_failed(worker, text))
        self._workers[end] = worker
        self.slots[end].show_name(f"encoding {worker.path.name}…")
        worker.start()

    def shutdown(self) -> None:
        """Cancel and join encodings still running (the window closes)."""
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()

    # ------------------------------------------------------------------ slots
    def _on_encoded(self, result: Encoded) -> None:
        worker = self._workers.get(result.slot)
        if worker is None or worker.path != result.path:
            return  # replaced by a newer drop
        del self._workers[result.slot]
        if worker.renderer is not self.instrument.renderer:
            return  # another model was opened meanwhile
        self.set_end(result.slot, result.latent, result.path.name)
        self._say(f"{result.path.name} encoded as morph end {result.slot.upper()}")

    def _on_encode_failed(self, worker: EncodeWorker, text: str) -> None:
        if self._workers.get(worker.slot) is worker:
            del self._workers[worker.slot]
        self.slots[worker.slot].show_name(self.names.get(worker.slot, "(empty)"))
        self._say(f"{worker.path.name} could not be used: {text}")

    def _on_slider(self, value: int) -> None:
        if self.has_both:
            self.instrument.set_morph(value / STEPS)

    def _on_latent(self, _latent: object, source: str) -> None:
        if source == "open":
            self._sync_model(reopened=True)
        elif source == "preset":
            self._follow_state()

    def _sync_model(self, reopened: bool = False) -> None:
        """A model was opened (or closed): the ends belong to the previous one."""
        renderer = self.instrument.renderer
        self.setEnabled(self.instrument.state is not None)
        if renderer is self._model and not reopened:
            return
        self._model = renderer
        self._latents.clear()
        self.names.clear()
        files = renderer.analysis.files if renderer is not None and renderer.analysis is not None else ()
        for slot in self.slots.values():
            slot.set_files(files)
            slot.show_name("(empty)")
        self.slider.setEnabled(False)

    def _follow_state(self) -> None:
        """A preset recalled its morph ends: show them (the instrument already has them)."""
        state = self.instrument.state
        if state is None:
            return
        for end in ENDS:
            latent = getattr(state, f"morph_{end}")
            if latent is not None and not (end in self._latents and torch.equal(self._latents[end], latent)):
                self._latents[end] = latent.clone()
                self.names[end] = "from preset"
                self.slots[end].show_name("from preset")
        self.slider.setEnabled(self.has_both)
        self.slider.blockSignals(True)
        self.slider.setValue(round(state.morph_position * STEPS))
        self.slider.blockSignals(False)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)
