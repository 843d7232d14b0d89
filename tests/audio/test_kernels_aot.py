"""The ahead-of-time kernels (``packaging/build_kernels.py``) equal numba's JIT ones.

The module is built into a temporary folder (~12 s of compiling on one core) and loaded
from there; the real entries (``pghi_phase``, ``pghi_continue``, ``magnitude_frames``)
run once with the JIT kernels and once with the built ones, whatever the checkout itself
uses (``make`` builds a module into the package as well).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from numba.core.sigutils import normalize_signature

from distill.audio import kernels, pghi, reassign, synth
from distill.audio.pghi import pghi_continue, pghi_phase
from distill.audio.reassign import magnitude_frames
from distill.audio.spectrogram import ComplexSpectrogram

ROOT = Path(__file__).resolve().parents[2]
SR = 48_000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def aot(tmp_path_factory):
    """``distill.audio._kernels_aot`` as the bundle build makes it, loaded from a temp folder."""
    out = tmp_path_factory.mktemp("kernels")
    done = subprocess.run([sys.executable, str(ROOT / "packaging" / "build_kernels.py"), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.parent == out and path.name.startswith("_kernels_aot.")
    loader = importlib.machinery.ExtensionFileLoader(kernels.AOT_MODULE, str(path))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(kernels.AOT_MODULE, loader))
    loader.exec_module(module)
    return module


#: Where the real entries find each kernel: (module, attribute).
SLOTS = {"rtpghi": (pghi, "_rtpghi"), "rtpghi_continue": (pghi, "_rtpghi_continue"),
         "magnitude": (reassign, "_magnitude")}


def njit_kernel(name: str):
    """Kernel ``name``'s numba JIT function (its one source)."""
    module, function, _ = kernels.KERNELS[name]
    return getattr(importlib.import_module(module), function)


@pytest.fixture
def use_jit(monkeypatch):
    """Route the real entries through numba's JIT kernels for one test."""
    for name, (module, attribute) in SLOTS.items():
        monkeypatch.setattr(module, attribute, njit_kernel(name))


@pytest.fixture
def use_aot(aot, monkeypatch):
    """A switch that routes the real entries through the ahead-of-time kernels."""
    def switch() -> None:
        for name, (module, attribute) in SLOTS.items():
            monkeypatch.setattr(module, attribute, getattr(aot, name))
    return switch


@pytest.fixture(scope="module")
def spectra() -> dict[str, torch.Tensor]:
    """A harmonic tone, a glide and a drum (1 s): magnitude, frequency, log density."""
    n = SR
    waves = [synth.harmonic(220, 1.0, 16), synth.chirp(100, 8000, 1.0), synth.drum()]
    wave = torch.stack([torch.tensor(np.resize(w, n), dtype=torch.float32) for w in waves])[:, None]
    cs = ComplexSpectrogram()
    spec = cs.waveform_to_complex_mel(wave)
    freq = cs._frequency_frames(spec)
    return {"mag": cs._magnitude_frames(spec, freq), "freq": freq, "log_density": cs._log_density(spec),
            "config": cs.config}


def render_all(s: dict) -> list[np.ndarray]:
    """Every kernel through its real entry: whole-clip PGHI, a stream in chunks, the magnitude."""
    config = s["config"]
    out = [pghi_phase(s["mag"], s["freq"], config, SR, seed=5).numpy()]
    logmag = np.log(np.maximum(s["mag"][1].numpy(), 1e-30))
    freq = s["freq"][1].numpy()
    state, chunks = None, []
    for lo in range(0, freq.shape[0] - 1, 10):
        hi = min(lo + 10, freq.shape[0] - 1)
        phase, states = pghi_continue(logmag[lo:hi + 1], freq[lo:hi], state, config, SR, seed=2)
        chunks.append(phase)
        state = states[-1]
    out += [np.concatenate(chunks), np.stack([st.phase for st in states])]
    for workers in (1, 2):
        out.append(magnitude_frames(s["log_density"], s["freq"], config, SR, workers=workers).numpy())
    return out


def test_a_module_is_used_only_when_built_from_the_current_sources(aot, monkeypatch):
    # A checkout whose kernels were edited since the last build runs the edited ones.
    assert aot.fingerprint() == kernels.source_fingerprint()
    monkeypatch.setitem(sys.modules, kernels.AOT_MODULE, aot)
    assert kernels._aot_module() is aot
    monkeypatch.setattr(kernels, "source_fingerprint", lambda: aot.fingerprint() + 1)
    assert kernels._aot_module() is None
    # The frozen app has no sources to hash and no JIT: it always takes the module.
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert kernels._aot_module() is aot


