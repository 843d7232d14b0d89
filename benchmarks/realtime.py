"""Real-time benchmark: a moving hand on a real stream, through RealtimeLoop and the engine.

A JACK server on the dummy backend (48 kHz, 256-frame blocks: a real, paced PortAudio
device without a sound card) plays what ``RealtimeLoop`` renders from a sweep of control
states, 20 changes a second for ``--seconds`` (default 30) in stream mode, moving along
the latent analysis' axes (a random path without analysis). Reported:

- control-to-sound latency p50/p95/max (the engine's, from each state's time stamp to
  its first sample at the DAC), renders per second, states skipped, late splices,
  underruns (PortAudio's flag) and dropouts (the ring ran dry while playing);
- seams, on a tap of exactly what the callback played: the largest sample-to-sample
  jump within 2 samples of a splice point vs everywhere else, and the spectral flux
  (positive log-magnitude change, n_fft 1024 / hop 256) of the frames that cover a
  splice vs the others.

    python benchmarks/realtime.py --model M.distill             # idle
    python benchmarks/realtime.py --model M.distill --train     # a Trainer runs in this process
    python benchmarks/realtime.py --model M.distill --train-process  # the same, in a child process
    python benchmarks/realtime.py --train --train-threads 2 --json out.json
    python benchmarks/realtime.py --osc-flood 10000 --model M.distill  # see benchmarks/osc_flood.py

Without ``--model`` the newest ``*.distill`` in the user data folder is used, else a
randomly initialised full-size ConvVAE (the same decode cost, noise for sound).

Measured on the 2-core VM (Xeon with AMX: bfloat16 decode), demo model, 30 s sweeps of
600 states, quiet machine (load average ~1) unless said; "training" is the studio's own
way, a child process at nice 10 (``--train-process``), except the in-process row:

    run                                   p50 / p95 / max ms   underruns  gaps  late
    idle, JACK without real-time          22.2 / 26.2 / 36.7   0          0     0
    idle, JACK real-time                  21.4 / 25.6 / 31.3   0          0     0
    training, JACK real-time (2 runs)     23.3-24.5 / 27.9-30.5 / 33-36   0   0     0
    training, JACK without real-time      24.1 / 28.1 / 37.3   0          0     0
    training in-process (a thread), RT    22-24 / 26 / 35-193  2-4        0     0
    load 4-5 of other programs, RT        23.7 / 27.7 / 31.8   0          0     0
      ... the render thread not real-time 27.4 / 38.7 / 131    26         4     0

    seams: largest jump within 2 samples of a splice 0.66-0.91, elsewhere 0.99-1.14 (the
    sound's own attacks; 99.9th percentile 0.56); spectral flux at joins 0.443-0.449,
    elsewhere 0.461-0.467 — a join is not measurable. Renders 18.5-19.8 per second.

Where the latency goes: decode ~5 ms (the loop's bfloat16 copy; float32 ~10 ms) + the
splice's synthesis (p95 ~3 ms) + the wait for the next callback (half a 5.3 ms block on
average: a splice lands right after the block the callback has claimed, see
``distill.audio.ring``) + the device's 10.7 ms (two JACK periods). Before (float32, one
block of guard and one of margin): p50 39-40 ms.

What made the training rows clean (each measured here, see the commits): training in a
child process (no GIL shared; in-process threads gave 49 underruns without JACK
real-time), the render thread at SCHED_FIFO while the host is real-time (on a host whose
server is not, a FIFO renderer gave 712 underruns), the heap frozen at rest points (a full
collection held the GIL 111 ms), checkpoints written in 1 MiB pieces (one 200 MB write()
stalled the other core). A GIL switch interval of 0.5 ms (``PlaybackEngine.start``)
measured 3 underruns in 15 s where Python's default 5 ms gave 9.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# isort: off
import distill  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads OpenMP)
import torch
# isort: on
import numpy as np

from distill.audio.playback import PlaybackEngine
from distill.audio.ring import RingTap
from distill.render import ControlState, RealtimeConfig, RealtimeLoop, Renderer
from distill.threads import BACKGROUND_NICE, lower_thread_priority, settle_heap

CHANGES_PER_SECOND = 20
SEAM_RADIUS = 2


def find_model(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    from platformdirs import user_data_dir

    root = Path(user_data_dir("distill-studio"))
    found = sorted(root.glob("**/*.distill"), key=lambda p: p.stat().st_mtime)
    if found:
        return found[-1]
    from distill.audio.config import ComplexSpectrogramConfig
    from distill.audio.normalization import NormalizationStats
    from distill.data.config import DataConfig
    from distill.models import ConvVAE, save_model

    path = Path(tempfile.mkdtemp()) / "random.distill"
    torch.manual_seed(0)
    save_model(path, ConvVAE(), spectrogram=ComplexSpectrogramConfig(), data=DataConfig(),
               normalization=NormalizationStats(magnitude_scale=20.0))
    return path


def sweep(renderer: Renderer, n: int, seed: int = 0) -> list[torch.Tensor]:
    """``n`` latents along a smooth path: the analysis' axes (Lissajous), else a random walk."""
    t = np.arange(n) / CHANGES_PER_SECOND
    analysis = renderer.analysis
    if analysis is not None and analysis.space.num_axes > 0:
        space = analysis.space
        lo, hi = np.asarray(space.low, dtype=np.float64), np.asarray(space.high, dtype=np.float64)
        k = np.arange(lo.shape[0])
        x = 0.5 + 0.45 * np.sin(2 * np.pi * (0.13 + 0.07 * k)[None] * t[:, None] + k[None])
        values = torch.as_tensor(lo + (hi - lo) * x, dtype=torch.float32)
        return [space.controls_to_latent(v) for v in values]
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.standard_normal((n, renderer.latent_dim)) * 0.05, axis=0)
    return [torch.as_tensor(w, dtype=torch.float32) for w in walk]


