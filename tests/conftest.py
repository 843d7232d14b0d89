"""Shared fixtures: isolated user directories, generated audio files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from distill.audio import synth
from distill.constants import SAMPLE_RATE


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Every test gets its own data/cache/config/log dirs (platformdirs honours XDG_*)."""
    root = tmp_path_factory.mktemp("userdirs")
    for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        path = root / var.lower()
        path.mkdir()
        monkeypatch.setenv(var, str(path))
    return root


def write_audio(path: Path, wave: np.ndarray, sr: int = SAMPLE_RATE, subtype: str | None = None) -> Path:
    """Write ``wave`` ([S] or [S, C]) with the format implied by the extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, sr, subtype=subtype)
    return path


@pytest.fixture
def audio_folder(tmp_path) -> Path:
    """A small folder of valid sounds in several formats (1-2 s each, 48 kHz unless noted)."""
    folder = tmp_path / "sounds"
    write_audio(folder / "tone_a.wav", synth.harmonic(220, 1.5, rolloff=1.0))
    write_audio(folder / "tone_b.flac", synth.harmonic(330, 1.2, rolloff=2.0))
    write_audio(folder / "sub" / "bell.ogg", synth.fm_bell(440, 1.5))
    write_audio(folder / "sub" / "noise.wav", synth.noise_burst(1.0, 3000, seed=1), sr=SAMPLE_RATE)
    write_audio(folder / "pluck_44k.wav", synth.pluck(196, 1.0, seed=2), sr=44_100)
    return folder


@pytest.fixture(scope="session")
def jack_server():
    """A JACK server on the dummy backend: a real, paced PortAudio device without a sound card.

    Each test session runs its own server under its own name (``JACK_DEFAULT_SERVER``,
    which PortAudio, jack_rec and jack_wait all read), so concurrent sessions never share
    — or kill — each other's server. PortAudio only sees JACK when (re)initialised after
    the server is up: start engines with ``PlaybackEngine.start(rescan=True)``.
    """
    if not (shutil.which("jackd") and shutil.which("jack_rec") and shutil.which("jack_wait")):
        pytest.skip("JACK is not installed (make test installs jackd2)")
    name = f"distill-test-{os.getpid()}"
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000",
                             "-p", "256"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True).returncode:
        proc.kill()
        pytest.skip("jackd did not start")
    yield name
    # Close PortAudio's JACK client while the server is still up: terminating it after
    # jackd is gone trips an assertion in PortAudio (abort at the next terminate).
    import sounddevice as sd

    sd._terminate()
    proc.terminate()
    proc.wait(timeout=10)
    if previous is None:
        os.environ.pop("JACK_DEFAULT_SERVER", None)
    else:
        os.environ["JACK_DEFAULT_SERVER"] = previous
    sd._initialize()
