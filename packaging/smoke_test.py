"""Smoke test of the frozen bundle (``make bundle-test``): does what a new user does first.

1. ``distill-studio --smoke-test`` headless (``QT_QPA_PLATFORM=offscreen``): the window,
   the demo dataset, one training step, the model opened in Explore. Fails on a non-zero
   exit, a Python traceback, a Qt platform plugin that cannot be loaded, or no ``ok``.
2. The bundle's CLI: ``distill info`` on a demo file, through ``distill-studio --cli`` and
   through the ``distill`` launcher beside it.
3. ``distill dataset`` on a 44.1 kHz file the test writes: librosa's resampling and its
   numba kernels must load from the bundle.
4. numba's cache went to the per-version folder the runtime hook chose, and is not empty.

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
)
TIMEOUT_S = 600


def isolated_env(home: Path) -> dict[str, str]:
    """The user's environment with empty config/cache/data folders and no display."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"))
    env.pop("NUMBA_CACHE_DIR", None)  # the bundle's runtime hook chooses it
    return env


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

        numba_dirs = list((home / "cache" / "distill-studio").glob("numba-*"))
        cached = [p for d in numba_dirs for p in d.rglob("*.nbi")]
        if not cached:
            raise AssertionError(f"no numba cache index under {home / 'cache' / 'distill-studio'}")
        print(f"numba cache: {len(cached)} kernels in {numba_dirs[0].name}")
    print("bundle smoke test passed")


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
