"""Small dialogs and helpers of the main window: About, keyboard shortcuts, safe copies."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from distill import __version__
from distill.fileio import write_atomically

SHORTCUTS = (
    ("Ctrl+O", "Open a dataset folder"),
    ("Ctrl+Shift+O", "Open a model"),
    ("Ctrl+Shift+S", "Save the model as…"),
    ("Space", "Play / stop the selected sound"),
    ("Esc", "Stop playback"),
    ("Ctrl+Return", "Start training"),
    ("Ctrl+P", "Pause / resume training"),
    ("Ctrl+.", "Stop training (keeps what was trained)"),
    ("F1", "This list"),
    ("Ctrl+Q", "Quit"),
)


def versions() -> list[tuple[str, str]]:
    """Versions of the pieces a bug report needs."""
    import numpy
    import pyqtgraph
    import PySide6
    import torch

    try:
        import sounddevice

        portaudio = sounddevice.get_portaudio_version()[1]
        sd_version = sounddevice.__version__
    except OSError:
        portaudio, sd_version = "not available", "-"
    return [("distill-studio", __version__), ("Python", platform.python_version()),
            ("PyTorch", torch.__version__), ("PySide6 (Qt)", PySide6.__version__),
            ("pyqtgraph", pyqtgraph.__version__), ("NumPy", numpy.__version__),
            ("sounddevice", sd_version), ("PortAudio", portaudio),
            ("System", f"{platform.system()} {platform.release()} ({platform.machine()})")]


def show_about(parent: QWidget) -> None:
    rows = "".join(f"<tr><td>{name}</td><td>&nbsp;&nbsp;{value}</td></tr>" for name, value in versions())
    QMessageBox.about(parent, "About distill-studio",
                      "<h3>distill-studio</h3><p>Train a generative model on your own sounds, "
                      f"then play its latent space.</p><table>{rows}</table>")


def show_shortcuts(parent: QWidget) -> None:
    rows = "".join(f"<tr><td><b>{keys}</b></td><td>&nbsp;&nbsp;{what}</td></tr>" for keys, what in SHORTCUTS)
    QMessageBox.information(parent, "Keyboard shortcuts", f"<table>{rows}</table>")


def copy_file_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temporary file: never a half-written target."""
    if source.resolve() == target.resolve():
        return
    with source.open("rb") as src:
        write_atomically(target, lambda dst: shutil.copyfileobj(src, dst, 1 << 20))
