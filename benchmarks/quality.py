"""Reconstruction quality after a fixed training budget, on files the model never saw.

Trains the default model on FOLDER (default: the generated dataset of
``benchmarks/train.py``) for about ``--seconds`` of wall-clock time, the split made by file
so whole files are held out, then measures, clip by clip against the original audio
(``distill.audio.metrics``: multi-resolution log-magnitude L1 and spectral convergence):

- ``round trip``: the 2-channel representation of the clip straight back to audio — the
  ceiling the model can reach;
- ``model``: the clip through the VAE (posterior mean), then back to audio;

both through the same PGHI inverse, for the held-out files and for as many training
files (seen clips, for comparison).

    python benchmarks/quality.py                       # generated dataset, 120 s of training
    python benchmarks/quality.py ~/sounds --seconds 600 --json quality.json

The number of epochs is chosen from a measured step time so that the run (with its
warm-ups and learning-rate schedule) ends within the budget; a timer cancels it if it
would not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import threading
import time
from pathlib import Path

# isort: off
import distill  # noqa: F401  (sets OMP_WAIT_POLICY: it must come before torch loads OpenMP)
import numpy as np
import torch
# isort: on

from distill.audio.io import load_audio
from distill.audio.metrics import log_magnitude_l1, spectral_convergence
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data import DatasetCache, build_cache, file_clips, make_datasets
from distill.models import ConvVAE, load_model
from distill.threads import apply_thread_policy
from distill.training import steps
from distill.training.batches import steps_per_epoch
from distill.training.config import RunConfig, TrainingConfig
from distill.training.events import EpochEnd, TrainingControl
from distill.training.presets import resolve_preset
from distill.training.run import train

sys.path.insert(0, str(Path(__file__).parent))
from train import synthetic_dataset  # the sibling benchmark's generated dataset

#: Share of the budget given to training steps (the rest: validation, previews, saving).
STEP_SHARE = 0.75


def measure_step_seconds(run: RunConfig, cache: DatasetCache, repeats: int = 3) -> float:
    """Median seconds of a training step (waveform term on) of a throwaway model."""
    datasets = make_datasets(cache, run.training)
    model = ConvVAE.from_config(run.model, run.spectrogram, run.data).train()
    optimizer = steps.make_optimizer(model, run.training)
    scheduler = steps.make_scheduler(optimizer, run.training, total_steps=100)
    setup = steps.LossSetup(run.training.loss_weights, steps.make_synthesize(
        ComplexSpectrogram(run.spectrogram), datasets.stats), run.training.stft_loss_clips)
    n = min(run.training.batch_size, len(datasets.train))
    batch = torch.stack([datasets.train[i].spectrogram for i in range(n)])
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        steps.train_step(model, optimizer, scheduler, batch, setup, 0.0, 1.0)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def evaluate(model_path: Path, cache: DatasetCache, files: list[int], max_clips: int) -> dict[str, dict]:
    """Mean metrics of the round trip and of the model over the clips of ``files``."""
    loaded = load_model(model_path)
    spec = ComplexSpectrogram(loaded.spectrogram)
    hop, clip_hop = loaded.spectrogram.hop_length, loaded.data.clip_hop_frames
    scores: dict[str, list[tuple[float, float]]] = {"round trip": [], "model": []}
    for index in files:
        entry = cache.files[index]
        wave = load_audio(entry.path, min_samples=loaded.spectrogram.n_fft,
                          max_seconds=loaded.data.max_file_seconds)
        clips = file_clips(wave, spec, loaded.data, drop_silent=False)
        length = spec.num_samples(clips.shape[-1])
        for c in range(clips.shape[0]):
            if len(scores["model"]) >= max_clips:
                break
            start = c * clip_hop * hop
            reference = np.zeros(length, np.float32)
            part = wave[start:start + length]
            reference[:part.shape[0]] = part
            if np.sqrt(np.mean(reference ** 2)) < 10 ** (loaded.data.silence_threshold_db / 20):
                continue
            with torch.no_grad():
                recon = loaded.normalization.denormalize(
                    loaded.model(loaded.normalization.normalize(clips[c:c + 1]))[0])
            for name, source in (("round trip", clips[c:c + 1]), ("model", recon)):
                audio = spec.complex_mel_to_waveform(source, phase="pghi")[0, 0].numpy()
                scores[name].append((log_magnitude_l1(reference, audio),
                                     spectral_convergence(reference, audio)))
    return {name: {"log_magnitude_l1": float(np.mean([s[0] for s in values])) if values else None,
                   "spectral_convergence": float(np.mean([s[1] for s in values])) if values else None,
                   "clips": len(values)} for name, values in scores.items()}


def format_table(results: dict) -> str:
    lines = [f"{'files':<10}{'path':<12}{'log-mag L1':>11}{'spec. conv.':>12}{'clips':>7}", "-" * 52]
    for split, rows in results["metrics"].items():
        for path, r in rows.items():
            if r["clips"]:
                lines.append(f"{split:<10}{path:<12}{r['log_magnitude_l1']:>11.3f}"
                             f"{r['spectral_convergence']:>12.3f}{r['clips']:>7}")
    t = results["training"]
    lines.append(f"(trained {t['epochs']} epochs / {t['steps']} steps in {t['seconds']:.0f} s on "
                 f"{t['train_files']} files; final validation loss {t['validation_total']:.4f})")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", nargs="?", type=Path, help="dataset folder (default: generated)")
    p.add_argument("--seconds", type=float, default=120.0, help="training budget (wall clock)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-clips", type=int, default=48, help="clips evaluated per group, at most")
    p.add_argument("--cache-dir", type=Path, help="spectrogram cache (default: a temporary one)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apply_thread_policy(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or synthetic_dataset(Path(tmp) / "sounds")
        run = RunConfig(training=TrainingConfig(min_files_for_file_split=2, num_threads=args.threads))
        cache = build_cache(folder, run.spectrogram, run.data, args.cache_dir or Path(tmp) / "cache")
        run = run.replace(training=resolve_preset(run.training, len(cache.files),
                                                  {"min_files_for_file_split", "num_threads"}))
        datasets = make_datasets(cache, run.training)
        per_epoch = steps_per_epoch(len(datasets.train), run.training.batch_size)
        step_s = measure_step_seconds(run, cache)
        epochs = max(1, int(STEP_SHARE * args.seconds / (step_s * per_epoch)))
        run = run.replace(training=run.training.replace(epochs=epochs))
        explicit = {f.name for f in dataclasses.fields(TrainingConfig)}  # all settled above
        print(f"{len(cache.files)} files, {per_epoch} steps/epoch at ~{step_s:.2f} s: {epochs} epochs",
              flush=True)
        control, ends = TrainingControl(), []
        guard = threading.Timer(args.seconds * 1.5, control.cancel)
        guard.start()
        start = time.monotonic()
        try:
            path = train(cache, Path(tmp) / "model.distill", run, explicit=explicit, control=control,
                         on_event=lambda e: ends.append(e) if isinstance(e, EpochEnd) else None,
                         checkpoint_dir=Path(tmp) / "ckpt")
        finally:
            guard.cancel()
        seconds = time.monotonic() - start
        held_out = list(datasets.split.validation_files)
        seen = [f for f in range(len(cache.files)) if f not in held_out][:max(1, len(held_out))]
        results = {
            "folder": str(folder),
            "training": {"epochs": len(ends), "steps": len(ends) * per_epoch, "seconds": seconds,
                         "train_files": len(cache.files) - len(held_out), "cancelled": control.cancelled,
                         "validation_total": ends[-1].validation.get("total", math.nan) if ends
                         else math.nan},
            "metrics": {"held out": evaluate(path, cache, held_out, args.max_clips),
                        "training": evaluate(path, cache, seen, args.max_clips)},
        }
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
