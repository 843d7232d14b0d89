"""PyInstaller runtime hook: runs in the frozen app before ``app.main`` is imported.

1. numba's on-disk cache. numba reads ``NUMBA_CACHE_DIR`` once, when it is imported, and a
   frozen app has no writable ``__pycache__`` beside its sources; without a cache every
   start JIT-compiles librosa's and ``distill.audio.pghi``'s kernels again (~30 s).
   The cache goes to a per-version folder of the user cache dir, so a new version never
   loads kernels compiled against an older one (numba keys entries on the executable's
   hash too; the folder keeps old versions from piling up in one place).
2. PortAudio. On Linux, sounddevice asks ``ctypes.util.find_library("portaudio")``,
   which only finds a system-wide libportaudio. The bundle carries its own copy
   (``libportaudio.so.2`` beside the other libraries); point sounddevice at it, so the app
   plays sound on machines without the libportaudio2 package.
"""

import os
import sys


def _numba_cache_dir() -> str:
    from platformdirs import user_cache_dir

    from distill import __version__

    return os.path.join(user_cache_dir("distill-studio", appauthor=False), f"numba-{__version__}")


def _use_bundled_portaudio() -> None:
    bundled = os.path.join(sys._MEIPASS, "libportaudio.so.2")
    if not sys.platform.startswith("linux") or not os.path.exists(bundled):
        return
    import ctypes.util

    system_find_library = ctypes.util.find_library

    def find_library(name: str):
        return bundled if name == "portaudio" else system_find_library(name)

    ctypes.util.find_library = find_library


os.environ.setdefault("NUMBA_CACHE_DIR", _numba_cache_dir())
_use_bundled_portaudio()
