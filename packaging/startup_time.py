"""Time to a usable window, cold and warm, for the bundle or the venv app.

Starts ``distill-studio --startup-time`` (the window opens, prints ``window shown`` once
the event loop has shown it, and closes) and measures the wall clock from the process
start to that line. Cold: empty user folders (a first start; for the venv app also an
empty numba cache; the bundle has no numba, its kernels come compiled). Warm: the same
folders again, so settings, the demo dataset's cache and (venv) numba's cache exist. The
OS file cache is not dropped (that needs root and slows every other process), so cold
here means "first start of this version", not "first read from disk".

``python packaging/startup_time.py dist/distill-studio/distill-studio``
``python packaging/startup_time.py .venv/bin/distill-studio --runs 3``
Prints one JSON document: cold and warm seconds (warm: every run, and the median).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARKER = "window shown"
TIMEOUT_S = 300


def time_to_window(exe: Path, home: Path) -> float:
    """Seconds from starting ``exe --startup-time`` to its ``window shown`` line."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"),
               XDG_DATA_HOME=str(home / "data"), NUMBA_CACHE_DIR=str(home / "numba"))
    started = time.perf_counter()
    process = subprocess.Popen([str(exe), "--startup-time"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    shown, output = None, []
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        if shown is None and line.startswith(MARKER):
            shown = time.perf_counter() - started
    process.wait(timeout=TIMEOUT_S)
    if shown is None or process.returncode:
        raise RuntimeError(f"{exe} --startup-time (exit {process.returncode}):\n{''.join(output)}")
    return shown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exe", type=Path, help="the distill-studio executable to time")
    parser.add_argument("--runs", type=int, default=3, help="warm starts to time (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="distill-startup-") as tmp:
        home = Path(tmp)
        cold = time_to_window(args.exe, home)
        warm = [time_to_window(args.exe, home) for _ in range(args.runs)]
    print(json.dumps({"exe": str(args.exe), "cold_s": round(cold, 2),
                      "warm_s": [round(w, 2) for w in warm],
                      "warm_median_s": round(statistics.median(warm), 2)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