def test_the_fingerprint_follows_the_kernels_source_text_and_signatures(tmp_path, monkeypatch):
    source = tmp_path / "edited_kernels.py"
    source.write_text("def _kernel(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(kernels, "KERNELS", {"kernel": ("edited_kernels", "_kernel", "i8(i8)")})
    first = kernels.source_fingerprint()
    assert 0 < first < 2 ** 63 and kernels.source_fingerprint() == first
    source.write_text("def _kernel(x):\n    return x + 2\n")
    second = kernels.source_fingerprint()
    monkeypatch.setattr(kernels, "KERNELS", {"kernel": ("edited_kernels", "_kernel", "i4(i4)")})
    assert len({first, second, kernels.source_fingerprint()}) == 3
    assert "edited_kernels" not in sys.modules  # hashed, never imported (that imports numba)


def test_aot_kernels_give_the_jit_kernels_values(spectra, use_jit, use_aot):
    jit = render_all(spectra)
    use_aot()
    built = render_all(spectra)
    assert [a.shape for a in jit] == [(3, 94, 1025), (93, 1025), (3, 1025), (3, 94, 1025), (3, 94, 1025)]
    for a, b in zip(jit, built, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_callers_pass_exactly_the_exported_signatures(spectra, use_jit):
    render_all(spectra)
    for name, (module, function, signature) in kernels.KERNELS.items():
        compiled = set(getattr(importlib.import_module(module), function).signatures)
        assert compiled == {normalize_signature(signature)[0]}, name


def longest_stall(call) -> tuple[float, float]:
    """Run ``call`` in a thread; return (its duration, the longest this thread could not run)."""
    span, entered, finished = [], threading.Event(), threading.Event()

    def worker() -> None:
        entered.set()
        span.append(time.perf_counter())
        call()
        span.append(time.perf_counter())
        finished.set()

    ticks = []
    thread = threading.Thread(target=worker)
    thread.start()
    entered.wait()
    while not finished.is_set():
        ticks.append(time.perf_counter())  # pure Python: needs the GIL
    thread.join()
    start, end = span
    inside = [start, *(t for t in ticks if start < t < end), end]
    return end - start, max(np.diff(inside))


def kernel_args(name: str, entry, monkeypatch) -> tuple:
    """The arguments the real entry ``entry()`` passes to kernel ``name`` (its first call)."""
    module, attribute = SLOTS[name]
    seen = []
    with monkeypatch.context() as patch:
        patch.setattr(module, attribute, lambda *args: seen.append(args))
        entry()
    return seen[0]


@pytest.mark.parametrize("backend", ["jit", "aot"])
def test_the_kernels_release_the_gil(spectra, aot, monkeypatch, backend):
    # The real-time render thread runs them while the GUI thread keeps painting.
    # The three sounds one after the other, 30 times (~8500 frames): one call takes long
    # enough (tenths of a second) to tell a stall from the scheduler's noise.
    reps = 30
    mag, freq = (spectra[key].reshape(1, -1, spectra[key].shape[-1]).repeat(1, reps, 1)
                 for key in ("mag", "freq"))
    log_density = torch.cat(list(spectra["log_density"]), dim=-1)[None].repeat(1, 1, reps)
    logmag = np.log(np.maximum(mag[0].numpy(), 1e-30))
    config = spectra["config"]
    entries = {
        "rtpghi": lambda: pghi_phase(mag, freq, config, SR),
        "rtpghi_continue": lambda: pghi_continue(logmag, freq[0, :-1].numpy(), None, config, SR),
        "magnitude": lambda: magnitude_frames(log_density, freq, config, SR, workers=1),
    }
    for name, entry in entries.items():
        kernel = getattr(aot, name) if backend == "aot" else njit_kernel(name)
        args = kernel_args(name, entry, monkeypatch)
        kernel(*args)  # compiled (JIT) before it is timed
        duration, stall = longest_stall(lambda: kernel(*args))  # noqa: B023 (called before the next loop)
        assert stall < 0.5 * duration, f"{name}: blocked {stall * 1e3:.0f} of {duration * 1e3:.0f} ms"


def test_the_frozen_app_never_falls_back_to_numba(monkeypatch):
    # In the bundle there is no numba: a missing module must fail loudly, not look for one.
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(kernels, "AOT_MODULE", "distill.audio._no_such_kernels")
    with pytest.raises(ImportError):
        kernels._aot_module()
