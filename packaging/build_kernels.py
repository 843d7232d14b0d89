"""Compile the kernels ahead of time: ``distill.audio._kernels_aot``, for checkouts and the bundle.

numba's ``pycc`` compiles the njit functions that ``distill.audio.kernels.KERNELS`` names
(the one source of each kernel's code) with their exported signatures into a plain CPython
extension module: at run time it needs numpy only, no numba or llvmlite. The module also
exports ``fingerprint()``, the hash of the sources it was compiled from
(``kernels.source_fingerprint``): a checkout whose kernels were edited since uses numba's
JIT until this runs again. The module goes beside the sources, ``distill/audio/``
(git-ignored), by default: ``make`` runs this with ``--if-stale`` when it sets up the
environment, and ``packaging/build.sh`` before PyInstaller, whose spec takes it from there.

Usage: ``python packaging/build_kernels.py [OUT_DIR] [--cpu NAME] [--if-stale]``; prints the
module's path.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "distill" / "audio"


def default_cpu() -> str:
    """LLVM's CPU model for the bundle: one every user's machine has, not the builder's.

    On x86-64, ``x86-64-v2`` (SSE4.2/POPCNT, every x86-64 CPU since 2009): SSE4.1's
    rounding instructions keep ``math.floor`` inline, which the kernels call per
    coefficient. Elsewhere LLVM's generic model of the architecture.
    """
    return "x86-64-v2" if platform.machine().lower() in ("x86_64", "amd64") else ""


def isolate_numba_cache() -> None:
    """pycc links the LLVM IR of the kernels an export calls; one loaded from numba's disk
    cache is machine code only. A fresh, empty cache: call before numba is imported (it
    reads the setting then). Idempotent."""
    global _CACHE_ISOLATED
    if _CACHE_ISOLATED:
        return
    if "numba" in sys.modules:
        raise RuntimeError("numba was imported before its cache folder was set")
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="distill-aot-numba-")
    _CACHE_ISOLATED = True


_CACHE_ISOLATED = False


def build(out_dir: Path, cpu: str) -> Path:
    """Compile every kernel of ``KERNELS`` into ``out_dir``; return the module's path."""
    isolate_numba_cache()
    sys.path.insert(0, str(ROOT))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc's pending deprecation: it is what we use
        from numba.pycc import CC, compiler

    from distill.audio.kernels import AOT_MODULE, KERNELS, source_fingerprint

    class NogilFlags(compiler.Flags):
        """pycc compiles every export with default flags, which keep the GIL; the exports
        are njit(nogil=True) kernels (checked below), so their wrappers release it."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.release_gil = True

    compiler.Flags = NogilFlags
    name = AOT_MODULE.rpartition(".")[2]
    cc = CC(name)
    cc.output_dir = str(out_dir)
    cc.target_cpu = cpu
    for exported, (module, function, signature) in KERNELS.items():
        kernel = getattr(importlib.import_module(module), function)
        if not kernel.targetoptions.get("nogil"):
            raise ValueError(f"{module}.{function} is not njit(nogil=True): its export would keep the GIL")
        cc.export(exported, signature)(kernel.py_func)
    built_from = source_fingerprint()

    def fingerprint():
        return built_from  # a closure constant: compiled into the module

    cc.export("fingerprint", "i8()")(fingerprint)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{name}.*"):
        old.unlink()
    cc.compile()
    return out_dir / cc.output_file


def fresh_module() -> Path | None:
    """The package's module when it is there and built from the current sources, else None."""
    sys.path.insert(0, str(ROOT))
    from distill.audio import kernels

    return Path(sys.modules[kernels.AOT_MODULE].__file__) if kernels.BACKEND == "aot" else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=DEFAULT_OUT,
                        help=f"where the module goes (default: {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--cpu", default=default_cpu(),
                        help="LLVM CPU model ('host': this machine's; default: %(default)r)")
    parser.add_argument("--if-stale", action="store_true",
                        help="only when the package's module is missing or was built from other "
                             "sources (OUT_DIR must be the default)")
    args = parser.parse_args(argv)
    isolate_numba_cache()
    if args.if_stale:
        if args.out_dir.resolve() != DEFAULT_OUT:
            parser.error("--if-stale checks the package's own module: leave OUT_DIR out")
        fresh = fresh_module()
        if fresh is not None:
            print(fresh)
            return 0
    started = time.perf_counter()
    try:
        path = build(args.out_dir.resolve(), args.cpu)
    except RuntimeError as exc:  # pycc: no C compiler (or one that fails); say so in a line
        print(f"build_kernels: cannot compile the kernels: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"kernels compiled ahead of time ({args.cpu or 'generic'}) in "
          f"{time.perf_counter() - started:.0f} s: {path}", file=sys.stderr)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
