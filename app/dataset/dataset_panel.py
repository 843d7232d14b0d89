"""DatasetPanel: load a folder of sounds, see what was found, look at and listen to each file.

The panel is a view: a ``DatasetWorker`` builds the cache (scan, validation, clips) on its
own thread and its signals arrive here, on the GUI thread, through ``@Slot`` methods
(queued); the rows appear as the files are looked at. The selected file is previewed by a
``FilePreviewWidget`` (its own analysis thread). Nothing here computes audio and no worker
touches a widget.

With nothing loaded, the empty page offers the recent datasets that still exist and the
demo (``openRequested`` / ``demoRequested``: the window loads them), and says why the last
session could not be reopened when the window tells it (``show_empty``).

Keys: Space plays/stops the selected file, Escape stops. Loading while a load runs cancels
the running build first (what it cached is kept) and starts the new one when it has stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QItemSelection, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.dataset.file_preview_widget import FilePreviewWidget
from app.dataset.file_table import FileTableModel, FileTableView
from app.services.audio_controller import AudioController
from app.services.resources import demo_dataset
from app.services.settings import AppSettings
from app.workers import DatasetWorker
from distill.data import DatasetCache, FileEntry, FileProcessed, FileSkipped, ScanStarted
from distill.data.gather import DatasetImported

log = logging.getLogger(__name__)

EMPTY_TEXT = ("Drop a folder of sounds here, or File > Open dataset folder…\n\n"
              "WAV, FLAC, OGG, MP3 or AIFF — 5 to 500 of your own recordings work best.")
SPLITTER_KEY = "dataset/splitter"
#: Recent datasets offered on the empty page.
EMPTY_PAGE_RECENT = 5


class DatasetPanel(QWidget):
    """The Dataset tab.

    Parameters
    ----------
    settings
        The studio's settings (the table/preview split is remembered).
    audio
        The studio's audio; ``play`` returning False means no output device.
    parent
        Parent widget.
    cache_dir
        Cache root for ``build_cache`` (None: the user cache dir).

    Signals
    -------
    datasetLoaded(object)
        A build ran to the end with at least one usable file: the ``DatasetCache``.
    busyChanged(bool)
        A build started (True) or ended (False), however it ended.
    message(str)
        Something for the status bar.
    errorOccurred(str)
        A load failed: the message for a dialog.
    openRequested(object)
        A recent dataset was chosen on the empty page: its ``Path``.
    demoRequested()
        "Load the demo dataset" was chosen on the empty page.
    """

    datasetLoaded = Signal(object)
    openRequested = Signal(object)
    demoRequested = Signal()
    busyChanged = Signal(bool)
    message = Signal(str)
    errorOccurred = Signal(str)

    def __init__(self, settings: AppSettings, audio: AudioController, parent: QWidget | None = None,
                 cache_dir: str | Path | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._cache_dir = None if cache_dir is None else Path(cache_dir)
        self._cache: DatasetCache | None = None
        self._worker: DatasetWorker | None = None
        self._pending: list[Path] | None = None  # a load waiting for the running one to stop
        self._busy = False
        self._closed = False
        self.preview = FilePreviewWidget(audio, self)
        self.preview.message.connect(self.message)
        self._build()

    # ------------------------------------------------------------------ public
    @property
    def cache(self) -> DatasetCache | None:
        """The last build that ran to the end with usable files; None while loading, after a
        cancel or a failure, or when no file was usable (the table then says why)."""
        return self._cache

    @property
    def is_busy(self) -> bool:
        return self._busy

    @property
    def entries(self) -> tuple[FileEntry, ...]:
        """Every file listed in the table, in arrival order."""
        return self.model.entries

    def load_paths(self, paths: Sequence[str | Path]) -> None:
        """Load one folder, or several files/folders gathered into a managed folder."""
        paths = [Path(p) for p in paths]
        if self._closed or not paths:
            return
        if self._worker is not None:
            self._pending = paths
            self._worker.cancel()
            self.message.emit("Stopping the current load first…")
            return
        self._start(paths)

    def show_empty(self, notice: str = "") -> None:
        """Show the empty page with the recent datasets as they are now; ``notice`` (e.g.
        that the last dataset is gone) above them. Ignored while a load runs."""
        if self._worker is not None:
            return
        demo = demo_dataset().resolve()
        recent = [Path(p) for p in self._settings.recent("datasets") if Path(p) != demo]
        for button in self.recent_buttons:
            button.setParent(None)
            button.deleteLater()
        self.recent_buttons = []
        for path in recent[:EMPTY_PAGE_RECENT]:
            button = QToolButton(self.empty_page)
            button.setText(f"{path.name}  —  {path.parent}")
            button.setToolTip(f"Load {path} again (its cache makes this quick)")
            button.setAutoRaise(True)
            button.clicked.connect(lambda _=False, p=path: self.openRequested.emit(p))
            self._recent_layout.addWidget(button)
            self.recent_buttons.append(button)
        self.recent_title.setVisible(bool(recent))
        self.notice_label.setText(notice)
        self.notice_label.setVisible(bool(notice))
        self.demo_button.setEnabled(demo.is_dir())
        self.summary_label.setText("No dataset loaded")
        self.summary_label.setToolTip("")
        self.pages.setCurrentWidget(self.empty_page)

    @Slot()
    def cancel(self) -> None:
        """Stop the running build after the current file; what was cached stays cached."""
        self._pending = None
        if self._worker is not None and not self._worker.cancelled:
            self._worker.cancel()
            self.cancel_button.setEnabled(False)
            self.cancel_button.setText("Cancelling…")
            self.message.emit("Cancelling after the current file…")

    def shutdown(self) -> None:
        """Cancel and join the workers and stop playback (the window calls it on close)."""
        if self._closed:
            return
        self._closed = True
        self._pending = None
        self._settings.set_value(SPLITTER_KEY, self.splitter.sizes())
        if self._worker is not None:
            self._worker.cancel()
        self.preview.shutdown()
        if self._worker is not None:
            self._worker.wait()  # never kill a thread mid-write; a build stops between files

    # ------------------------------------------------------------------ building the UI
    def _build(self) -> None:
        self.summary_label = QLabel("No dataset loaded", self)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar(self)
        self.progress.setFormat("%v / %m files")
        self.progress.setAccessibleName("Dataset loading progress")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop after the current file; what was cached is kept")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress.hide()
        self.cancel_button.hide()
        header = QHBoxLayout()
        header.addWidget(self.summary_label, 1)
        header.addWidget(self.progress)
        header.addWidget(self.cancel_button)

        self._build_empty_page()
        self.model = FileTableModel(self)
        self.table = FileTableView(self.model, self)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.preview)
        self.splitter.setChildrenCollapsible(False)
        sizes = self._settings.value(SPLITTER_KEY)
        if not (isinstance(sizes, list) and len(sizes) == 2 and all(isinstance(s, int) for s in sizes)):
            sizes = [400, 600]  # proportions: the splitter scales them to its height
        self.splitter.setSizes(sizes)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.empty_page)
        self.pages.addWidget(self.splitter)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.pages, 1)
        self.setFocusProxy(self.table)
        QWidget.setTabOrder(self.table, self.preview.play_button)
        QWidget.setTabOrder(self.preview.play_button, self.cancel_button)
        self.show_empty()

    def _build_empty_page(self) -> None:
        self.empty_page = QWidget(self)
        self.empty_label = QLabel(EMPTY_TEXT, self.empty_page)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.notice_label = QLabel("", self.empty_page)
        self.notice_label.setProperty("role", "warning")
        self.notice_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.notice_label.setWordWrap(True)
        self.recent_title = QLabel("Recent datasets", self.empty_page)
        self.recent_title.setProperty("role", "caption")
        self.recent_buttons: list[QToolButton] = []
        self._recent_layout = QVBoxLayout()
        self._recent_layout.setSpacing(2)
        self.demo_button = QPushButton("Load the demo dataset", self.empty_page)
        self.demo_button.setToolTip("24 short sounds the studio brings along: bells, drums, noise, "
                                    "plucks and tones")
        self.demo_button.clicked.connect(lambda: self.demoRequested.emit())
        column = QVBoxLayout()
        column.addWidget(self.notice_label)
        column.addWidget(self.empty_label)
        column.addSpacing(16)
        column.addWidget(self.recent_title)
        column.addLayout(self._recent_layout)
        column.addSpacing(12)
        column.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignLeft)
        row = QHBoxLayout(self.empty_page)
        row.addStretch(1)
        row.addLayout(column, 2)
        row.addStretch(1)
        column.insertStretch(0, 1)
        column.addStretch(1)

    # ------------------------------------------------------------------ loading
    def _start(self, paths: list[Path]) -> None:
        self._cache = None
        self.preview.stop_playback()
        self.preview.show_entry(None)
        self.model.clear()
        self.pages.setCurrentWidget(self.splitter)
        name = paths[0].name if len(paths) == 1 else f"{len(paths)} dropped items"
        self.summary_label.setText(f"Loading {name}…")
        self.progress.setRange(0, 0)  # busy indicator until the files are counted
        self.cancel_button.setText("Cancel")
        self.cancel_button.setEnabled(True)
        worker = DatasetWorker(paths, cache_dir=self._cache_dir)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.errored.connect(self._on_failed)
        self._worker = worker
        self._set_busy(True)
        worker.start()

    @Slot(object)
    def _on_progress(self, event: object) -> None:
        if self._closed or self._pending is not None:
            return
        if isinstance(event, DatasetImported):
            self.message.emit(event.describe())
        elif isinstance(event, ScanStarted):
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(0)
            self.summary_label.setText(f"Looking at {event.total} files in {event.folder}…")
        elif isinstance(event, FileProcessed | FileSkipped):
            self.model.append(event.entry)
            self.progress.setValue(event.index + 1)

    @Slot(object)
    def _on_finished(self, cache: DatasetCache) -> None:
        if self._end_worker():
            return
        report = cache.report
        self.model.set_entries(report.entries)
        summary = report.summary
        if report.cancelled:
            text = (f"Cancelled: {summary.describe()} looked at. What was cached is kept "
                    "and reused next time.")
        elif not report.usable_entries:
            text = (f"{report.folder.name} — no usable sounds ({summary.describe()}); "
                    "the Status column says why")
        else:
            self._cache = cache
            text = f"{report.folder.name} — {summary.describe()}"
        self.summary_label.setText(text)
        self.summary_label.setToolTip(str(report.folder))
        self.message.emit(text)
        if self.preview.entry is None and report.usable_entries:
            self.table.select_row_of(report.usable_entries[0].relpath)  # something to see at once
        if self._cache is not None:
            self.datasetLoaded.emit(cache)

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        if self._end_worker():
            return
        self.summary_label.setText(f"Could not load the dataset: {text}")
        self.message.emit(text)
        self.errorOccurred.emit(text)

    def _end_worker(self) -> bool:
        """The build ended: busy off, or start the pending load. True when the result is stale."""
        self._worker = None
        if self._closed:
            return True
        pending, self._pending = self._pending, None
        if pending is not None:
            self._start(pending)  # stays busy: no busyChanged flicker
            return True
        self._set_busy(False)
        return False

    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    # ------------------------------------------------------------------ selection and keys
    @Slot(QItemSelection, QItemSelection)
    def _on_selection(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows and not self._closed:
            self.preview.show_entry(self.table.entry_at(rows[0]))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # The table passes Space/Escape on (see FileTableView), so they work from it too.
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            self.preview.toggle_playback()
        elif event.key() == Qt.Key.Key_Escape:
            self.preview.stop_playback()
        else:
            super().keyPressEvent(event)
