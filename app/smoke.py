"""``distill-studio --smoke-test``: the whole studio, offscreen, in a few seconds.

Builds the real window (temporary settings, cache and model folders), loads the built-in
demo dataset through the Dataset panel's worker, starts training from the Train panel,
stops after the first optimiser step (the run saves its model, as Stop always does),
opens the model in Explore (loaded in a worker) and waits for its real-time render thread to
warm up, closes the window, prints ``ok`` and returns 0. Anything else
prints what failed and returns 1. The packaging check runs it on the frozen app.
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

TIMEOUT_MS = 300_000


def wait_for(signal, timeout_ms: int = TIMEOUT_MS, accept=lambda *args: True) -> tuple:
    """Run the event loop until ``signal`` fires with arguments ``accept`` likes."""
    loop, received = QEventLoop(), []
    timer = QTimer(singleShot=True, interval=timeout_ms)

    def on_signal(*args):
        if accept(*args):
            received.append(args)
            loop.quit()

    signal.connect(on_signal)
    timer.timeout.connect(loop.quit)
    timer.start()
    loop.exec()
    signal.disconnect(on_signal)
    if not received:
        raise TimeoutError(f"no {signal} within {timeout_ms / 1000:.0f} s")
    return received[0]


def run_smoke_test(app: QApplication) -> int:
    from app.main_window import MainWindow
    from app.services.audio_controller import AudioController
    from app.services.settings import AppSettings
    from distill.models import load_model
    from distill.training.events import StepProgress

    with tempfile.TemporaryDirectory(prefix="distill-smoke-") as tmp:
        root = Path(tmp)
        window = None
        try:
            window = MainWindow(settings=AppSettings(root / "settings.ini"), audio=AudioController(),
                                cache_dir=root / "cache", models_dir=root / "models",
                                checkpoint_dir=root / "checkpoints", load_demo=False)
            window.show()
            window.load_demo_dataset()
            (cache,) = wait_for(window.dataset_panel.datasetLoaded)
            print(f"dataset: {len(cache.files)} files, {cache.report.summary.clips} clips", flush=True)
            errors: list[str] = []
            window.train_panel.errorOccurred.connect(errors.append)
            if not window.train_panel.start():
                raise RuntimeError("the Train panel did not start")
            wait_for(window.train_panel.trainingEvent, accept=lambda e: isinstance(e, StepProgress))
            window.train_panel.stop()
            (model_path,) = wait_for(window.modelOpened)
            if errors:
                raise RuntimeError(errors[0])
            loaded = load_model(model_path)
            print(f"model: {Path(model_path).name}, {loaded.model.num_parameters():,} parameters",
                  flush=True)
            instrument = window.explore_panel.instrument
            if not instrument.ready:  # the real-time render thread warms up after the model shows
                wait_for(instrument.readyChanged, accept=bool)
            print(f"instrument: ready, {instrument.renderer.latent_dim}-d latent", flush=True)
            window.close()
            window = None
        except Exception:
            traceback.print_exc()
            print("smoke test FAILED", file=sys.stderr)
            return 1
        finally:
            if window is not None:
                window.train_panel.shutdown()
                window.dataset_panel.shutdown()
                window.explore_panel.shutdown()
    print("ok", flush=True)
    return 0
