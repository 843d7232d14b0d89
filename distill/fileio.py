"""Atomic file writes (temporary file, fsync, rename) for every file distill writes.

Model files, checkpoints, cache entries, manifests, presets and exported audio all go
through ``write_atomically``: nothing half-written ever carries the final name.

A write killed outright (``kill -9``, power loss) leaves its hidden temporary file
``.NAME.<random>.part`` behind (up to ~200 MB for a checkpoint). The first write of a
process to a folder removes the stale ones: a temporary file is locked (``flock``) for
as long as its writer lives, so one that can be locked and has not been touched for
``STALE_PART_SECONDS`` belongs to a dead writer (without ``fcntl``, age alone decides,
with a longer wait).

The permissions of a new file follow the process umask, like a plain ``open()``. The
umask is read ONCE, when this module is imported, without changing it: the only call
that reads it (``os.umask``) also sets it, and a file another thread created while it
was briefly 0 got mode 0666. Any thread may call ``write_atomically``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: stale temporary files are recognised by age alone
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: Mode of a file created by a plain ``open()``, before the umask.
_OPEN_MODE = 0o666
#: Temporary files of ``write_atomically``: ``.NAME.`` + mkstemp's 8 random characters + ``.part``.
PART_PATTERN = re.compile(r"^\..+\.[a-z0-9_]{8}\.part$")
#: Untouched for this long and unlocked, a temporary file is a dead writer's. The grace
#: covers the moment between another process creating its file and locking it.
STALE_PART_SECONDS = 5.0
#: Without file locks, only age tells: no write of ours takes an hour.
STALE_PART_SECONDS_UNLOCKED = 3600.0

# Folders swept by this process (one listing per folder, not one per write).
_swept: set[str] = set()
_swept_lock = threading.Lock()


def _read_umask() -> int:
    """The process umask, read without ever changing it."""
    umask = _proc_umask()
    return _probe_umask() if umask is None else umask


def _proc_umask() -> int | None:
    """The umask Linux reports in ``/proc/self/status`` (kernel 4.7+); None elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _probe_umask() -> int:
    """The bits the umask removes from a probe file created with mode 0666 (portable)."""
    folder = tempfile.mkdtemp(prefix="distill-umask-")
    probe = os.path.join(folder, "probe")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _OPEN_MODE))
        return _OPEN_MODE & ~os.stat(probe).st_mode & 0o777
    finally:
        Path(probe).unlink(missing_ok=True)
        os.rmdir(folder)


#: Permissions of the files written here: those a plain ``open()`` gives under the umask
#: the process had when distill was imported.
FILE_MODE = _OPEN_MODE & ~_read_umask()


#: Bytes per ``write`` syscall in ``write_in_chunks``.
WRITE_CHUNK = 1 << 20


def write_in_chunks(f: BinaryIO, data: bytes | bytearray | memoryview) -> None:
    """Write ``data`` in ``WRITE_CHUNK`` pieces instead of one call.

    One 200 MB ``write`` (a checkpoint) stalled the other core long enough for an audio
    underrun on a 2-core machine (a real-time JACK stream, the writer at nice 10); the same
    bytes in 1 MiB writes did not (``benchmarks/realtime.py --train-process``).
    """
    view = memoryview(data).cast("B")
    for start in range(0, len(view), WRITE_CHUNK):
        f.write(view[start:start + WRITE_CHUNK])


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it.

    Parameters
    ----------
    path
        The final name; its folder is created when missing.
    write
        Writes the whole content to the binary file object it is given.

    Returns
    -------
    Path
        ``path``.

    Nothing half-written ever carries the final name; on failure the temporary file is
    removed and the previous file (if any) is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    if fcntl is not None:
        # Held until the file is closed (or the process dies): marks it as in progress.
        # A file system without locks raises: the age rule still protects the file then.
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _sweep_once(path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def remove_stale_parts(folder: str | Path) -> list[Path]:
    """Delete the temporary files dead writers left in ``folder``; returns those removed.

    A file is removed only when it matches ``PART_PATTERN``, has not been modified for
    ``STALE_PART_SECONDS`` and no live writer holds its lock. Never raises.
    """
    removed: list[Path] = []
    try:
        entries = [e for e in os.scandir(folder) if PART_PATTERN.match(e.name)]
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
            if fcntl is None:
                if age > STALE_PART_SECONDS_UNLOCKED:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
                continue
            if age <= STALE_PART_SECONDS or not entry.is_file(follow_symlinks=False):
                continue
            fd = os.open(entry.path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live writer holds it
            else:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            finally:
                os.close(fd)
        except OSError as exc:
            log.debug("could not check %s: %s", entry.path, exc)
    if removed:
        log.info("removed %d stale temporary file(s) in %s", len(removed), folder)
    return removed


def _sweep_once(folder: Path) -> None:
    key = os.path.abspath(folder)
    with _swept_lock:
        if key in _swept:
            return
        _swept.add(key)
    remove_stale_parts(folder)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe_os_error(exc: OSError) -> str:
    """Why a write failed, in words a musician understands (disk full, permissions, ...)."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno == errno.EROFS:
        return "the disk is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "no permission to write there"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    return exc.strerror or str(exc)
