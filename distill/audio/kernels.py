"""The compiled kernels: ahead of time where a fresh build exists, else numba's JIT.

Each kernel's code has ONE source, a numba ``njit`` function (``distill.audio.pghi_kernels``,
``distill.audio.reassign_kernels``). ``packaging/build_kernels.py`` compiles those same
functions, with the signatures of ``KERNELS``, into a plain CPython extension module,
``distill.audio._kernels_aot``, that needs only numpy: the bundle carries it and no numba
(its compiler, llvmlite, is ~150 MB), and ``make`` builds it into a checkout too, where it
spares every process numba's import and its first-call compile (~0.6 s of a ``distill
generate``). This module takes that one when it can be imported and is FRESH, else the
njit functions:

- fresh: the module exports ``fingerprint()``, the hash of the kernels' sources and
  signatures it was compiled from (``source_fingerprint``); in a checkout an edited kernel
  no longer matches, so the JIT runs what is edited until ``make`` rebuilds;
- in the frozen app the module is always used (the build checked it; the sources are not
  there to hash) and its absence is an error.

Both release the GIL (the real-time render thread runs them) and give the same values
(``tests/audio/test_kernels_aot.py``).

Callers pass exactly the signature's types: C-contiguous arrays of these dtypes, Python
ints, floats and bools. The ahead-of-time entry checks only an array's dimensions and item
size (an int32 array would pass as float32); the test checks that the callers' arguments
compile to exactly these signatures.

Thread: any; the kernels keep no state between calls.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import sys
from pathlib import Path

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


def source_fingerprint() -> int:
    """Hash of what the kernels are compiled from: ``KERNELS`` and its modules' source text.

    A positive 60-bit int (the ahead-of-time module returns it from an ``i8()`` export).
    Reads the source files without importing them (importing one imports numba).
    """
    digest = hashlib.sha256(repr(sorted(KERNELS.items())).encode())
    for module in sorted({module for module, _, _ in KERNELS.values()}):
        digest.update(Path(importlib.util.find_spec(module).origin).read_bytes())
    return int(digest.hexdigest()[:15], 16)


def _aot_module():
    """The ahead-of-time module, or None where it is not built or not fresh (a checkout)."""
    try:
        module = importlib.import_module(AOT_MODULE)
    except ImportError:
        if getattr(sys, "frozen", False):
            raise  # the bundle has no numba to fall back on: a broken build, say so
        return None
    if getattr(sys, "frozen", False):
        return module
    if getattr(module, "fingerprint", lambda: None)() != source_fingerprint():
        log.info("%s was compiled from other kernel sources: using numba's JIT "
                 "(`make` or packaging/build_kernels.py rebuilds it)", module.__file__)
        return None
    return module


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
