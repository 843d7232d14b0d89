"""Entry point of distill-studio.

``distill-studio [--dataset FOLDER] [--model FILE]`` opens the window (the demo dataset is
loaded on first start). ``distill-studio --smoke-test`` starts offscreen, loads the demo
dataset through the window, runs one training step, prints ``ok`` and exits 0 — what the
packaging check runs on the frozen app (see ``app.smoke``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import distill  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads OpenMP)

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="distill-studio", description="Train a model on your "
                                     "own sounds and play its latent space.")
    parser.add_argument("--dataset", type=Path, help="open this folder of sounds")
    parser.add_argument("--model", type=Path, help="open this model file")
    parser.add_argument("--smoke-test", action="store_true",
                        help="offscreen: load the demo dataset, train one step, print ok")
    parser.add_argument("--verbose", action="store_true", help="log debugging detail")
    args, _qt_args = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.smoke_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from app.services.exception_hook import install, setup_file_logging
    from app.services.settings import APPLICATION, ORGANIZATION
    from app.services.theme import apply_theme
    from distill.threads import apply_thread_policy

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    log_path = setup_file_logging(logging.DEBUG if args.verbose else logging.INFO)
    apply_thread_policy()
    apply_theme(app)
    if args.smoke_test:
        from app.smoke import run_smoke_test

        return run_smoke_test(app)

    from app.main_window import MainWindow
    from app.workers import close_all

    window = MainWindow()
    install(window)
    log.info("distill-studio starting (log: %s)", log_path)
    window.audio.start()
    window.show()
    if args.dataset:
        window.load_paths([args.dataset])
    if args.model:
        window.open_model(args.model)
    code = app.exec()
    close_all()  # a safety net: the window joins its workers when it closes
    return code


if __name__ == "__main__":
    sys.exit(main())
