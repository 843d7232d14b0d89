"""Dialogs: what About tells a user (and a bug report) about the installation."""

from __future__ import annotations

from app.services import dialogs


def test_about_lists_versions():
    names = [name for name, _ in dialogs.versions()]
    assert {"distill-studio", "PyTorch", "PySide6 (Qt)", "PortAudio"} <= set(names)
