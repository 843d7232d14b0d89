"""PyInstaller runtime hook: runs in the frozen app before ``app.main`` is imported.

PortAudio. On Linux, sounddevice asks ``ctypes.util.find_library("portaudio")``, which
only finds a system-wide libportaudio. The bundle carries its own copy
(``libportaudio.so.2`` beside the other libraries); point sounddevice at it, so the app
plays sound on machines without the libportaudio2 package.

(The bundle has no numba, hence no JIT cache to place: its kernels are compiled ahead of
time, ``distill.audio.kernels``.)
"""

import os
import sys


def _use_bundled_portaudio() -> None:
    bundled = os.path.join(sys._MEIPASS, "libportaudio.so.2")
    if not sys.platform.startswith("linux") or not os.path.exists(bundled):
        return
    import ctypes.util

    system_find_library = ctypes.util.find_library

    def find_library(name: str):
        return bundled if name == "portaudio" else system_find_library(name)

    ctypes.util.find_library = find_library


_use_bundled_portaudio()
