"""A calm dark theme for long sessions: Fusion style, a muted palette, one accent colour.

Colours live in one place (``PALETTE``) and are used by the stylesheet (resources/style.qss,
placeholders like ``@accent``) and by plots (``plot_colors``). HiDPI: Qt 6 scales by itself;
sizes in the stylesheet are in device-independent pixels.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.services.resources import stylesheet

PALETTE = {
    "window": "#1e2126",
    "base": "#16181c",
    "alt": "#23272e",
    "panel": "#262a31",
    "text": "#d7dae0",
    "muted": "#8a909c",
    "accent": "#e0a050",
    "accent2": "#5fb3b3",
    "warn": "#e06c75",
    "ok": "#98c379",
    "border": "#343943",
}

#: Loss-curve colours, one per loss term (train solid, validation dashed).
TERM_COLORS = {
    "total": "#d7dae0",
    "magnitude": "#e0a050",
    "instantaneous_frequency": "#5fb3b3",
    "stft": "#c678dd",
    "level": "#61afef",
    "kl": "#98c379",
}


def apply_theme(app: QApplication) -> None:
    """Fusion style, dark palette, the stylesheet, and pyqtgraph defaults to match."""
    app.setStyle("Fusion")
    p = QPalette()
    c = {k: QColor(v) for k, v in PALETTE.items()}
    roles = {
        QPalette.ColorRole.Window: c["window"], QPalette.ColorRole.WindowText: c["text"],
        QPalette.ColorRole.Base: c["base"], QPalette.ColorRole.AlternateBase: c["alt"],
        QPalette.ColorRole.ToolTipBase: c["panel"], QPalette.ColorRole.ToolTipText: c["text"],
        QPalette.ColorRole.Text: c["text"], QPalette.ColorRole.Button: c["panel"],
        QPalette.ColorRole.ButtonText: c["text"], QPalette.ColorRole.Highlight: c["accent"],
        QPalette.ColorRole.HighlightedText: c["base"], QPalette.ColorRole.Link: c["accent2"],
        QPalette.ColorRole.PlaceholderText: c["muted"],
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, c["muted"])
    app.setPalette(p)
    qss = stylesheet()
    for name, value in PALETTE.items():
        qss = qss.replace(f"@{name}", value)
    app.setStyleSheet(qss)
    pg.setConfigOptions(background=PALETTE["base"], foreground=PALETTE["muted"], antialias=True,
                        imageAxisOrder="row-major")
