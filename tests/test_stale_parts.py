"""Temporary files of writes killed with ``kill -9`` are removed by the next write to
their folder; a live writer's (in another process) never is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distill import fileio
from distill.fileio import PART_PATTERN, remove_stale_parts, write_atomically

# Writes half a file, then waits to be killed (holding its temporary file, like a
# checkpoint write interrupted by kill -9).
_WRITER = (
    "import sys, time\n"
    "from distill.fileio import write_atomically\n"
    "def write(f):\n"
    "    f.write(b'x' * 65536); f.flush()\n"
    "    print('writing', flush=True)\n"
    "    time.sleep(60)\n"
    "write_atomically(sys.argv[1], write)\n"
)


@pytest.fixture(autouse=True)
def fresh_sweeps(monkeypatch):
    """Each test starts as a new process would: no folder swept yet."""
    monkeypatch.setattr(fileio, "_swept", set())


def start_writer(target: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if PART_PATTERN.match(p.name))


def age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


@pytest.mark.skipif(fileio.fcntl is None, reason="needs file locks")
def test_a_killed_writers_part_is_removed_by_the_next_write(tmp_path):
    model = tmp_path / "sounds.distill"
    model.write_bytes(b"the model before")
    proc = start_writer(model)
    [part] = parts(tmp_path)
    assert part.name.startswith(".sounds.distill.")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert model.read_bytes() == b"the model before"  # the kill left the old file intact
    age(part, 60)
    # A later write to ANOTHER name in the folder (a checkpoint of the next step) cleans up.
    write_atomically(tmp_path / "ckpt-e00002.ckpt", lambda f: f.write(b"next"))
    assert parts(tmp_path) == [] and model.read_bytes() == b"the model before"


@pytest.mark.skipif(fileio.fcntl is None, reason="needs file locks")
def test_a_live_writers_part_is_kept(tmp_path):
    proc = start_writer(tmp_path / "big.ckpt")
    try:
        [part] = parts(tmp_path)
        age(part, 3600)  # old, but its writer is alive and holds the lock
        assert remove_stale_parts(tmp_path) == []
        assert part.exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert remove_stale_parts(tmp_path) == [part] and not part.exists()


def test_only_our_naming_and_only_old_ones(tmp_path):
    theirs = tmp_path / "notes.part"  # not ours: no leading dot and random suffix
    fresh = tmp_path / ".take.wav.abcd1234.part"  # ours, but just written (grace period)
    old = tmp_path / ".take.wav.zz_9yx87.part"
    for p in (theirs, fresh, old):
        p.write_bytes(b"?")
    age(theirs, 3600)
    age(old, 3600 * 2)
    removed = remove_stale_parts(tmp_path)
    assert removed == [old]
    assert theirs.exists() and fresh.exists()
