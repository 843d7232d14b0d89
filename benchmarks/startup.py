"""Whole-process start-up: how long a user waits for the CLI and the studio, cold and warm.

Each row starts a fresh Python process and measures its wall clock (and peak RSS, from
``wait4``) to the end, or to the line that says the thing is usable:

- ``--help``         ``distill --help``
- ``info``           ``distill info MODEL``
- ``generate 4 s``   ``distill generate MODEL -o x.wav --duration 4``
- ``import torch``   ``python -c "import torch"``: the floor under every command that runs the
                     model (``generate``, the studio); ``--help`` and ``info`` never import it
- ``studio window``  ``distill-studio --startup-time`` (offscreen): process start to ``window shown``
- ``model load``     in one process: ``load_model`` + ``Renderer`` (what the studio's loader does)
- ``playable``       then a ``RealtimeLoop`` (no audio device) from start to ready: the time
                     between a model's load finishing and its controls being usable

Cold = empty user folders and an empty numba cache (a first start of this version); warm =
the same folders again. The OS file cache is not dropped (that needs root and slows every
other process). Warm figures are the median of ``--runs``; the machine's load average is
printed with them, as other jobs share the cores.

    python benchmarks/startup.py MODEL [--runs 5] [--source DIR] [--json out.json]

MODEL: any model file, e.g. ``distill train resources/demo -o /tmp/demo.distill --epochs 3``.
``--source DIR`` times another checkout's ``distill``/``app`` (e.g. ``git archive HEAD``
unpacked) with this interpreter, for a before/after table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

#: A process that runs longer is killed and its row fails.
TIMEOUT_S = 120.0

#: name -> (seconds, MiB or None): the issue's targets.
TARGETS: dict[str, tuple[float, float | None]] = {
    "--help": (0.5, None),
    "info": (0.5, None),
    "generate 4 s": (1.5, 500.0),
    "studio window": (3.0, None),
    "playable": (0.5, None),
}

#: Runs in the child for the model rows: prints ``load S`` and ``playable S``.
OPEN_SCRIPT = """
import sys, time
t0 = time.perf_counter()
import distill
from distill.audio.playback import PlaybackEngine
from distill.models import load_model
from distill.render import RealtimeLoop, Renderer
t1 = time.perf_counter()
renderer = Renderer(load_model(sys.argv[1]))
t2 = time.perf_counter()
loop = RealtimeLoop(renderer, PlaybackEngine())
ok = loop.start(timeout=120)
t3 = time.perf_counter()
loop.close()
print(f"imports {t1 - t0:.3f}", flush=True)
print(f"load {t2 - t1:.3f}", flush=True)
print(f"playable {t3 - t2:.3f} {ok}", flush=True)
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float
    marks: dict[str, float]


def run_process(argv: list[str], env: dict[str, str], cwd: Path, marker: str | None = None) -> Run:
    """Start ``argv``; wall seconds to its end (or to a line starting with ``marker``), peak RSS.

    ``cwd`` is not the checkout: ``python -m`` puts the working folder first on the path.
    """
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    seen, lines = None, []
    watchdog = threading.Timer(TIMEOUT_S, process.kill)
    watchdog.start()
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if marker is not None and seen is None and line.startswith(marker):
            seen = time.perf_counter() - started
            # What it does after the marker (the studio joining a file-analysis worker on
            # close) is not start-up: stop it.
            process.terminate()
    _, status, usage = os.wait4(process.pid, 0)
    watchdog.cancel()
    ended = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode and seen is None:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}:\n{''.join(lines)[-3000:]}")
    if marker is not None and seen is None:
        raise RuntimeError(f"{' '.join(argv)} never printed {marker!r}:\n{''.join(lines)[-3000:]}")
    marks = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("imports", "load", "playable"):
            marks[parts[0]] = float(parts[1])
    return Run(seen if seen is not None else ended, usage.ru_maxrss / 1024, marks)


def environment(home: Path, source: Path) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"),
               NUMBA_CACHE_DIR=str(home / "numba"))
    env["PYTHONPATH"] = str(source) + os.pathsep + env.get("PYTHONPATH", "")
    return env


#: Rows in the order they run ("model open" gives two: "model load" and "playable").
ROWS = ("--help", "info", "generate 4 s", "import torch", "studio window", "model open")