def seam_measures(audio: np.ndarray, splices: list[int], start: int, end: int) -> dict[str, float]:
    audio = audio[start:end]
    points = np.array([s - start for s in splices if start + 4096 < s < end - 4096], dtype=np.int64)
    jumps = np.abs(np.diff(audio))
    near = np.zeros(jumps.shape[0], dtype=bool)
    for p in points:
        near[max(0, p - SEAM_RADIUS):p + SEAM_RADIUS] = True
    spec = torch.stft(torch.from_numpy(audio), 1024, 256, window=torch.hann_window(1024), return_complex=True)
    logmag = torch.log(spec.abs() + 1e-5)
    flux = torch.relu(logmag[:, 1:] - logmag[:, :-1]).mean(dim=0).numpy()  # frame t-1 -> t
    frame_of = points // 256
    at_join = np.zeros(flux.shape[0], dtype=bool)
    for f in frame_of:
        at_join[max(0, f - 1):f + 4] = True  # frames whose window covers the splice
    return {
        "jump_at_splices": float(jumps[near].max()) if near.any() else float("nan"),
        "jump_elsewhere": float(jumps[~near].max()),
        "jump_p999_elsewhere": float(np.quantile(jumps[~near], 0.999)),
        "flux_at_joins": float(flux[at_join].mean()) if at_join.any() else float("nan"),
        "flux_elsewhere": float(flux[~at_join].mean()),
        "longest_silence_ms": longest_silence(audio) * 1000 / 48_000,
    }


def longest_silence(audio: np.ndarray, threshold: float = 1e-4) -> int:
    quiet = np.abs(audio) < threshold
    best = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        best = max(best, run)
    return best


