"""Unexpected errors: logged with their traceback, shown to the user once at a time."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox

from app.services.exception_hook import ExceptionReporter, log_file, setup_file_logging


def test_unexpected_errors_are_logged_and_shown_once(qtbot, monkeypatch):
    setup_file_logging()
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.informativeText()) or 0)
    reporter = ExceptionReporter()
    reporter._showing = True  # a dialog is open: more errors are logged, not stacked
    try:
        raise ValueError("first")
    except ValueError as exc:
        reporter.handle(type(exc), exc, exc.__traceback__)
    qtbot.wait(50)
    assert shown == []
    reporter._showing = False
    try:
        raise RuntimeError("second")
    except RuntimeError as exc:
        reporter.handle(type(exc), exc, exc.__traceback__)
    qtbot.waitUntil(lambda: shown == ["RuntimeError: second"])
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file().read_text()
    assert "ValueError: first" in text and "RuntimeError: second" in text