def commands(model: Path, out_dir: Path) -> dict[str, tuple[list[str], str | None]]:
    py = sys.executable
    return {
        "--help": ([py, "-m", "distill", "--help"], None),
        "info": ([py, "-m", "distill", "info", str(model)], None),
        "generate 4 s": ([py, "-m", "distill", "generate", str(model), "-o", str(out_dir / "x.wav"),
                          "--duration", "4"], None),
        "import torch": ([py, "-c", "import torch"], None),
        "studio window": ([py, "-m", "app.main", "--startup-time"], "window shown"),
        "model open": ([py, "-c", OPEN_SCRIPT, str(model)], None),
    }


def measure(model: Path, runs: int, sources: list[Path], skip: set[str]) -> dict[str, dict[str, dict]]:
    """``{source: {row: figures}}``. With several sources the runs alternate between them
    (cold A, cold B, warm A, warm B, ...), so a change in the machine's load hits all alike."""
    results: dict[str, dict[str, dict]] = {str(src): {} for src in sources}
    with tempfile.TemporaryDirectory(prefix="distill-startup-") as tmp:
        homes = [Path(tmp) / f"home{i}" for i in range(len(sources))]
        envs = [environment(home, src) for home, src in zip(homes, sources, strict=True)]
        for name in ROWS:
            if name in skip:
                continue
            runs_of: list[list[Run]] = [[] for _ in sources]
            for i, home in enumerate(homes):
                # Cold: empty folders (numba's cache is per source and shared between rows,
                # so only the first row to use PGHI compiles it).
                for sub in ("config", "cache", "data", "numba"):
                    _clear(home / sub)
                argv, marker = commands(model, home)[name]
                runs_of[i].append(run_process(argv, envs[i], home, marker))
            for _ in range(runs):
                for i, home in enumerate(homes):
                    argv, marker = commands(model, home)[name]
                    runs_of[i].append(run_process(argv, envs[i], home, marker))
            for src, (cold, *warm) in zip(sources, runs_of, strict=True):
                out = results[str(src)]
                if name == "model open":
                    for mark, row in (("load", "model load"), ("playable", "playable")):
                        out[row] = {"cold_s": cold.marks[mark], "warm_s": [w.marks[mark] for w in warm],
                                    "peak_mib": None}
                else:
                    out[name] = {"cold_s": cold.seconds, "warm_s": [w.seconds for w in warm],
                                 "peak_mib": max(w.peak_mib for w in warm)}
    return results


def _clear(path: Path) -> None:
    if path.exists():
        for child in sorted(path.rglob("*"), reverse=True):
            child.rmdir() if child.is_dir() else child.unlink()
    path.mkdir(parents=True, exist_ok=True)


def print_table(results: dict[str, dict], title: str) -> None:
    print(f"\n{title}")
    print(f"{'process':15s} {'cold s':>7s} {'warm s':>7s} {'(min)':>6s} {'peak MiB':>9s}  target")
    for name, r in results.items():
        warm = statistics.median(r["warm_s"])
        peak = "" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            seconds, mib = target
            met = warm <= seconds and (mib is None or r["peak_mib"] is None or r["peak_mib"] <= mib)
            limit = f"<= {seconds:g} s" + (f", {mib:g} MiB" if mib else "")
            verdict = f"{limit:18s} {'met' if met else 'MISSED'}"
        print(f"{name:15s} {r['cold_s']:7.2f} {warm:7.2f} {min(r['warm_s']):6.2f} {peak:>9s}  {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a model file to open")
    parser.add_argument("--runs", type=int, default=5, help="warm runs per row (default 5)")
    parser.add_argument("--source", type=Path, action="append", default=[],
                        help="checkout whose distill/app to time (PYTHONPATH; repeat to compare, "
                             "'.' = this one; default: this one)")
    parser.add_argument("--skip", action="append", default=[], metavar="ROW",
                        help=f"leave out a row ({', '.join(ROWS)})")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parents[1]
    sources = [(here if str(s) == "." else s).resolve() for s in args.source] or [here]
    before = os.getloadavg()[0]
    results = measure(args.model.resolve(), args.runs, sources, set(args.skip))
    after = os.getloadavg()[0]
    note = (f"warm = median of {args.runs}, runs alternating between sources; load average "
            f"{before:.2f} before, {after:.2f} after; {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores")
    for source, rows in results.items():
        print_table(rows, f"{source}: {note}")
    if args.json:
        args.json.write_text(json.dumps({"note": note, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
