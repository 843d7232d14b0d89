"""CheckpointListWidget: the checkpoints training has written, to reveal or resume from.

Fed by the panel from ``CheckpointSaved`` events (newest first). A run keeps only its
newest few checkpoints (``keep_checkpoints``): entries whose file is gone are dropped
whenever one is added. Double-click reveals the checkpoint's folder; "Resume from this
checkpoint" asks the panel (``resumeRequested``) to continue the run it belongs to.

GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

PATH_ROLE = Qt.ItemDataRole.UserRole


def reveal_in_file_manager(path: Path) -> bool:
    """Open the folder holding ``path`` in the desktop's file manager."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))


class CheckpointListWidget(QWidget):
    """The list, "Show folder" and "Resume from this checkpoint".

    Signals
    -------
    resumeRequested(object)
        The ``Path`` of the checkpoint to continue from.
    """

    resumeRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._resume_allowed = False
        self.list = QListWidget(self)
        self.list.setAccessibleName("Checkpoints")
        self.list.setToolTip("Checkpoints of the runs so far; double-click shows the folder")
        self.list.itemDoubleClicked.connect(lambda item: reveal_in_file_manager(item.data(PATH_ROLE)))
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.reveal_button = QPushButton("Show folder", self)
        self.reveal_button.clicked.connect(self.reveal_selected)
        self.resume_button = QPushButton("Resume from this checkpoint", self)
        self.resume_button.setToolTip("Continue that run where the checkpoint left it (with its "
                                      "settings; more epochs may be given)")
        self.resume_button.clicked.connect(self._on_resume)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reveal_button)
        buttons.addWidget(self.resume_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    # ------------------------------------------------------------------ public
    def add_checkpoint(self, path: Path, epoch: int, step: int) -> None:
        """List a new checkpoint at the top and select it; forget those deleted since."""
        path = Path(path)
        item = QListWidgetItem(f"epoch {epoch} · step {step}")  # the full path is the tooltip
        item.setData(PATH_ROLE, path)
        item.setToolTip(str(path))
        self.list.insertItem(0, item)
        self.prune()
        self.list.setCurrentItem(item)

    def prune(self) -> None:
        """Drop entries whose file no longer exists (older checkpoints are rotated away)."""
        for row in reversed(range(self.list.count())):
            if not Path(self.list.item(row).data(PATH_ROLE)).exists():
                self.list.takeItem(row)
        self._update_buttons()

    def paths(self) -> list[Path]:
        """Listed checkpoints, newest first."""
        return [Path(self.list.item(row).data(PATH_ROLE)) for row in range(self.list.count())]

    def selected_path(self) -> Path | None:
        item = self.list.currentItem()
        return None if item is None else Path(item.data(PATH_ROLE))

    def set_resume_allowed(self, allowed: bool) -> None:
        """Resuming is possible only while no run is going and a dataset is loaded."""
        self._resume_allowed = allowed
        self._update_buttons()

    @Slot()
    def reveal_selected(self) -> None:
        path = self.selected_path()
        if path is not None:
            reveal_in_file_manager(path)

    # ------------------------------------------------------------------ internals
    @Slot()
    def _on_resume(self) -> None:
        path = self.selected_path()
        if path is not None and self._resume_allowed:
            self.resumeRequested.emit(path)

    def _update_buttons(self) -> None:
        selected = self.list.currentItem() is not None
        self.reveal_button.setEnabled(selected)
        self.resume_button.setEnabled(selected and self._resume_allowed)
