"""Training benchmark: clips/s, seconds per epoch, where a step's time goes, peak memory.

Each case runs in a fresh process (its own peak RSS, its own thread pool) on the default
17 M-parameter model and representation, 2 threads unless told otherwise:

- ``all, STFT on 1 clip`` — every term: magnitude, IF and KL on every clip, the
  waveform (multi-resolution STFT) term on ``stft_loss_clips`` clip(s) (the shipped
  configuration until #14 measured training without the waveform term as better);
- ``all, STFT on 2 clips`` / ``on every clip`` — what a bigger waveform sub-batch costs;
- ``baseline (mag + IF + KL, default)`` — no waveform term: the shipped configuration
  now, and the cost the others compare to.

A step is timed part by part (data, forward, each loss term, backward, optimizer: the
composition of ``distill.training.steps.batch_losses``), and as a whole through the real
``steps.train_step`` ("step ms"). Medians over the measured steps, in ms.

    python benchmarks/train.py                      # generated dataset (24 files of 2 s)
    python benchmarks/train.py ~/sounds --batch-sizes 8 --json out.json
    python benchmarks/train.py --nproc 2 --threads 2   # DDP: 2 processes x 1 thread (gloo)
    python benchmarks/train.py ~/sounds --before old.json   # targets against an earlier run

``--nproc N`` runs each case under torchrun: N processes share ``--threads`` and the global
batch (``distill.training.distributed``: DDP, global BatchNorm, the losses averaged over
the processes, as ``distill train`` under torchrun does); clips/s is the global rate.

Measured (2-core Xeon VM shared with other engineers' jobs, load average 1.4-1.6, so step
times move by 10-30 % between runs; torch 2.13 CPU, 2 threads, 10 steps per case, 54
training clips)::

    case                           batch  step ms clips/s s/epoch RSS MiB   data forward  stft backward optim
    all, STFT on 1 clip (default)      8      295    27.1     2.1     733    2.2    77.9  30.5    145.9  25.0
    baseline (mag + IF + KL)           8      338    23.7     2.4     709    2.4    95.7   0.0    136.8  27.7
    all, STFT on 1 clip (default)     32      709    45.1     1.4     950    5.8   220.0  29.4    370.7  24.0
    baseline (mag + IF + KL)          32      802    39.9     1.6     917    6.9   236.9   0.0    372.2  28.1

Before (same machine, minutes earlier, load 2.6-2.8): batch 8 all / baseline 17-20 /
18-24 clips/s, 820-827 / 786-794 MiB, optim 80-89 ms; batch 32 27-51 / 32-46 clips/s,
1,185-1,195 / 1,113-1,119 MiB. What changed and what it says:

- the waveform term costs ~30 ms per step (one clip); the fused AdamW
  (``steps.make_optimizer``) saves more than that (25 ms instead of 55-90), so every term
  now trains at least as fast as the spectrogram-only baseline did;
- peak RSS at batch 32 under 1 GiB: the last step's gradients are freed before the
  forward (-68 MiB), LeakyReLU runs in place (-90 MiB of saved activations), the
  target's waveform is synthesised before the forward, and ``malloc_trim`` after each
  CPU step (``distill.training.memory``) keeps glibc's fragmented heap from creeping
  past the live peak (~780 MiB). Of that, ~610 MiB is fixed: the torch runtime (~220),
  ``torch._dynamo`` pulled in by any ``torch.optim`` optimizer (~70), weights, AdamW
  moments and (during the backward) gradients (~270); the forward activations of batch 32
  add ~210;
- measured and dropped: channels_last (same CPU time, no memory gained, and the fused
  AdamW then copies every channels_last weight), glibc's mmap threshold fixed low
  (~820-840 MiB but 15-60 % more CPU time), ``MALLOC_ARENA_MAX=1`` (no change), foreach AdamW
  (slower than fused).
- bfloat16 autocast (``TrainingConfig.precision``, "auto" on CPUs with AVX512-BF16/AMX),
  ``--precisions float32,bfloat16``, same machine, two series at load 1.3 (ms per step,
  every term): batch 8 255-348 -> 291-393 ms, batch 32 803-1096 -> 637-713 ms, peak RSS at
  batch 32 945 -> 826-838 MiB. In the quality benchmark's two concurrent 1-thread runs
  (batch 16, load 2-3) a step took 0.47 s instead of 0.75, and in the same 30 minutes the
  bfloat16 run made 2,848 steps against 1,784 and reconstructed better
  (``distill.training.presets``). An earlier trial, before the fused optimizer, on a CPU
  without native bfloat16, had measured it slower: "auto" keeps float32 there.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# isort: off
import distill  # noqa: F401  (sets OMP_WAIT_POLICY: it must come before torch loads OpenMP)
import numpy as np
import torch
# isort: on

from distill.audio import synth
from distill.audio.io import save_audio
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data import build_cache, make_datasets
from distill.models import (
    ConvVAE,
    instantaneous_frequency_loss,
    kl_divergence,
    magnitude_loss,
    multi_resolution_stft_loss,
)
from distill.models.config import LossWeights
from distill.threads import apply_thread_policy
from distill.training import steps
from distill.training.batches import epoch_batches, load_batches, steps_per_epoch
from distill.training.config import RunConfig, TrainingConfig
from distill.training.device import training_precision
from distill.training.distributed import Distributed
from distill.training.memory import trim_if_grown

#: The waveform term's weight where the "all" cases turn it on (the default until #14
#: measured the term off as better; ``LossWeights``).
WAVEFORM_WEIGHT = 0.005
#: Case name -> (loss weights, clips of a batch that get the waveform term; 0 = all).
CASES = {
    f"all, STFT on {TrainingConfig.stft_loss_clips} clip": (LossWeights(stft=WAVEFORM_WEIGHT),
                                                        TrainingConfig.stft_loss_clips),
    "all, STFT on 2 clips": (LossWeights(stft=WAVEFORM_WEIGHT), 2),
    "all, STFT on every clip": (LossWeights(stft=WAVEFORM_WEIGHT), 0),
    "baseline (mag + IF + KL, default)": (LossWeights(stft=0.0), 0),
}
PARTS = ("data", "forward", "magnitude", "instantaneous_frequency", "kl", "stft", "backward", "optimizer")


def synthetic_dataset(folder: Path, files: int = 24, seconds: float = 2.0) -> Path:
    """A deterministic folder of varied sounds (tones, plucks, bells, noise, drums)."""
    makers: list[Callable[[int], np.ndarray]] = [
        # Pitches cycle over ~5 octaves, so that any number of files stays audible.
        lambda i: synth.harmonic(110 * 2 ** (i % 35 / 7), seconds, rolloff=0.5 + (i % 4) / 2,
                                 vibrato=0.2 * (i % 3)),
        lambda i: synth.pluck(150 * 2 ** (i % 45 / 9), seconds, brightness=0.2 + 0.1 * (i % 7), seed=i),
        lambda i: synth.fm_bell(200 * 2 ** (i % 40 / 8), seconds, ratio=1.2 + 0.3 * (i % 4)),
        lambda i: synth.noise_burst(seconds, centre=500 * 2 ** (i % 6), bandwidth=0.5 + (i % 3), seed=i),
        lambda i: synth.drum(50 + 10 * (i % 6), min(seconds, 0.6 + 0.2 * (i % 3)), seed=i),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        save_audio(folder / f"sound_{i:02d}.wav", makers[i % len(makers)](i))
    return folder


def timed(fn: Callable[[], object], sync: Callable[[], None]) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - start


def instrumented_step(model, optimizer, scheduler, batches, setup: steps.LossSetup, beta: float,
                      sync: Callable[[], None]) -> dict[str, float]:
    """One step of ``steps.train_step``'s work, each part timed (seconds)."""
    t: dict[str, float] = {}
    optimizer.zero_grad(set_to_none=True)  # as train_step: the gradients are gone during the forward
    batch, t["data"] = timed(lambda: next(batches), sync)
    w = setup.weights
    k = batch.shape[0] if setup.stft_clips <= 0 else min(setup.stft_clips, batch.shape[0])
    target, t["stft"] = None, 0.0
    if w.stft:  # as batch_losses: the target's waveform before the forward

        def synthesize_target() -> torch.Tensor:
            with torch.no_grad():
                return setup.synthesize(batch[:k])

        target, t["stft"] = timed(synthesize_target, sync)
    (recon, mu, logvar), t["forward"] = timed(lambda: steps.forward(model, batch, setup.autocast), sync)
    mag, t["magnitude"] = timed(lambda: magnitude_loss(recon, batch), sync)
    inst, t["instantaneous_frequency"] = timed(lambda: instantaneous_frequency_loss(recon, batch), sync)
    kl, t["kl"] = timed(lambda: kl_divergence(mu, logvar), sync)
    total = w.magnitude * mag + w.instantaneous_frequency * inst + w.kl * beta * kl
    if target is not None:
        stft, seconds = timed(lambda: multi_resolution_stft_loss(setup.synthesize(recon[:k]), target),
                              sync)
        t["stft"] += seconds
        total = total + w.stft * stft
    _, t["backward"] = timed(total.backward, sync)

    def update() -> None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()

    _, t["optimizer"] = timed(update, sync)
    trim_if_grown()  # as train_step does on the CPU
    return t


