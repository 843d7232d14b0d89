"""``make screenshots``: the README's pictures of the three panels, taken from the real studio.

Runs the real window on an X server (``make screenshots`` wraps it in ``xvfb-run``) with
every user folder (XDG config, data, cache and state) in a temporary directory, so
nothing of the user's is read or written, and with its own JACK server on the dummy
backend, so Explore plays through a real, paced audio stream without a sound card. Drives
the window the way ``app.smoke`` does and saves, at 1280x800 (``QWidget.grab``):

1. ``dataset.png``: the demo dataset loaded, a file selected (table, magnitude, IF);
2. ``train.png``: a short run on the demo while it trains (loss curves, a preview);
3. ``explore.png``: the model that run wrote, the instrument playing, a slider moved,
   the live view running.

Each PNG is reduced to 256 colours with ImageMagick (``convert``) when it is installed,
which keeps them well under 300 KB. ``python packaging/screenshots.py [OUT] [--epochs N]``;
exits 1 with the reason when a step fails or times out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZE = (1280, 800)
#: The demo file shown in the Dataset shot: a plucked string (partials that drift, a decay).
DATASET_FILE = "pluck_a2.flac"
#: The training shot is taken after this epoch (of ``--epochs``), with a preview shown.
TRAIN_SHOT_EPOCH = 6
TIMEOUT_MS = 300_000


def isolate_user_folders(root: Path) -> None:
    """Point platformdirs and QSettings at ``root`` (before Qt or platformdirs read them)."""
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        folder = root / name.lower()
        folder.mkdir()
        os.environ[f"XDG_{name}_HOME"] = str(folder)


def start_jack(name: str) -> subprocess.Popen | None:
    """A JACK server on the dummy backend named ``name`` (None when JACK is missing or fails:
    the shots are still taken, Explore then says it has no audio output)."""
    if not (shutil.which("jackd") and shutil.which("jack_wait")):
        print("jackd is not installed (apt install jackd2): Explore will be shot without audio")
        return None
    os.environ["JACK_DEFAULT_SERVER"] = name  # PortAudio and jack_wait read it
    proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000",
                             "-p", "256"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True).returncode:
        stop_jack(proc)
        print("jackd did not start: Explore will be shot without audio")
        return None
    return proc


def stop_jack(proc: subprocess.Popen) -> None:
    # SIGTERM, never SIGKILL: a killed jackd keeps one of JACK's server slots until reboot.
    proc.terminate()
    proc.wait(timeout=20)


def settle(ms: int) -> None:
    """Run the event loop for ``ms`` (plots repaint on their own timers)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(predicate, what: str, timeout_ms: int = TIMEOUT_MS) -> None:
    deadline = time.monotonic() + timeout_ms / 1000
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        settle(50)


def save_shot(window, path: Path) -> None:
    """Grab the window (menu and status bars included) and write a small PNG."""
    if not window.grab().save(str(path)):
        raise RuntimeError(f"could not write {path}")
    if shutil.which("convert"):
        subprocess.run(["convert", str(path), "-colors", "256", f"PNG8:{path}"], check=True)
    print(f"{path}: {path.stat().st_size / 1024:.0f} KB", flush=True)


def shoot_dataset(window, out: Path) -> None:
    from app.main_window import TAB_DATASET
    from app.smoke import wait_for

    window.load_demo_dataset()
    (cache,) = wait_for(window.dataset_panel.datasetLoaded, TIMEOUT_MS)
    print(f"dataset: {len(cache.files)} files, {cache.report.summary.clips} clips", flush=True)
    window.tabs.setCurrentIndex(TAB_DATASET)
    if not window.dataset_panel.table.select_row_of(DATASET_FILE):
        raise RuntimeError(f"{DATASET_FILE} is not in the demo dataset")
    settle(2000)  # the preview's spectrograms are computed off the GUI thread
    save_shot(window, out / "dataset.png")


