"""Where the studio's resources live: the source tree, or the PyInstaller bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_root() -> Path:
    """The ``resources/`` folder (``sys._MEIPASS/resources`` in a frozen app)."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def demo_dataset() -> Path:
    """The built-in demo dataset: sounds the project synthesises itself."""
    return resource_root() / "demo"


def stylesheet() -> str:
    path = resource_root() / "style.qss"
    return path.read_text(encoding="utf-8") if path.exists() else ""
