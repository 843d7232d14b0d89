"""Compile the kernels ahead of time: ``distill.audio._kernels_aot``, for the bundle.

``packaging/build.sh`` runs this before PyInstaller; the spec puts the module beside
``distill/audio/``. numba's ``pycc`` compiles the njit functions that ``distill.audio.
kernels.KERNELS`` names (the one source of each kernel's code) with their exported
signatures into a plain CPython extension module: at run time it needs numpy only, no
numba or llvmlite. The module goes to ``build/kernels/`` by default, never beside the
sources, so a checkout keeps JIT-compiling what is edited.

Usage: ``python packaging/build_kernels.py [OUT_DIR] [--cpu NAME]``; prints the module's path.
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
DEFAULT_OUT = ROOT / "build" / "kernels"


def default_cpu() -> str:
    """LLVM's CPU model for the bundle: one every user's machine has, not the builder's.

    On x86-64, ``x86-64-v2`` (SSE4.2/POPCNT, every x86-64 CPU since 2009): SSE4.1's
    rounding instructions keep ``math.floor`` inline, which the kernels call per
    coefficient. Elsewhere LLVM's generic model of the architecture.
    """
    return "x86-64-v2" if platform.machine().lower() in ("x86_64", "amd64") else ""


def build(out_dir: Path, cpu: str) -> Path:
    """Compile every kernel of ``KERNELS`` into ``out_dir``; return the module's path."""
    # pycc links the LLVM IR of the kernels an export calls; one loaded from numba's disk
    # cache is machine code only. A fresh, empty cache (read when numba is imported).
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="distill-aot-numba-")
    sys.path.insert(0, str(ROOT))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc's pending deprecation: it is what we use
        from numba.pycc import CC, compiler

    from distill.audio.kernels import AOT_MODULE, KERNELS

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
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{name}.*"):
        old.unlink()
    cc.compile()
    return out_dir / cc.output_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=DEFAULT_OUT,
                        help=f"where the module goes (default: {DEFAULT_OUT.relative_to(ROOT)})")
    parser.add_argument("--cpu", default=default_cpu(),
                        help="LLVM CPU model ('host': this machine's; default: %(default)r)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    path = build(args.out_dir.resolve(), args.cpu)
    print(f"kernels compiled ahead of time ({args.cpu or 'generic'}) in "
          f"{time.perf_counter() - started:.0f} s: {path}", file=sys.stderr)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