def shoot_train(window, out: Path, epochs: int) -> None:
    from app.main_window import TAB_TRAIN
    from distill.training.events import EpochEnd, Failed, Preview

    panel = window.train_panel
    seen = {"epoch": 0, "preview": False, "failed": None}

    def on_event(event: object) -> None:
        if isinstance(event, EpochEnd):
            seen["epoch"] = event.epoch
        elif isinstance(event, Preview):
            seen["preview"] = True
        elif isinstance(event, Failed):
            seen["failed"] = event

    panel.trainingEvent.connect(on_event)
    window.tabs.setCurrentIndex(TAB_TRAIN)
    panel.settings_widget.set_value("epochs", epochs)
    if not panel.start():
        raise RuntimeError("the Train panel did not start")
    shot_epoch = min(TRAIN_SHOT_EPOCH, epochs)
    wait_until(lambda: seen["failed"] or (seen["epoch"] >= shot_epoch and seen["preview"]),
               f"epoch {shot_epoch} and a preview")
    if seen["failed"]:
        raise RuntimeError(f"training failed: {seen['failed']}")
    settle(800)  # the loss plot repaints on its timer
    save_shot(window, out / "train.png")


def shoot_explore(window, out: Path) -> None:
    from app.explore.axis_sliders_widget import position_to_step
    from app.explore.level_meter_widget import FLOOR_DB
    from app.smoke import wait_for

    if window.explore_panel.model_path is None:  # the run goes on to its last epoch and the analysis
        wait_for(window.modelOpened, TIMEOUT_MS)
    panel = window.explore_panel
    wait_until(lambda: panel.instrument.ready, "the instrument to warm up")
    if not panel.sliders.sliders:
        raise RuntimeError("the model has no axes (the latent analysis was skipped)")
    panel.transport.toggle()  # Play, as Space does
    if panel.instrument.playing:
        wait_until(lambda: panel.live_view.updates > 0, "the live view")
    else:
        print(f"not playing: {window.audio.state}", flush=True)
    slider = panel.sliders.sliders[0]
    for i in range(31):  # a hand moving the first axis up over ~3 s: the live view shows the change
        slider.setValue(position_to_step(0.5 + 0.3 * i / 30))
        settle(100)
    settle(1500)
    if panel.instrument.playing:
        try:  # the meter shows sound reaching the output (a starved render loop plays silence)
            wait_until(lambda: panel.transport.meter.rms_db > FLOOR_DB, "sound at the output", 10_000)
        except TimeoutError as exc:
            print(f"warning: {exc}; {panel.transport.readout.text()}", flush=True)
    save_shot(window, out / "explore.png")
    if panel.instrument.playing:
        panel.transport.toggle()


def take_screenshots(out: Path, epochs: int) -> None:
    """Start the studio, take the three shots into ``out``, close it (the caller isolates)."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    import distill  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads OpenMP)
    from app.main_window import MainWindow
    from app.services.exception_hook import setup_file_logging
    from app.services.resources import resource_root
    from app.services.settings import APPLICATION, ORGANIZATION
    from app.services.theme import apply_theme
    from distill.threads import apply_thread_policy

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    setup_file_logging()
    apply_thread_policy()
    apply_theme(app)
    app.setWindowIcon(QIcon(str(resource_root() / "icons" / "distill-studio-256.png")))
    window = MainWindow(load_demo=False)
    try:
        window.resize(*SIZE)
        window.show()
        window.audio.start(rescan=True)  # PortAudio sees the JACK server only after a rescan
        print(window.audio.state, flush=True)
        shoot_dataset(window, out)
        shoot_train(window, out, epochs)
        shoot_explore(window, out)
    finally:  # not window.close(): with a run still going (a failed step) it would ask, modally
        window.train_panel.shutdown()  # joins the run's thread (the model is written completely)
        window.dataset_panel.shutdown()
        window.explore_panel.shutdown()
        window.audio.close()
        window.hide()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "docs" / "screenshots",
                        help="folder for the PNGs (default: docs/screenshots)")
    parser.add_argument("--epochs", type=int, default=10,
                        help="epochs of the demo run (default 10; the Train shot is at epoch 6)")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        parser.error("needs an X server: run it as `make screenshots` (xvfb-run)")
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="distill-screenshots-") as tmp:
        isolate_user_folders(Path(tmp))
        jack = start_jack(f"distill-shots-{os.getpid()}")
        try:
            take_screenshots(args.out.resolve(), args.epochs)
        except Exception:
            traceback.print_exc()
            print("screenshots FAILED", file=sys.stderr)
            return 1
        finally:
            if jack is not None:
                import sounddevice as sd

                sd._terminate()  # close PortAudio's JACK client while the server is still up
                stop_jack(jack)
    return 0


if __name__ == "__main__":
    sys.exit(main())
