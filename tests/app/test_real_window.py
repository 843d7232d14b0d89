"""The real application in a real X11 window (Xvfb): starts, shows the demo, quits on Ctrl+Q.

A screenshot is kept in ``artifacts/studio-window.png`` (or ``$DISTILL_ARTIFACTS``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import platformdirs
import pytest

TOOLS = ("Xvfb", "xdotool", "import", "identify")
ARTIFACTS = Path(os.environ.get("DISTILL_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))


@pytest.fixture
def xvfb_display():
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (make test installs xvfb, xdotool, imagemagick)")
    number = 50 + os.getpid() % 200
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 15
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if not socket.exists():
        server.kill()
        pytest.skip("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.xvfb
def test_real_window_shows_the_demo_dataset_and_quits(xvfb_display, tmp_path):
    env = dict(os.environ, DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb")
    log = Path(platformdirs.user_log_dir("distill-studio")) / "distill-studio.log"
    out = (tmp_path / "studio.out").open("w")
    app = subprocess.Popen([sys.executable, "-m", "app.main"], env=env, stdout=out,
                           stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])
    try:
        window = _wait(lambda: subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", "^distill-studio$"], env=env,
            capture_output=True, text=True).stdout.split(), 60, "the window")[0]
        _wait(lambda: log.exists() and "dataset loaded" in log.read_text(), 120, "the demo dataset")
        time.sleep(1.5)  # let the table and the first spectrogram paint
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "studio-window.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=env, check=True)
        colours = int(subprocess.run(["identify", "-format", "%k", str(shot)], capture_output=True,
                                     text=True, check=True).stdout)
        assert colours > 200, "the screenshot looks empty"
        # No window manager: give the window focus ourselves, then type Ctrl+Q (XTEST) —
        # keys sent with --window are synthetic events, which Qt ignores.
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, check=True)
        subprocess.run(["xdotool", "key", "ctrl+q"], env=env, check=True)
        assert app.wait(timeout=60) == 0
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        out.close()
    output = (tmp_path / "studio.out").read_text()
    assert "Traceback" not in output, output
    assert "24 files" in log.read_text()
