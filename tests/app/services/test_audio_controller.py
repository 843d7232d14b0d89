"""AudioController: the no-device path, choosing a device, and a device lost for real.

The JACK tests use the dummy backend (a real, paced PortAudio device). Losing the device
means killing a JACK server under PortAudio, which leaves PortAudio unable to terminate in
that process (see distill.audio.devices): that scenario runs in a subprocess with its own
jackd under its own name, and the test asserts on what it prints.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.services.audio_controller import AudioController
from app.services.settings import AppSettings
from distill.audio import synth
from distill.audio.playback import PlaybackEngine
from distill.constants import SAMPLE_RATE
from distill.render.export import export_audio

REPO = Path(__file__).resolve().parents[3]


def test_without_a_device_play_does_nothing_and_the_message_says_why(silent_audio):
    assert not silent_audio.available
    assert silent_audio.play(np.zeros(4800, np.float32)) is False
    message = silent_audio.no_audio_message()
    assert message.startswith("No audio output — ") and "everything else works" in message
    assert "no audio output: " not in message  # the engine's prefix is not repeated


def test_a_missing_device_leaves_rendering_and_export_working(qtbot, tiny_model, tmp_path):
    from distill.render.renderer import Renderer

    audio = AudioController(engine=PlaybackEngine(device="no such audio device"))
    states: list[str] = []
    audio.stateChanged.connect(states.append)
    assert audio.start() is False
    assert states and states[-1].startswith("audio off: no audio output")
    assert "no such audio device" in audio.state and "rendering still work" in audio.state
    assert audio.play(synth.sine(440, 0.2)) is False
    audio.stop()
    assert audio.reopen() is False and audio.state.startswith("audio off")
    wave = Renderer.from_file(tiny_model).generate(SAMPLE_RATE // 2)
    assert wave.shape == (SAMPLE_RATE // 2,) and np.abs(wave).max() > 0
    path = export_audio(tmp_path / "offline.wav", wave)
    assert sf.info(str(path)).frames == SAMPLE_RATE // 2
    audio.close()
    assert audio.state == "audio: closed"


def test_a_stored_device_is_validated(settings, tmp_path):
    settings.set_value("audio/output_device", 12)  # not a name: ignored
    assert settings.audio_device() is None
    settings.set_audio_device("  ")
    assert settings.audio_device() is None
    settings.set_audio_device("Scarlett 2i2")
    settings.sync()
    assert AppSettings(tmp_path / "settings.ini").audio_device() == "Scarlett 2i2"  # a restart
    settings.set_audio_device(None)
    assert settings.audio_device() is None


@pytest.mark.audio
def test_choose_reopen_and_fall_back_on_jack(qtbot, jack_server, settings):
    audio = AudioController(settings=settings)
    try:
        assert audio.start(rescan=True), audio.state
        assert audio.state.startswith("audio: system, 48 kHz")
        assert audio.set_device("system") and audio.available
        assert settings.audio_device() == "system" and audio.device_choice == "system"
        assert audio.play(synth.sine(440, 0.3))
        qtbot.waitUntil(lambda: audio.engine.telemetry().peak > 0.1, timeout=3000)
        assert audio.reopen() and audio.available
        blocks = audio.engine.telemetry().blocks
        qtbot.waitUntil(lambda: audio.engine.telemetry().blocks > blocks + 10, timeout=3000)
        assert any(d.name == "system" for d in audio.scan_devices(rescan=True).devices)
        assert audio.available  # a rescan restarts the stream it had to close
    finally:
        audio.close()
    settings.set_audio_device("Interface unplugged since")
    restarted = AudioController(settings=settings)
    try:
        assert restarted.start(rescan=True)
        assert "“Interface unplugged since” not found, using the default" in restarted.state
        assert restarted.engine.telemetry().device == "system"
    finally:
        restarted.close()


# ---------------------------------------------------------------- device loss (subprocess)
def _start_jackd(name: str) -> subprocess.Popen:
    env = {**os.environ, "JACK_DEFAULT_SERVER": name}
    proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000",
                             "-p", "256"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    if subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True, env=env).returncode:
        proc.kill()
        raise RuntimeError("jackd did not start")
    return proc


def _device_loss_scenario(name: str, out_dir: str) -> None:
    """Run in a subprocess: play on JACK, kill the server, close, restart it, reopen."""
    from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QThread

    os.environ["JACK_DEFAULT_SERVER"] = name
    app = QCoreApplication([])

    def spin_until(condition, seconds: float) -> bool:
        deadline = QDeadlineTimer(int(seconds * 1000))
        while not condition() and not deadline.hasExpired():
            app.processEvents()
            QThread.msleep(10)
        return bool(condition())

    def report(event: str, **values) -> None:
        print(json.dumps({"event": event, **values}), flush=True)

    server = _start_jackd(name)
    audio = AudioController(engine=PlaybackEngine())
    lost: list[str] = []
    audio.deviceLost.connect(lost.append)
    report("started", ok=audio.start(rescan=True), state=audio.state)
    audio.play(synth.sine(440, 2.0), loop=True)
    spin_until(lambda: audio.engine.telemetry().blocks > 50, 5)
    server.terminate()  # gone for the client, like SIGKILL, but it leaves JACK's registry clean
    server.wait(timeout=10)
    spin_until(lambda: bool(lost), 5)
    report("lost", devices=lost, state=audio.state, available=audio.available,
           play=audio.play(synth.sine(440, 0.1)))
    path = export_audio(Path(out_dir) / "after_loss.wav", synth.sine(220, 0.5))
    report("exported", frames=sf.info(str(path)).frames)
    audio.close()
    report("closed", state=audio.state)
    server = _start_jackd(name)
    try:
        report("reopened", ok=audio.reopen(), state=audio.state)
        audio.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    report("done")


@pytest.mark.audio
def test_device_loss_is_reported_and_nothing_hangs(tmp_path):
    if not (shutil.which("jackd") and shutil.which("jack_wait")):
        pytest.skip("JACK is not installed (make test installs jackd2)")
    name = f"distill-loss-{os.getpid()}"
    code = ("import sys; from tests.app.services.test_audio_controller import _device_loss_scenario; "
            "_device_loss_scenario(sys.argv[1], sys.argv[2])")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    # Its own session: if it hangs, SIGTERM reaches its jackd too (a SIGKILLed jackd keeps
    # one of JACK's 8 server slots until a server of the same name starts again).
    proc = subprocess.Popen([sys.executable, "-c", code, name, str(tmp_path)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.communicate(timeout=30)
    events = {e["event"]: e for e in map(json.loads, filter(None, stdout.splitlines()))}
    assert proc.returncode == 0, stdout + stderr  # no hang, no PortAudio abort at exit
    assert events["started"]["ok"], events["started"]
    assert events["lost"]["devices"] == ["system"]
    assert events["lost"]["state"] == "audio lost: system — Audio ▸ Reopen output"
    assert not events["lost"]["available"] and not events["lost"]["play"]
    assert events["exported"]["frames"] == SAMPLE_RATE // 2  # export goes on without a device
    assert events["closed"]["state"] == "audio: closed"
    # PortAudio 19.6 cannot reconnect to a JACK server in the process that lost one: the
    # reopen says so instead of aborting (a rescan would trip pa_jack.c's assertion).
    reopened = events["reopened"]
    assert not reopened["ok"] and "restarts" in reopened["state"], reopened
    assert "done" in events