def start_training(threads: int, nice: int, process: bool) -> tuple[threading.Thread, object]:
    """Train on resources/demo while the sweep plays: as the studio does (``process``: a
    spawned child at nice 10, ``distill.training.child``), or on a thread of this process at
    ``nice``. Returns the thread that runs or relays it, and what ``cancel`` stops it."""
    from distill.training.child import TrainingProcess
    from distill.training.config import RunConfig, TrainingConfig
    from distill.training.events import TrainingControl
    from distill.training.run import train

    root = Path(tempfile.mkdtemp())
    setup = RunConfig(training=TrainingConfig(epochs=10_000, num_threads=threads, device="cpu"))
    job = dict(explicit=("epochs", "num_threads", "device"), cache_dir=root / "cache",
               checkpoint_dir=root / "ckpt")
    demo = Path(__file__).resolve().parents[1] / "resources" / "demo"
    if process:
        control = TrainingProcess(demo, root / "t.distill", setup, **job)
        work = control.run
    else:
        control = TrainingControl()

        def work() -> None:
            if nice:
                lower_thread_priority(nice)  # as the studio's training thread did
            train(demo, root / "t.distill", setup, control=control, **job)

    def run() -> None:
        try:
            work()
        except Exception as exc:  # cancelled, or a failure: the benchmark reports what it measured
            print(f"training stopped: {type(exc).__name__}: {exc}", file=sys.stderr)

    thread = threading.Thread(target=run, name="training", daemon=True)
    thread.start()
    return thread, control


def run_benchmark(args: argparse.Namespace) -> dict:
    renderer = Renderer.from_file(find_model(args.model))
    engine = PlaybackEngine()
    if not engine.start(rescan=True):
        raise SystemExit(f"no audio device: {engine.error}")
    if args.switch_interval_ms:
        sys.setswitchinterval(args.switch_interval_ms / 1000)  # override the engine's choice
    config = RealtimeConfig()
    if args.margin_blocks is not None:
        config = config.replace(margin_blocks=args.margin_blocks)
    if args.precision:
        config = config.replace(decode_precision=args.precision)
    if args.normal_scheduling:
        config = config.replace(realtime_scheduling=False)
    loop = RealtimeLoop(renderer, engine, config)
    t0 = time.perf_counter()
    if not loop.start(timeout=120):
        raise SystemExit(f"the loop did not start: {loop.stats().error}")
    warm_s = time.perf_counter() - t0
    settle_heap()  # as the studio does once a model is open (a full collection held the GIL 111 ms)
    training = None
    if args.train or args.train_process:
        training = start_training(args.train_threads, args.train_nice, process=args.train_process)
        time.sleep(args.train_warmup)  # past dataset caching, into the epochs
    tap = RingTap(engine.ring, int((args.seconds + 5) * engine.sample_rate))
    n = int(args.seconds * CHANGES_PER_SECOND)
    latents = sweep(renderer, n)
    engine.reset_counters()
    start_sample = engine.ring.read_pos
    began = time.perf_counter()
    for i, z in enumerate(latents):
        target = began + i / CHANGES_PER_SECOND
        time.sleep(max(0.0, target - time.perf_counter()))
        loop.submit(ControlState(z, time.perf_counter()))
    time.sleep(0.3)
    end_sample = engine.ring.read_pos
    telemetry, stats = engine.telemetry(), loop.stats()
    if training is not None:
        training[1].cancel()
    loop.close()
    engine.close()
    if training is not None:
        training[0].join(timeout=60)
    elapsed = time.perf_counter() - began
    return {
        "mode": "training" if args.train else "training process" if args.train_process else "idle",
        "jack_realtime": args.jack_realtime,
        "switch_interval_ms": sys.getswitchinterval() * 1000,
        "margin_blocks": config.margin_blocks,
        "decode_precision": stats.decode_precision,
        "render_scheduling": stats.scheduling,
        "train_threads": args.train_threads if args.train or args.train_process else None,
        "train_nice": args.train_nice if args.train else BACKGROUND_NICE if args.train_process else None,
        "warm_up_s": warm_s,
        "states": n,
        "latency_ms_p50": telemetry.latency_p50_ms,
        "latency_ms_p95": telemetry.latency_p95_ms,
        "latency_ms_max": telemetry.latency_max_ms,
        "renders_per_s": stats.renders / elapsed,
        "skipped": stats.skipped,
        "late_splices": stats.late_splices,
        "torn_splices": engine.ring.torn,
        "underruns": telemetry.underruns,
        "dropouts": telemetry.dropouts,
        "render_ms_p50": stats.render_ms_p50,
        "decode_ms_p50": stats.decode_ms_p50,
        "synth_ms_p95": stats.synth_ms_p95,
        **seam_measures(tap.audio, tap.splices, start_sample + 4096, min(end_sample, tap.audio.shape[0])),
    }


