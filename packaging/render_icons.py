"""Render the app icon's PNGs from ``resources/icons/distill-studio.svg`` with Qt.

The SVG is the source; the PNGs are what the window, the ``.desktop`` entry and the
bundle use (a PNG needs no SVG image plugin at run time); the Windows executable's
``.ico`` is packed from four of them by ImageMagick's ``convert`` when it is installed.
Run it after editing the SVG: ``.venv/bin/python packaging/render_icons.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"
SOURCE = ICON_DIR / "distill-studio.svg"
#: Sizes the desktop environments ask for (hicolor theme) and the window icon's 256 px.
SIZES = (16, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 32, 48, 256)


def render(size: int) -> Path:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(SOURCE)).render(painter)
    painter.end()
    path = ICON_DIR / f"distill-studio-{size}.png"
    if not image.save(str(path)):
        raise OSError(f"cannot write {path}")
    return path


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    for size in SIZES:
        print(render(size))
    if shutil.which("convert"):
        ico = ICON_DIR / "distill-studio.ico"
        subprocess.run(["convert", *(str(ICON_DIR / f"distill-studio-{s}.png") for s in ICO_SIZES),
                        str(ico)], check=True)
        print(ico)
    return 0


if __name__ == "__main__":
    sys.exit(main())
