"""Presets of the open model: save, recall, rename, delete (``distill.latent.presets``).

``PresetsWidget`` lists the ``PresetStore`` of the model the instrument plays (one JSON file
per model in the user data folder, keyed by the model's identity, so the presets survive a
restart and follow a moved model file). Save asks a name and stores the point (its full
latent, the slider values, the mode and the morph's ends when both are set); double-click or
Enter recalls a preset; F2 or the context menu renames; Del deletes after a confirmation.
A ``PresetError`` (empty or taken name) is shown as a message, never raised.

GUI thread only (the store is not thread-safe; this widget is its one owner).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.instrument import InstrumentController
from distill.latent.presets import Preset, PresetError, PresetStore

log = logging.getLogger(__name__)


class PresetsWidget(QWidget):
    """The open model's presets (see the module docstring).

    Parameters
    ----------
    instrument
        The instrument whose point is saved and recalled.
    folder
        Where preset files live (default: the user data folder).

    Signals
    -------
    message(str)
        Something for the status bar (saved, recalled, an error).
    """

    message = Signal(str)

    def __init__(self, instrument: InstrumentController, folder: str | Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.instrument = instrument
        self.folder = folder
        self.store: PresetStore | None = None
        self._model: object = None  # the renderer the store belongs to
        self.list = QListWidget(self)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.itemActivated.connect(lambda item: self.recall(item.text()))
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.installEventFilter(self)  # F2 renames, Del deletes (Enter is itemActivated)
        self.save_button = QPushButton("Save…", self)
        self.save_button.setToolTip("Save the current point as a preset")
        self.save_button.clicked.connect(lambda: self.save())
        self.recall_button = QPushButton("Recall", self)
        self.recall_button.clicked.connect(lambda: self._with_selected(self.recall))
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.recall_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        instrument.latentChanged.connect(self._on_latent)
        instrument.readyChanged.connect(lambda _ready: self._sync_model())
        self._sync_model()

    # ------------------------------------------------------------------ actions
    def save(self, name: str | None = None) -> Preset | None:
        """Store the current point as ``name`` (asked for when None); None if not saved."""
        state = self.instrument.state
        if self.store is None or state is None:
            return None
        if name is None:
            name = self._ask_text("Save preset", "Name of the new preset:", "")
            if name is None:
                return None
        morph = None
        if state.has_morph:
            morph = (state.morph_a.tolist(), state.morph_b.tolist(), state.morph_position)
        fields = dict(controls=state.controls().tolist(), mode=self.instrument.mode, morph=morph)
        try:
            preset = self.store.save(name, state.latent.tolist(), **fields)
        except PresetError as exc:
            taken = " ".join(name.split())
            if taken not in self.store.names or not self._confirm(f"Replace the preset {taken!r}?"):
                self._say(str(exc))
                return None
            preset = self.store.save(name, state.latent.tolist(), overwrite=True, **fields)
        self._refresh(select=preset.name)
        self._say(f"Saved preset {preset.name!r}")
        return preset

    def recall(self, name: str) -> None:
        """Go to preset ``name``: its mode, its morph's ends, then its exact point."""
        if self.store is None or self.instrument.state is None:
            return
        try:
            preset = self.store.get(name)
        except PresetError as exc:
            self._say(str(exc))
            return
        self.instrument.set_mode(preset.mode)
        if preset.morph is not None:
            a, b, position = preset.morph
            self.instrument.set_morph_end("a", a)
            self.instrument.set_morph_end("b", b)
            # Where the morph slider shows the point; the point itself is the preset's latent.
            self.instrument.state.morph_position = position
        self.instrument.set_latent(preset.latent, source="preset")
        self._say(f"Recalled preset {preset.name!r}")

    def rename(self, old: str, new: str | None = None) -> Preset | None:
        """Rename preset ``old`` (the new name is asked for when None)."""
        if self.store is None:
            return None
        if new is None:
            new = self._ask_text("Rename preset", f"New name for {old!r}:", old)
            if new is None:
                return None
        try:
            preset = self.store.rename(old, new)
        except PresetError as exc:
            self._say(str(exc))
            return None
        self._refresh(select=preset.name)
        self._say(f"Renamed {old!r} to {preset.name!r}")
        return preset

    def delete(self, name: str, confirm: bool = True) -> bool:
        """Delete preset ``name`` (after a confirmation unless ``confirm`` is False)."""
        if self.store is None:
            return False
        if confirm and not self._confirm(f"Delete the preset {name!r}?"):
            return False
        try:
            self.store.delete(name)
        except PresetError as exc:
            self._say(str(exc))
            return False
        self._refresh()
        self._say(f"Deleted preset {name!r}")
        return True

    # ------------------------------------------------------------------ dialogs (modal)
    def _ask_text(self, title: str, label: str, text: str) -> str | None:
        value, ok = QInputDialog.getText(self, title, label, text=text)
        return value if ok else None

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Presets", question)
        return answer == QMessageBox.StandardButton.Yes

    # ------------------------------------------------------------------ internals
    def _with_selected(self, action) -> None:
        item = self.list.currentItem()
        if item is not None:
            action(item.text())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.list and event.type() == QEvent.Type.KeyPress:
            key = QKeyEvent(event)
            if key.key() == Qt.Key.Key_F2:
                self._with_selected(self.rename)
                return True
            if key.matches(QKeySequence.StandardKey.Delete) or key.key() == Qt.Key.Key_Backspace:
                self._with_selected(self.delete)
                return True
        return super().eventFilter(watched, event)

    def _context_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction("Recall", lambda: self.recall(item.text()))
        menu.addAction("Rename…", lambda: self.rename(item.text()))
        menu.addAction("Delete…", lambda: self.delete(item.text()))
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def _on_latent(self, _latent: object, source: str) -> None:
        if source == "open":
            self._sync_model()

    def _sync_model(self) -> None:
        """Open the store of the instrument's model (or none without a model file)."""
        renderer = self.instrument.renderer
        if renderer is not self._model:
            self._model = renderer
            self.store = None
            if renderer is not None and renderer.path is not None:
                self.store = PresetStore.for_model(renderer.path, renderer.latent_dim, folder=self.folder)
            self._refresh()
        usable = self.store is not None and self.instrument.state is not None
        self.setEnabled(usable)
        if renderer is not None and renderer.path is None:
            self.status.setText("This model has no file, so it cannot keep presets")

    def _refresh(self, select: str | None = None) -> None:
        self.list.clear()
        for preset in self.store or ():
            item = QListWidgetItem(preset.name, self.list)
            morph = ", with morph" if preset.morph else ""
            item.setToolTip(f"{preset.mode}, saved {preset.created}{morph}")
            if preset.name == select:
                self.list.setCurrentItem(item)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)