def with_jack(name: str, realtime: bool, fn, *args):
    if not shutil.which("jackd"):
        raise SystemExit("jackd is not installed")
    os.environ["JACK_DEFAULT_SERVER"] = name
    # --jack-realtime: JACK's threads and its clients' process threads (PortAudio's, which
    # runs our callback) get SCHED_FIFO, as on a musician's JACK setup; needs the right to
    # real-time scheduling (root or rtprio in limits.conf).
    schedule = ["-R", "-P", "70"] if realtime else ["--no-realtime"]
    proc = subprocess.Popen(["jackd", "-n", name, *schedule, "-d", "dummy", "-r", "48000", "-p", "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if subprocess.run(["jack_wait", "-w", "-t", "10"], capture_output=True).returncode:
            # JACK keeps at most 8 servers in its registry; servers killed without cleanup
            # keep their slot until a server of the same name starts (--jack-name).
            raise SystemExit("jackd did not start (run `jackd -n NAME -d dummy` to see why)")
        return fn(*args)
    finally:
        import sounddevice as sd

        sd._terminate()  # close PortAudio's JACK client while the server is up
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file (default: newest in the user data dir, else random)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--train", action="store_true", help="train on resources/demo in this process")
    parser.add_argument("--train-process", action="store_true",
                        help="the same training in a child process, as the studio does")
    parser.add_argument("--train-threads", type=int, default=1, help="training's torch threads (0 = all)")
    parser.add_argument("--train-nice", type=int, default=BACKGROUND_NICE,
                        help="training thread's nice value, as in the studio (0 = same priority as playing)")
    parser.add_argument("--train-warmup", type=float, default=8.0, help="training seconds before the sweep")
    parser.add_argument("--margin-blocks", type=float, help="RealtimeConfig.margin_blocks (default: its own)")
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"),
                        help="RealtimeConfig.decode_precision (default: its own, auto)")
    parser.add_argument("--normal-scheduling", action="store_true",
                        help="the render thread without real-time scheduling (RealtimeConfig)")
    parser.add_argument("--switch-interval-ms", type=float, help="override the GIL switch interval")
    parser.add_argument("--jack-name", help="JACK server name (default: distill-bench-PID)")
    parser.add_argument("--jack-realtime", action="store_true",
                        help="run JACK (and PortAudio's process thread) with real-time scheduling")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--osc-flood", type=int, metavar="N",
                        help="instead of the sweep: N OSC messages in one second into the studio's "
                             "control surface while it plays (benchmarks/osc_flood.py)")
    parser.add_argument("--flood-window", type=float, default=3.0,
                        help="seconds measured quiet, then from the flood's start (with --osc-flood)")
    args = parser.parse_args()
    name = args.jack_name or f"distill-bench-{os.getpid()}"
    if args.osc_flood:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # app/ for the studio's path
        from osc_flood import run_osc_flood

        row = with_jack(name, args.jack_realtime, run_osc_flood, args, find_model)
    else:
        row = with_jack(name, args.jack_realtime, run_benchmark, args)
    width = max(len(k) for k in row)
    for key, value in row.items():
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {text}")
    if args.json:
        args.json.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
