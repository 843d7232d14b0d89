"""Atomic writes: all or nothing, and permissions that follow the umask without touching it."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from distill import fileio
from distill.fileio import write_atomically

# Runs in a fresh interpreter so the umask is set BEFORE distill.fileio reads it; prints the
# written file's mode and the umask after the write.
CHILD = """
import os, sys
os.umask(int(sys.argv[2], 8))
from distill.fileio import write_atomically
write_atomically(sys.argv[1], lambda f: f.write(b"payload"))
print(oct(os.stat(sys.argv[1]).st_mode & 0o777), oct(os.umask(0)))
"""


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600), (0o002, 0o664)])
def test_the_mode_follows_the_umask_and_the_umask_stays(tmp_path, umask, mode):
    target = tmp_path / "sub" / "file.bin"
    out = subprocess.run([sys.executable, "-c", CHILD, str(target), oct(umask)], check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == [oct(mode), oct(umask)]
    assert target.read_bytes() == b"payload"


def test_writing_never_changes_the_umask(tmp_path, monkeypatch):
    # os.umask is the only way to read the umask and it SETS it too: while it is 0, a
    # file any other thread creates gets mode 0666. The helper must never call it.
    def forbidden(mask):
        raise AssertionError(f"os.umask({mask:o}) called while writing")

    monkeypatch.setattr(os, "umask", forbidden)
    target = write_atomically(tmp_path / "a.bin", lambda f: f.write(b"abc"))
    assert target.read_bytes() == b"abc"
    assert stat.S_IMODE(target.stat().st_mode) == fileio.FILE_MODE


@pytest.mark.skipif(fileio._proc_umask() is None, reason="no /proc/self/status umask on this system")
def test_the_portable_probe_reads_the_same_umask():
    assert fileio._probe_umask() == fileio._proc_umask()


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    target = write_atomically(tmp_path / "model.bin", lambda f: f.write(b"good"))

    def disk_full_halfway(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_atomically(target, disk_full_halfway)
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_big_payloads_are_written_in_chunks_and_read_back_whole(tmp_path):
    # One huge write() stalled the other core long enough for an audio underrun.
    from distill.fileio import WRITE_CHUNK, write_in_chunks

    data = np.random.default_rng(0).integers(0, 255, 3 * WRITE_CHUNK + 17, dtype=np.uint8).tobytes()
    sizes = []

    class Recording(io.BytesIO):
        def write(self, chunk):
            sizes.append(len(chunk))
            return super().write(chunk)

    target = Recording()
    write_in_chunks(target, data)
    assert target.getvalue() == data
    assert sizes == [WRITE_CHUNK] * 3 + [17]
    path = write_atomically(tmp_path / "big.bin", lambda f: write_in_chunks(f, data))
    assert path.read_bytes() == data
