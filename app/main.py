"""Entry point of distill-studio.

``distill-studio [PATH ...] [--dataset FOLDER] [--model FILE]`` opens the window: a
``.distill`` PATH opens that model in Explore, any other PATHs (folders, audio files) load
as one dataset, as a drop would — what a file manager or the ``.desktop`` entry passes.
Without any, the demo dataset is loaded on the first start and the last session after.
``distill-studio --smoke-test`` starts offscreen, loads the demo
dataset through the window, runs one training step, prints ``ok`` and exits 0 — what the
packaging check runs on the frozen app (see ``app.smoke``). ``--startup-time`` opens the
window, prints ``window shown`` once it is on screen and quits (packaging/startup_time.py).
``distill-studio --cli ARGS`` is the ``distill`` command: the bundle's second entry point.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import distill  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads OpenMP)

log = logging.getLogger(__name__)
_STARTED = time.perf_counter()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="distill-studio", description="Train a model on your "
                                     "own sounds and play its latent space.")
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="a model file (.distill) to open, or folders/audio files to load as a dataset")
    parser.add_argument("--dataset", type=Path, help="open this folder of sounds")
    parser.add_argument("--model", type=Path, help="open this model file")
    parser.add_argument("--smoke-test", action="store_true",
                        help="offscreen: load the demo dataset, train one step, print ok")
    parser.add_argument("--startup-time", action="store_true",
                        help="open the window, print when it is shown, quit")
    parser.add_argument("--verbose", action="store_true", help="log debugging detail")
    args, _qt_args = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--cli"]:  # the frozen bundle's `distill` (one executable, two entry points)
        from distill.cli import main as cli_main

        return cli_main(argv[1:])
    args = parse_args(argv)
    if args.smoke_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from app.services.exception_hook import setup_file_logging
    from app.services.gc_guard import MainThreadCollector
    from app.services.resources import resource_root
    from app.services.settings import APPLICATION, ORGANIZATION
    from app.services.theme import apply_theme
    from distill.threads import apply_thread_policy

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    log_path = setup_file_logging(logging.DEBUG if args.verbose else logging.INFO)
    apply_thread_policy()
    apply_theme(app)
    collector = MainThreadCollector(app)  # Qt objects die on the GUI thread only
    app.setWindowIcon(QIcon(str(resource_root() / "icons" / "distill-studio-256.png")))
    if args.smoke_test:
        from app.smoke import run_smoke_test

        return run_smoke_test(app)

    from app.workers import close_all

    try:
        window = start_window(args)
    except Exception as exc:  # never a silent exit 1: the log and a dialog say why
        report_startup_failure(exc, log_path)
        close_all()
        return 1
    # Rest points for the collector: once the window is up, and whenever the instrument is
    # warm (a model opened) — never a full collection while it plays.
    QTimer.singleShot(0, collector.settle)
    window.explore_panel.instrument.readyChanged.connect(collector.settle)
    if args.startup_time:
        def report_shown() -> None:  # the event loop runs it once the window is on screen
            print(f"window shown {time.perf_counter() - _STARTED:.2f} s after app.main was imported",
                  flush=True)
            window.close()

        QTimer.singleShot(0, report_shown)
    code = app.exec()
    close_all()  # a safety net: the window joins its workers when it closes
    return code


def start_window(args: argparse.Namespace):
    """Build, show and fill the main window (settings restored, the files asked for opened)."""
    from app.main_window import MainWindow
    from app.services.exception_hook import install
    from distill.constants import MODEL_SUFFIX

    window = MainWindow()
    install(window)
    log.info("distill-studio starting")
    window.audio.start()
    window.show()
    models = [p for p in args.paths if p.suffix.lower() == MODEL_SUFFIX]
    sounds = [p for p in args.paths if p.suffix.lower() != MODEL_SUFFIX]
    models += [args.model] if args.model else []
    sounds += [args.dataset] if args.dataset else []
    if sounds:
        window.load_paths(sounds)
    if models:
        window.open_model(models[-1])
    return window


def report_startup_failure(exc: BaseException, log_path: Path) -> None:
    """Log a start-up failure with its traceback and show it in a dialog (main thread)."""
    import traceback

    from PySide6.QtWidgets import QMessageBox

    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    log.error("distill-studio could not start:\n%s", details)
    print(f"distill-studio could not start: {type(exc).__name__}: {exc} (log: {log_path})",
          file=sys.stderr)
    box = QMessageBox()
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle("distill-studio could not start")
    box.setText(f"distill-studio could not start. The error was written to the log:\n{log_path}")
    box.setInformativeText(f"{type(exc).__name__}: {exc}")
    box.setDetailedText(details)
    box.exec()


if __name__ == "__main__":
    sys.exit(main())
