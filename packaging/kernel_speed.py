"""Speed of the ahead-of-time kernels (the bundle's) against numba's JIT, per LLVM CPU model.

Builds ``distill.audio._kernels_aot`` once per ``--cpu`` (``packaging/build_kernels.py``,
into a temporary folder), then times the real entries on 1 s of three sounds (a harmonic
tone, a glide, a drum; ``[3, 94, 1025]``) with each backend, one torch thread: the whole
clip's PGHI (``pghi_phase``), a stream continued 8 frames at a time (``pghi_continue``,
the real-time path) and the listening magnitude (``magnitude_frames``). Rounds interleave
the backends; each figure is the median over rounds of the round's best of 5 calls.

``python packaging/kernel_speed.py --cpu x86-64-v2 --cpu host``; prints one JSON document.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from distill.audio import kernels, pghi, reassign, synth
from distill.audio.spectrogram import ComplexSpectrogram
from distill.constants import SAMPLE_RATE

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 8


def build(cpu: str, folder: Path):
    """The kernels' module compiled for ``cpu``, loaded from ``folder``."""
    done = subprocess.run([sys.executable, str(ROOT / "packaging" / "build_kernels.py"), str(folder),
                           "--cpu", cpu], capture_output=True, text=True, check=True)
    path = done.stdout.strip().splitlines()[-1]
    loader = importlib.machinery.ExtensionFileLoader(kernels.AOT_MODULE, path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(kernels.AOT_MODULE, loader))
    loader.exec_module(module)
    return module


def workload():
    """name -> a call of the real entry on the three sounds."""
    waves = [synth.harmonic(220, 1.0, 16), synth.chirp(100, 8000, 1.0), synth.drum()]
    wave = torch.stack([torch.tensor(np.resize(w, SAMPLE_RATE), dtype=torch.float32) for w in waves])[:, None]
    cs = ComplexSpectrogram()
    spec = cs.waveform_to_complex_mel(wave)
    freq = cs._frequency_frames(spec)
    mag, log_density = cs._magnitude_frames(spec, freq), cs._log_density(spec)
    logmag = np.log(np.maximum(mag.numpy(), 1e-30))

    def stream() -> None:
        for b in range(logmag.shape[0]):
            state = None
            for lo in range(0, logmag.shape[1] - 1, CHUNK):
                hi = min(lo + CHUNK, logmag.shape[1] - 1)
                _, states = pghi.pghi_continue(logmag[b, lo:hi + 1], freq[b, lo:hi].numpy(), state,
                                               cs.config, SAMPLE_RATE)
                state = states[-1]

    return {"pghi_phase": lambda: pghi.pghi_phase(mag, freq, cs.config, SAMPLE_RATE),
            "pghi_continue": stream,
            "magnitude_frames": lambda: reassign.magnitude_frames(log_density, freq, cs.config, SAMPLE_RATE)}


def use(module) -> None:
    """Route the entries through ``module``'s kernels (None: the JIT ones)."""
    for name, (source, function, _) in kernels.KERNELS.items():
        jit = module is None
        kernel = getattr(importlib.import_module(source), function) if jit else getattr(module, name)
        setattr(pghi if name.startswith("rtpghi") else reassign, f"_{name}", kernel)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="append", help="LLVM CPU model to build for (repeatable)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    calls = workload()
    with tempfile.TemporaryDirectory(prefix="distill-aot-speed-") as tmp:
        backends = {"jit": None} | {f"aot:{cpu}": build(cpu, Path(tmp) / cpu)
                                    for cpu in args.cpu or ["x86-64-v2"]}
        times: dict[str, dict[str, list[float]]] = {b: {c: [] for c in calls} for b in backends}
        for _ in range(args.rounds + 1):  # the first round compiles (JIT) and warms caches
            for backend, module in backends.items():
                use(module)
                for name, call in calls.items():
                    best = []
                    for _ in range(5):
                        started = time.perf_counter()
                        call()
                        best.append(time.perf_counter() - started)
                    times[backend][name].append(min(best))
    use(None)
    print(json.dumps({backend: {name: round(1e3 * statistics.median(t[1:]), 2) for name, t in calls_t.items()}
                      for backend, calls_t in times.items()} | {"unit": "ms"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
