"""Entry point of distill-studio (the full window is built in app.main_window)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance() or QApplication(sys.argv if argv is None else ["distill-studio", *argv])
    window = QMainWindow()
    window.setWindowTitle("distill-studio")
    window.setCentralWidget(QLabel("distill-studio"))
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
