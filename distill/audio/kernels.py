"""The compiled kernels: ahead of time in the frozen app, numba's JIT in a source checkout.

Each kernel's code has ONE source, a numba ``njit`` function (``distill.audio.pghi_kernels``,
``distill.audio.reassign_kernels``). The bundle carries no numba (its compiler, llvmlite, is
~150 MB): at bundle-build time ``packaging/build_kernels.py`` compiles those same functions,
with the signatures of ``KERNELS``, into a plain CPython extension module,
``distill.audio._kernels_aot``, that needs only numpy. This module takes that one when it
can be imported (always in the frozen app, where its absence is an error) and otherwise the
njit functions, so that in a checkout an edited kernel is what runs (the build writes its
module to ``build/``, never beside the sources). Both release the GIL (the real-time
render thread runs them) and give the same values (``tests/audio/test_kernels_aot.py``).

Callers pass exactly the signature's types: C-contiguous arrays of these dtypes, Python
ints, floats and bools. The ahead-of-time entry checks only an array's dimensions and item
size (an int32 array would pass as float32); the test checks that the callers' arguments
compile to exactly these signatures.

Thread: any; the kernels keep no state between calls.
"""

from __future__ import annotations

import importlib
import logging
import sys

log = logging.getLogger(__name__)

#: The extension module ``packaging/build_kernels.py`` writes.
AOT_MODULE = "distill.audio._kernels_aot"

_F2 = "f4[:, ::1]"
#: Exported name -> (module of the njit source, its function, the exported signature).
KERNELS: dict[str, tuple[str, str, str]] = {
    "rtpghi": ("distill.audio.pghi_kernels", "_rtpghi",
               f"void({_F2}, {_F2}, i4[:, ::1], f8, f8, f8, i8, i8, i8, {_F2})"),
    "rtpghi_continue": ("distill.audio.pghi_kernels", "_rtpghi_continue",
                        f"void({_F2}, {_F2}, f4[::1], f4[::1], f8[::1], b1, i8, f8, f8, f8, f8, i8, i8,"
                        f" {_F2}, f8[:, ::1])"),
    "magnitude": ("distill.audio.reassign_kernels", "_magnitude",
                  f"void({_F2}, {_F2}, i8[:, ::1], {_F2}, i8, i8, {_F2})"),
}


def _aot_module():
    """The ahead-of-time module, or None where it is not built (a source checkout)."""
    try:
        return importlib.import_module(AOT_MODULE)
    except ImportError:
        if getattr(sys, "frozen", False):
            raise  # the bundle has no numba to fall back on: a broken build, say so
        return None


def _kernel(name: str):
    """Kernel ``name`` of ``KERNELS``: the ahead-of-time export, else the njit function."""
    if _aot is not None:
        return getattr(_aot, name)
    module, function, _ = KERNELS[name]
    return getattr(importlib.import_module(module), function)


_aot = _aot_module()
#: ``"aot"`` (the extension module) or ``"jit"`` (numba); the bundle's smoke test checks it.
BACKEND = "jit" if _aot is None else "aot"
rtpghi = _kernel("rtpghi")
rtpghi_continue = _kernel("rtpghi_continue")
magnitude = _kernel("magnitude")
log.debug("compiled kernels: %s", BACKEND)
