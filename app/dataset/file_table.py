"""The dataset's file table: one row per ``FileEntry``, sortable, skipped rows marked.

``FileTableModel`` holds the entries in arrival order (rows are appended as the build
reports files); ``FileTableView`` shows them through a sorting proxy. Skipped rows are
drawn in the theme's muted text colour with a warning icon, and their status says
"skipped: <reason>" in words, so the mark never relies on colour alone. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QKeyEvent, QPalette
from PySide6.QtWidgets import QAbstractItemView, QApplication, QHeaderView, QStyle, QTableView, QWidget

from distill.data.report import FileEntry, clock

COLUMNS = ("File", "Duration", "Sample rate", "Channels", "Clips", "Status")
FILE, DURATION, SAMPLE_RATE, CHANNELS, CLIPS, STATUS = range(len(COLUMNS))
#: Role of the raw value a column sorts by (numbers sort as numbers).
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
#: Role of the row's ``FileEntry``.
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 2

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_Index = QModelIndex | QPersistentModelIndex


def status_text(entry: FileEntry) -> str:
    if not entry.ok:
        return f"skipped: {entry.reason or 'unknown reason'}"
    return f"ok — {entry.note}" if entry.note else "ok"


def rate_text(sample_rate: int | None) -> str:
    return "—" if sample_rate is None else f"{sample_rate / 1000:g} kHz"


class FileTableModel(QAbstractTableModel):
    """Rows of ``FileEntry``; ``append`` as events arrive, ``set_entries`` for a final report."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._entries: list[FileEntry] = []
        self._warning_icon = None

    @property
    def entries(self) -> tuple[FileEntry, ...]:
        return tuple(self._entries)

    def entry(self, row: int) -> FileEntry:
        return self._entries[row]

    def clear(self) -> None:
        self.beginResetModel()
        self._entries.clear()
        self.endResetModel()

    def append(self, entry: FileEntry) -> None:
        row = len(self._entries)
        self.beginInsertRows(QModelIndex(), row, row)
        self._entries.append(entry)
        self.endInsertRows()

    def set_entries(self, entries: Iterable[FileEntry]) -> None:
        """Show ``entries``; rows already there for the same files are updated in place
        (selection and scroll position survive the final report replacing the live rows)."""
        entries = list(entries)
        if [e.relpath for e in entries] == [e.relpath for e in self._entries]:
            self._entries = entries
            if entries:
                self.dataChanged.emit(self.index(0, 0), self.index(len(entries) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._entries = entries
        self.endResetModel()

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's API)
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        entry, column = self._entries[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(entry, column)
        if role == SORT_ROLE:
            return _sort_key(entry, column)
        if role == ENTRY_ROLE:
            return entry
        if role == Qt.ItemDataRole.ToolTipRole:
            detail = entry.reason if not entry.ok else entry.note
            return f"{entry.path}\n{status_text(entry)}" if detail else str(entry.path)
        if role == Qt.ItemDataRole.ForegroundRole and not entry.ok:
            return QApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        if role == Qt.ItemDataRole.DecorationRole and column == FILE and not entry.ok:
            if self._warning_icon is None:
                self._warning_icon = QApplication.style().standardIcon(
                    QStyle.StandardPixmap.SP_MessageBoxWarning)
            return self._warning_icon
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (DURATION, SAMPLE_RATE, CHANNELS, CLIPS):
            return int(_RIGHT)
        return None


def _display(entry: FileEntry, column: int) -> str:
    if column == FILE:
        return entry.relpath
    if column == DURATION:
        return "—" if entry.duration is None else clock(entry.duration, decimals=2)
    if column == SAMPLE_RATE:
        return rate_text(entry.sample_rate)
    if column == CHANNELS:
        return "—" if entry.channels is None else str(entry.channels)
    if column == CLIPS:
        return str(entry.clips) if entry.ok else "—"
    return status_text(entry)


def _sort_key(entry: FileEntry, column: int):
    if column == FILE:
        return entry.relpath.lower()
    if column == DURATION:
        return -1.0 if entry.duration is None else entry.duration
    if column == SAMPLE_RATE:
        return entry.sample_rate or -1
    if column == CHANNELS:
        return entry.channels or -1
    if column == CLIPS:
        return entry.clips
    return f"{0 if entry.ok else 1} {status_text(entry).lower()}"


class FileTableView(QTableView):
    """Sortable, single-row-selection view of a ``FileTableModel``.

    Space and Escape are left to the parent (play / stop), not used for selection.
    """

    def __init__(self, model: FileTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_model = model
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(model)
        self.proxy.setSortRole(SORT_ROLE)
        self.setModel(self.proxy)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setSortingEnabled(True)
        self.sortByColumn(FILE, Qt.SortOrder.AscendingOrder)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(FILE, QHeaderView.ResizeMode.Interactive)
        for column in (DURATION, SAMPLE_RATE, CHANNELS, CLIPS):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        header.resizeSection(FILE, self.fontMetrics().horizontalAdvance("M" * 22))  # HiDPI-safe
        self.setAccessibleName("Files of the dataset")

    def entry_at(self, index: QModelIndex) -> FileEntry | None:
        """The entry of a (proxy) index, or None."""
        return index.data(ENTRY_ROLE) if index.isValid() else None

    def select_row_of(self, relpath: str) -> bool:
        """Select the row of ``relpath`` (as shown, whatever the sort). False if absent."""
        for row in range(self.proxy.rowCount()):
            entry = self.entry_at(self.proxy.index(row, 0))
            if entry is not None and entry.relpath == relpath:
                self.selectRow(row)
                return True
        return False

    def visible_entries(self) -> Sequence[FileEntry]:
        """Entries in the order the view shows them."""
        return [self.entry_at(self.proxy.index(row, 0)) for row in range(self.proxy.rowCount())]

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Escape) and not event.modifiers():
            event.ignore()  # the panel plays / stops
            return
        super().keyPressEvent(event)
