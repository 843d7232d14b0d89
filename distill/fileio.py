"""Atomic file writes (temporary file, fsync, rename) for every file distill writes.

Model files, checkpoints, cache entries, manifests, presets and exported audio all go
through ``write_atomically``: nothing half-written ever carries the final name.

The permissions of a new file follow the process umask, like a plain ``open()``. The
umask is read ONCE, when this module is imported, without changing it: the only call
that reads it (``os.umask``) also sets it, and a file another thread created while it
was briefly 0 got mode 0666. Any thread may call ``write_atomically``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

#: Mode of a file created by a plain ``open()``, before the umask.
_OPEN_MODE = 0o666


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
