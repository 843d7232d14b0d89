"""Smoke test of the frozen bundle (``make bundle-test``): does what a new user does first.

1. ``distill-studio --smoke-test`` headless (``QT_QPA_PLATFORM=offscreen``): the window,
   the demo dataset, one training step, the model opened in Explore. Fails on a non-zero
   exit, a Python traceback, a Qt platform plugin that cannot be loaded, or no ``ok``.
2. The bundle's CLI: ``distill info`` on a demo file, through ``distill-studio --cli`` and
   through the ``distill`` launcher beside it.
3. ``distill dataset`` on a 44.1 kHz file the test writes (soxr's resampling), and
   ``distill reconstruct`` of it without a model: the whole PGHI inverse, on the
   ahead-of-time kernels.
4. ``distill-studio --bundle-report``: the frozen app runs the ahead-of-time kernels
   (``distill.audio.kernels.BACKEND == "aot"``) and cannot import the packages the spec
   leaves out (numba, llvmlite, librosa, scikit-learn, scipy, ...); the bundle holds the
   kernels' module and none of those packages.

Each run gets its own empty XDG folders, so every check is a first start. Usage:
``python packaging/smoke_test.py [dist/distill-studio]``; exit status 0 when all pass.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "dist" / "distill-studio"
#: Output that means the bundle is broken even when the exit status says otherwise.
FAILURE_MARKERS = (
    "Traceback (most recent call last)",
    "Could not find the Qt platform plugin",
    "Could not load the Qt platform plugin",
    "no Qt platform plugin could be initialized",
    "ModuleNotFoundError",
    # torch reading a source the bundle left out (distill-studio.spec: torch's sources).
    "Unable to retrieve source",
)
TIMEOUT_S = 600


def isolated_env(home: Path) -> dict[str, str]:
    """The user's environment with empty config/cache/data folders and no display."""
    return dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(home / "config"),
                XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"))


def run(command: list[str], env: dict[str, str], check_last_line: str | None = None) -> str:
    """Run one bundle command; raise ``AssertionError`` with its output when it fails."""
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    output = done.stdout + done.stderr
    problems = [f"exit status {done.returncode}"] if done.returncode else []
    problems += [f"output contains {marker!r}" for marker in FAILURE_MARKERS if marker in output]
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if check_last_line is not None and (not lines or lines[-1] != check_last_line):
        problems.append(f"the last line of stdout is not {check_last_line!r}")
    if problems:
        raise AssertionError(f"{' '.join(command)}: {'; '.join(problems)}\n{output}")
    return done.stdout


def write_resampled_folder(folder: Path) -> Path:
    """A folder holding one 1.2 s tone at 44.1 kHz (the studio resamples it to 48 kHz)."""
    folder.mkdir(parents=True)
    t = np.arange(int(44_100 * 1.2)) / 44_100
    sf.write(folder / "tone_44k.wav", (0.5 * np.sin(2 * np.pi * 330.0 * t)).astype(np.float32), 44_100)
    return folder


def smoke_test(bundle: Path) -> None:
    exe = bundle / "distill-studio"
    if not exe.exists():
        raise AssertionError(f"no bundle at {bundle}: run `make bundle` first")
    demo_file = next((bundle / "_internal" / "resources" / "demo").glob("bell_1.flac"))
    with tempfile.TemporaryDirectory(prefix="distill-bundle-") as tmp:
        home = Path(tmp)
        env = isolated_env(home)

        print(run([str(exe), "--smoke-test"], env, check_last_line="ok"), end="")

        info = run([str(exe), "--cli", "info", str(demo_file)], env)
        if "48000 Hz" not in info:
            raise AssertionError(f"distill info did not describe {demo_file}:\n{info}")
        launcher = bundle / "distill"
        if launcher.exists():
            run([str(launcher), "info", "--json", str(demo_file)], env)
        print(info, end="")

        folder = write_resampled_folder(home / "sounds")
        report = json.loads(run([str(exe), "--cli", "dataset", str(folder), "--cache-dir",
                                 str(home / "dataset-cache"), "--json"], env))
        if report["summary"]["ok"] != 1:
            raise AssertionError(f"distill dataset did not accept the 44.1 kHz file: {report}")
        print(f"dataset: {report['summary']}")

        out = home / "reconstructed.wav"
        run([str(exe), "--cli", "reconstruct", str(folder / "tone_44k.wav"), "-o", str(out)], env)
        wave, sr = sf.read(out)
        if sr != 48_000 or abs(len(wave) - int(1.2 * 48_000)) > 1 or not np.abs(wave).max() > 0.1:
            raise AssertionError(f"distill reconstruct wrote {len(wave)} samples at {sr} Hz, "
                                 f"peak {np.abs(wave).max():.3f}")
        print(f"reconstruct: {len(wave)} samples at {sr} Hz")

        check_kernels(bundle, exe, env)
    print("bundle smoke test passed")


def check_kernels(bundle: Path, exe: Path, env: dict[str, str]) -> None:
    """The frozen app runs the ahead-of-time kernels, and numba & co. are not in the bundle."""
    report = json.loads(run([str(exe), "--bundle-report"], env).strip().splitlines()[-1])
    if report["kernels"] != "aot" or any(report["importable"].values()):
        raise AssertionError(f"the frozen app should run the ahead-of-time kernels and import "
                             f"none of the packages left out: {report}")
    internal = bundle / "_internal"
    modules = list((internal / "distill" / "audio").glob("_kernels_aot.*"))
    present = [name for name in report["importable"] if (internal / name).exists()]
    if not modules or present:
        raise AssertionError(f"kernels' module: {modules}; left-out packages in the bundle: {present}")
    print(f"kernels: {report['kernels']} ({modules[0].name}); not importable: "
          f"{', '.join(report['importable'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, nargs="?", default=DEFAULT_BUNDLE,
                        help="the onedir bundle folder (default: dist/distill-studio)")
    args = parser.parse_args(argv)
    try:
        smoke_test(args.bundle.resolve())
    except (AssertionError, subprocess.TimeoutExpired) as exc:
        print(f"bundle smoke test FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