def endless_batches(dataset, batch_size: int, device: torch.device, distributed: Distributed):
    epoch = 0
    while True:
        epoch += 1
        order = epoch_batches(len(dataset), batch_size, 0, epoch, max(2, distributed.world_size))
        yield from load_batches(dataset, distributed.shard_batches(order), device)


def measure_case(folder: Path, cache_dir: Path, case: str, batch_size: int, threads: int,
                 warmup: int, repeats: int, precision: str = "float32") -> dict:
    distributed = Distributed.from_environment()
    apply_thread_policy(max(1, threads // distributed.world_size))
    device = distributed.start(torch.device("cpu"))
    weights, stft_clips = CASES[case]
    run = RunConfig(training=TrainingConfig(batch_size=batch_size, loss_weights=weights,
                                            stft_loss_clips=stft_clips))
    cache = build_cache(folder, run.spectrogram, run.data, cache_dir)
    datasets = make_datasets(cache, run.training)
    torch.manual_seed(0)
    model = ConvVAE.from_config(run.model, run.spectrogram, run.data).to(device).train()
    network = distributed.wrap(model)
    reduce = distributed.mean_losses if distributed.active else None
    optimizer = steps.make_optimizer(model, run.training)
    scheduler = steps.make_scheduler(optimizer, run.training, total_steps=10_000)
    synthesize = steps.make_synthesize(ComplexSpectrogram(run.spectrogram), datasets.stats)
    autocast = training_precision(precision, device)
    setup = steps.LossSetup(weights, synthesize, stft_clips, autocast=autocast)
    beta, sync = run.training.kl_max_beta, (lambda: None)
    batches = endless_batches(datasets.train, batch_size, device, distributed)
    parts = [instrumented_step(network, optimizer, scheduler, batches, setup, beta, sync)
             for _ in range(warmup + repeats)][warmup:]
    whole = []
    for _ in range(repeats):
        batch = next(batches)
        start = time.perf_counter()
        steps.train_step(network, optimizer, scheduler, batch, setup, beta, 1.0, reduce_losses=reduce)
        whole.append(time.perf_counter() - start)
    distributed.close()
    median = {p: 1e3 * float(np.median([t[p] for t in parts])) for p in PARTS}
    step_s = float(np.median(whole))
    n_train = len(datasets.train)
    return {
        "case": case, "batch": batch_size, "precision": "bfloat16" if autocast else "float32",
        "threads": threads, "nproc": distributed.world_size,
        "steps": repeats,
        "parts_ms": median, "sum_ms": sum(median.values()), "train_step_ms": 1e3 * step_s,
        "clips_per_s": batch_size / step_s, "train_clips": n_train,
        "epoch_s": steps_per_epoch(n_train, batch_size) * step_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def format_table(rows: list[dict]) -> str:
    short = {"instantaneous_frequency": "IF", "magnitude": "mag", "optimizer": "optim"}
    width = max([31, *(len(r["case"]) + 1 for r in rows)])
    head = (f"{'case':<{width}}{'batch':>5}{'prec.':>6}{'step ms':>9}{'clips/s':>8}{'s/epoch':>8}"
            f"{'RSS MiB':>8}  " + " ".join(f"{short.get(p, p):>7}" for p in PARTS))
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['case']:<{width}}{r['batch']:>5}{r.get('precision', 'float32')[:4]:>6}"
                     f"{r['train_step_ms']:>9.0f}{r['clips_per_s']:>8.1f}"
                     f"{r['epoch_s']:>8.1f}{r['peak_rss_mib']:>8.0f}  "
                     + " ".join(f"{r['parts_ms'][p]:>7.1f}" for p in PARTS))
    epoch = rows[0]["train_clips"] if rows else 0
    return "\n".join(lines) + (f"\n(step ms: median of steps.train_step; parts in ms, medians of an "
                               f"instrumented step; s/epoch for {epoch} training clips)")


#: Issue #9's targets: peak RSS at batch 32, and every term at least as fast as the
#: spectrogram-only baseline was before the work (``--before``: that run's JSON).
TARGET_RSS_MIB = 1024
TARGET_BATCH = 32
EVERY_TERM = f"all, STFT on {TrainingConfig.stft_loss_clips} clip"


def format_targets(rows: list[dict], before: Path | None) -> str:
    """The targets' lines: met or MISSED."""
    lines = []
    for r in rows:
        if r["batch"] == TARGET_BATCH:
            verdict = "met" if r["peak_rss_mib"] <= TARGET_RSS_MIB else "MISSED"
            lines.append(f"target peak RSS <= {TARGET_RSS_MIB} MiB at batch {TARGET_BATCH}, {r['case']} "
                         f"({r.get('precision', 'float32')}): {r['peak_rss_mib']:.0f} MiB {verdict}")
    if before is None:
        lines.append("(pass --before OLD.json to compare every term with an earlier run's baseline)")
        return "\n".join(lines)
    old = {r["batch"]: r for r in json.loads(before.read_text())["rows"] if r["case"].startswith("baseline")}
    for r in rows:
        if r["case"].startswith(EVERY_TERM) and r["batch"] in old:
            base = old[r["batch"]]["clips_per_s"]
            verdict = "met" if r["clips_per_s"] >= base else "MISSED"
            lines.append(f"target every term >= the earlier baseline at batch {r['batch']}: "
                         f"{r['clips_per_s']:.1f} vs {base:.1f} clips/s {verdict}")
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", nargs="?", type=Path, help="dataset folder (default: generated)")
    p.add_argument("--batch-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[8, 32])
    p.add_argument("--cases", type=lambda s: s.split(";"), default=list(CASES),
                   help=f"';'-separated subset of: {'; '.join(CASES)}")
    p.add_argument("--precisions", type=lambda s: s.split(","), default=["auto"],
                   help="comma-separated TrainingConfig.precision values to measure, e.g. "
                   "float32,bfloat16 (default: auto, what training uses here)")
    p.add_argument("--threads", type=int, default=2, help="threads of all processes together")
    p.add_argument("--nproc", type=int, default=1, help="processes (DDP under torchrun, gloo)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=8, help="measured steps per case")
    p.add_argument("--cache-dir", type=Path, help="spectrogram cache (default: a temporary one)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--before", type=Path, help="an earlier run's --json: its baseline is the target "
                   "every term must reach")
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or synthetic_dataset(Path(tmp) / "sounds")
        cache_dir = args.cache_dir or Path(tmp) / "cache"
        if args.child:
            case, batch, precision = args.child.rsplit("|", 2)
            row = measure_case(folder, cache_dir, case, int(batch), args.threads, args.warmup, args.steps,
                               precision)
            if os.environ.get("RANK", "0") == "0":
                args.json.write_text(json.dumps(row))
            return 0
        build_cache(folder, cache_dir=cache_dir)  # once, outside the timed children
        rows = []
        for batch, precision, case in itertools.product(args.batch_sizes, args.precisions, args.cases):
            out = Path(tmp) / "row.json"
            launcher = ([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                         str(args.nproc), "--master_addr", "127.0.0.1", "--master_port",
                         str(free_port())] if args.nproc > 1 else [sys.executable])
            subprocess.run([*launcher, __file__, str(folder), "--child", f"{case}|{batch}|{precision}",
                            "--json", str(out), "--cache-dir", str(cache_dir), "--threads",
                            str(args.threads), "--warmup", str(args.warmup), "--steps",
                            str(args.steps)], check=True)
            rows.append(json.loads(out.read_text()))
            print(format_table(rows[-1:]).splitlines()[2], flush=True)
    print()
    print(format_table(rows))
    print(format_targets(rows, args.before))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
