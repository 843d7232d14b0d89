"""Quality after a fixed training budget: reconstruction, held-out files, generation, the map.

Trains the default model on FOLDER (default: the generated dataset of
``benchmarks/train.py``) for about ``--seconds`` of wall-clock time (or exactly ``--epochs``;
``--model`` evaluates a model already trained on FOLDER), then measures, clip by clip
against the original audio (``distill.audio.metrics``: multi-resolution log-magnitude L1
and spectral convergence, and the RMS level difference in dB, mean and worst):

- ``round trip``: the 2-channel representation of the clip straight back to audio — the
  ceiling the model can reach;
- ``model``: the clip through the VAE (posterior mean), then back to audio;

both through the same PGHI inverse, for unseen files (``--held-out FOLDER``, else the
trainer's validation files) and for the training files. For unseen clips, a yardstick: the
spectral convergence of the closest training clip (at the unseen clip's level), what a
model that only memorised its clips would reach at best. Then (``quality_measures``):

- generation: the feature distance (loudness, centroid, flatness, pitch salience) to the
  training clips of held-out real clips (the yardstick), of draws from the prior, of
  random slider settings and of random points of the map;
- the map: the share of each clip's 5 nearest map neighbours from its own family (the
  file's first sub-folder; chance = 1 / families), on PCA's plane and on the layout,
  also counting only neighbours from other files;
- the axis labels with their features and correlations.

    python benchmarks/quality.py                       # generated dataset, 120 s of training
    python benchmarks/quality.py ~/sounds/train --held-out ~/sounds/heldout --seconds 600
    python benchmarks/quality.py ~/sounds/train --held-out ~/sounds/heldout --model m.distill

The number of epochs is chosen from a measured step time so that the run (with its
warm-ups and learning-rate schedule) ends within the budget; a timer cancels it if it
runs past ``GUARD_FACTOR`` budgets (then the model has no latent analysis). On a shared
machine the measured step time varies with the load: ``--epochs`` fixes the run instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shutil
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
from distill.latent import LatentAnalysis
from distill.latent.instrument import InstrumentState
from distill.models import ConvVAE, load_model
from distill.threads import apply_thread_policy
from distill.training import steps
from distill.training.batches import steps_per_epoch
from distill.training.config import RunConfig, TrainingConfig
from distill.training.device import training_precision
from distill.training.events import EpochEnd, TrainingControl
from distill.training.overrides import config_with
from distill.training.presets import resolve_preset
from distill.training.run import train

sys.path.insert(0, str(Path(__file__).parent))
from quality_measures import feature_distance, map_measures, nearest_clip_convergence, sound_features
from train import synthetic_dataset

#: Share of the budget given to training steps (the rest: validation, previews, saving).
STEP_SHARE = 0.75
#: A run still going after this many budgets is cancelled (saved without latent analysis):
#: on a shared machine steps run slower than the measured ones, and 1.5 cut runs short.
GUARD_FACTOR = 3.0
#: Training clips a held-out clip is compared with for the closest-clip yardstick, at most.
MAX_TRAINING_CLIPS = 2000


def measure_step_seconds(run: RunConfig, cache: DatasetCache, repeats: int = 3) -> float:
    """Median seconds of a training step (waveform term on) of a throwaway model."""
    datasets = make_datasets(cache, run.training)
    model = ConvVAE.from_config(run.model, run.spectrogram, run.data).train()
    optimizer = steps.make_optimizer(model, run.training)
    scheduler = steps.make_scheduler(optimizer, run.training, total_steps=100)
    setup = steps.LossSetup(run.training.loss_weights, steps.make_synthesize(
        ComplexSpectrogram(run.spectrogram), datasets.stats), run.training.stft_loss_clips,
        autocast=training_precision(run.training.precision, torch.device("cpu")))
    n = min(run.training.batch_size, len(datasets.train))
    batch = torch.stack([datasets.train[i].spectrogram for i in range(n)])
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        steps.train_step(model, optimizer, scheduler, batch, setup, 0.0, 1.0)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def clip_pairs(loaded, spec: ComplexSpectrogram, paths: list[Path], max_clips: int
               ) -> tuple[torch.Tensor, np.ndarray]:
    """Non-silent clips ``[C, 2, M, F]`` of ``paths`` and their original audio ``[C, S]``."""
    hop, clip_hop = loaded.spectrogram.hop_length, loaded.data.clip_hop_frames
    specs, refs = [], []
    for path in paths:
        wave = load_audio(path, min_samples=loaded.spectrogram.n_fft,
                          max_seconds=loaded.data.max_file_seconds)
        clips = file_clips(wave, spec, loaded.data, drop_silent=False)
        length = spec.num_samples(clips.shape[-1])
        for c in range(clips.shape[0]):
            start = c * clip_hop * hop
            reference = np.zeros(length, np.float32)
            part = wave[start:start + length]
            reference[:part.shape[0]] = part
            if np.sqrt(np.mean(reference ** 2)) < 10 ** (loaded.data.silence_threshold_db / 20):
                continue
            specs.append(clips[c])
            refs.append(reference)
    if len(specs) > max_clips:  # spread the sample over all files, not the first ones
        keep = np.linspace(0, len(specs) - 1, max_clips).round().astype(int)
        specs, refs = [specs[i] for i in keep], [refs[i] for i in keep]
    return torch.stack(specs), np.stack(refs)


def decode_audio(loaded, spec: ComplexSpectrogram, z: torch.Tensor) -> np.ndarray:
    """Latents ``[B, D]`` -> audio ``[B, S]`` (PGHI)."""
    with torch.no_grad():
        out = loaded.normalization.denormalize(loaded.model.decode(z.float()))
        return spec.complex_mel_to_waveform(out, phase="pghi")[:, 0].numpy()


def evaluate(loaded, paths: list[Path], max_clips: int) -> tuple[dict[str, dict], dict, np.ndarray]:
    """Metrics of the round trip and of the model over the clips of ``paths``; the real clips'
    features; their audio ``[C, S]``."""
    spec = ComplexSpectrogram(loaded.spectrogram)
    clips, refs = clip_pairs(loaded, spec, paths, max_clips)
    scores: dict[str, list[tuple[float, float, float]]] = {"round trip": [], "model": []}
    with torch.no_grad():
        mu, _ = loaded.model.encode(loaded.normalization.normalize(clips))
        recon = loaded.normalization.denormalize(loaded.model.decode(mu))
    for name, source in (("round trip", clips), ("model", recon)):
        audio = spec.complex_mel_to_waveform(source, phase="pghi")[:, 0].numpy()
        for reference, out in zip(refs, audio, strict=True):
            out = out[:reference.shape[0]]
            level = 20 * np.log10(max(float(np.sqrt(np.mean(out ** 2))), 1e-12)
                                  / max(float(np.sqrt(np.mean(reference ** 2))), 1e-12))
            scores[name].append((log_magnitude_l1(reference, out), spectral_convergence(reference, out),
                                 level))
    metrics = {name: {"log_magnitude_l1": float(np.mean([s[0] for s in values])),
                      "spectral_convergence": float(np.mean([s[1] for s in values])),
                      "rms_db": float(np.mean([s[2] for s in values])),
                      "rms_db_worst": float(max((s[2] for s in values), key=abs)),
                      "clips": len(values)} for name, values in scores.items()}
    return metrics, sound_features(refs, spec.sample_rate), refs


def generation(loaded, analysis, real: dict, held_out: dict, count: int, seed: int) -> dict[str, float]:
    """Feature distance to the training clips of: held-out real clips, prior draws, slider draws,
    and (with a layout) random points of the map."""
    spec = ComplexSpectrogram(loaded.spectrogram)
    rng = np.random.default_rng(seed)
    sr = spec.sample_rate
    dim = loaded.model_config.latent_dim
    out = {"held-out real": feature_distance(held_out, real)}
    prior = torch.from_numpy(rng.standard_normal((count, dim))).float()
    out["prior draws"] = feature_distance(sound_features(decode_audio(loaded, spec, prior), sr), real)
    if analysis is not None and analysis.axes:
        state = InstrumentState(dim, analysis)
        sliders = torch.stack([state.randomize(rng) for _ in range(count)])
        out["slider draws"] = feature_distance(sound_features(decode_audio(loaded, spec, sliders), sr), real)
        (x0, x1), (y0, y1) = analysis.map_limits()
        xy = np.stack([rng.uniform(x0, x1, count), rng.uniform(y0, y1, count)], axis=1)
        on_map = torch.stack([state.set_xy(float(x), float(y)) for x, y in xy])
        out["map draws"] = feature_distance(sound_features(decode_audio(loaded, spec, on_map), sr), real)
    return out


def format_table(results: dict) -> str:
    lines = [f"{'files':<10}{'path':<12}{'log-mag L1':>11}{'spec. conv.':>12}{'RMS dB':>8}{'worst':>7}"
             f"{'clips':>7}", "-" * 67]
    for split, rows in results["metrics"].items():
        for path, r in rows.items():
            if r["clips"]:
                lines.append(f"{split:<10}{path:<12}{r['log_magnitude_l1']:>11.3f}"
                             f"{r['spectral_convergence']:>12.3f}{r['rms_db']:>8.1f}{r['rms_db_worst']:>7.1f}"
                             f"{r['clips']:>7}")
    nearest = results.get("held_out_nearest_training_clip")
    if nearest:
        lines.append("held out, the closest training clip at its level (a perfect lookup of what was "
                     f"learned): spec. conv. {nearest['spectral_convergence']:.3f}")
    lines.append("feature distance to the training clips (loudness, centroid, flatness, pitch salience; "
                 "W1 / spread): " + ", ".join(f"{k} {v:.2f}" for k, v in results["generation"].items()))
    m = results["map"] or {"families": 0, "pca": math.nan, "pca_other_files": math.nan,
                           "latent": math.nan, "layout_stored": False}
    lines.append(f"map: 5-NN same-family share (chance {1 / max(1, m['families']):.2f}): PCA {m['pca']:.2f} "
                 f"(other files {m['pca_other_files']:.2f}), layout {m.get('layout', math.nan):.2f} "
                 f"(other files {m.get('layout_other_files', math.nan):.2f}; "
                 f"{'stored' if m['layout_stored'] else 'fitted here'}), full latent {m['latent']:.2f}")
    lines.append("axes: " + "; ".join(results["axes"]))
    t = results["training"]
    if t:
        lines.append(f"(trained {t['epochs']} epochs / {t['steps']} steps in {t['seconds']:.0f} s on "
                     f"{t['train_files']} files; final validation loss {t['validation_total']:.4f})")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", nargs="?", type=Path, help="dataset folder (default: generated)")
    p.add_argument("--held-out", type=Path, help="folder of unseen files of the same families "
                   "(default: the trainer's validation files)")
    p.add_argument("--model", type=Path, help="evaluate this model (trained on FOLDER) instead of training")
    p.add_argument("--seconds", type=float, default=120.0, help="training budget (wall clock)")
    p.add_argument("--epochs", type=int, help="train exactly this many epochs instead (a budget in steps: "
                   "comparable across runs on a machine whose load varies)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-clips", type=int, default=48, help="clips evaluated per group, at most")
    p.add_argument("--draws", type=int, default=48, help="generated sounds per kind of draw")
    p.add_argument("--cache-dir", type=Path, help="spectrogram cache (default: a temporary one)")
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    p.add_argument("--keep-model", type=Path, help="copy the trained model file here")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a training setting over the preset's, e.g. kl_max_beta=1e-4 or "
                   "loss_weights.stft=0.01 (JSON values; repeatable)")
    return p.parse_args(argv)


def parse_settings(items: list[str]) -> dict[str, object]:
    """``["kl_max_beta=1e-4", "augmentation.enabled=false"]`` -> ``{key: value}`` (JSON values,
    else the text as it is)."""
    settings: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        try:
            settings[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            settings[key.strip()] = text
    return settings


def train_within(cache: DatasetCache, run: RunConfig, seconds: float, tmp: Path,
                 epochs: int | None = None) -> tuple[Path, dict]:
    """Train for about ``seconds`` (epochs from a measured step time, unless ``epochs`` is given);
    the model path and a summary."""
    datasets = make_datasets(cache, run.training)
    per_epoch = steps_per_epoch(len(datasets.train), run.training.batch_size)
    step_s = measure_step_seconds(run, cache) if epochs is None else math.nan
    epochs = epochs or max(1, int(STEP_SHARE * seconds / (step_s * per_epoch)))
    run = run.replace(training=run.training.replace(epochs=epochs))
    explicit = {f.name for f in dataclasses.fields(TrainingConfig)}  # all settled above
    print(f"{len(cache.files)} files, {per_epoch} steps/epoch at ~{step_s:.2f} s: {epochs} epochs",
          flush=True)
    control, ends = TrainingControl(), []
    guard = threading.Timer(seconds * GUARD_FACTOR, control.cancel)
    guard.start()
    start = time.monotonic()
    try:
        path = train(cache, tmp / "model.distill", run, explicit=explicit, control=control,
                     on_event=lambda e: ends.append(e) if isinstance(e, EpochEnd) else None,
                     checkpoint_dir=tmp / "ckpt")
    finally:
        guard.cancel()
    summary = {"epochs": len(ends), "steps": len(ends) * per_epoch, "seconds": time.monotonic() - start,
               "train_files": len(cache.files) - len(datasets.split.validation_files),
               "cancelled": control.cancelled,
               "validation_total": ends[-1].validation.get("total", math.nan) if ends else math.nan}
    return path, summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apply_thread_policy(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or synthetic_dataset(Path(tmp) / "sounds")
        run = RunConfig(training=TrainingConfig(min_files_for_file_split=2, num_threads=args.threads))
        cache = build_cache(folder, run.spectrogram, run.data, args.cache_dir or Path(tmp) / "cache")
        run = run.replace(training=config_with(
            resolve_preset(run.training, len(cache.files), {"min_files_for_file_split", "num_threads"}),
            parse_settings(args.set)))
        split = make_datasets(cache, run.training).split  # the same split the run makes (seeded)
        training: dict = {}
        if args.model:
            path = args.model
        else:
            path, training = train_within(cache, run, args.seconds, Path(tmp), args.epochs)
            if args.keep_model:
                shutil.copyfile(path, args.keep_model)
        loaded = load_model(path)
        analysis = LatentAnalysis.from_model_extras(loaded.extra_tensors, loaded.extra_metadata)
        seen = [e.path for f, e in enumerate(cache.files) if f not in split.validation_files]
        unseen = (sorted(p for p in args.held_out.rglob("*.wav")) if args.held_out
                  else [cache.files[f].path for f in split.validation_files])
        held_metrics, held_features, held_refs = evaluate(loaded, unseen, args.max_clips)
        seen_metrics, seen_features, _ = evaluate(loaded, seen, args.max_clips)
        every_seen = clip_pairs(loaded, ComplexSpectrogram(loaded.spectrogram), seen, MAX_TRAINING_CLIPS)[1]
        nearest = nearest_clip_convergence(held_refs, every_seen)
        results = {
            "folder": str(folder), "held_out": str(args.held_out or "validation split"),
            "training": training, "settings": parse_settings(args.set),
            "metrics": {"held out": held_metrics, "training": seen_metrics},
            "held_out_nearest_training_clip": {"spectral_convergence": nearest},
            "generation": generation(loaded, analysis, seen_features, held_features, args.draws, seed=0),
            "map": map_measures(analysis) if analysis is not None else {},
            "axes": [f"{a.label} ({a.feature}, rho {a.correlation or 0:.2f})" for a in analysis.axes]
            if analysis is not None else [],
        }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
