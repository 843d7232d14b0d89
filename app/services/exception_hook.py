"""Unexpected errors: logged to a file in the user log dir, shown once as a dialog.

``install(window)`` replaces ``sys.excepthook`` and ``threading.excepthook``. An error in a
slot would otherwise be printed and forgotten (or abort the app); here it is written with
its traceback to ``<user log dir>/distill-studio.log`` and reported in a dialog — one at a
time: errors arriving while the dialog is open are only logged, so a failing paint event
cannot flood the screen. Any thread may raise; the dialog is always shown on the main thread.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path

import platformdirs
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)


def log_file() -> Path:
    return Path(platformdirs.user_log_dir("distill-studio")) / "distill-studio.log"


def setup_file_logging(level: int = logging.INFO) -> Path:
    """Send the root logger to the rotating log file (and keep warnings on stderr)."""
    path = log_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    if not any(isinstance(h, RotatingFileHandler) for h in root.handlers):
        handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    return path


class ExceptionReporter(QObject):
    """Receives exceptions from any thread; shows one dialog at a time on the main thread."""

    reported = Signal(str, str)  # summary, details

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__()
        self._parent = parent_widget
        self._showing = False
        self.count = 0
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def handle(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        self.count += 1
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error:\n%s", details)
        self.reported.emit(f"{exc_type.__name__}: {exc}", details)

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        if self._showing:
            return
        self._showing = True
        try:
            box = QMessageBox(self._parent)
            box.setIcon(QMessageBox.Icon.Critical)
            box.setWindowTitle("Unexpected error")
            box.setText("Something went wrong. Your work is safe; the error was written to "
                        f"the log:\n{log_file()}")
            box.setInformativeText(summary)
            box.setDetailedText(details)
            box.exec()
        finally:
            self._showing = False


def install(parent_widget: QWidget | None = None) -> ExceptionReporter:
    """Route uncaught exceptions (main and other threads) to an ``ExceptionReporter``."""
    reporter = ExceptionReporter(parent_widget)
    sys.excepthook = reporter.handle
    threading.excepthook = lambda args: reporter.handle(args.exc_type, args.exc_value, args.exc_traceback)
    return reporter
