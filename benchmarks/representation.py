"""How well the 2-channel representation round-trips audio, and what it costs.

For every audio file in FOLDER (default: signals this script synthesises), the file goes
through ``waveform_to_complex_mel`` and back with each inverse:

- ``pghi``    phase-gradient integration + one magnitude projection (listening/export);
- ``locked``  IF-driven phase with identity phase locking (differentiable, training);
- ``gl32`` / ``gl100``  librosa's mel inversion of the SAME mel energy (NNLS, then fast
  Griffin-Lim with 32 / 100 iterations) — the reference to beat;
- ``true``    our magnitude with the original signal's phase: the ceiling of the
  magnitude estimate, not reachable without the original.

Quality: multi-resolution log-magnitude L1 and spectral convergence (FFT 512/1024/2048,
hop 1/4, Hann; ``distill.audio.metrics``). Cost: milliseconds of compute per second of
audio (median over files; our inverses are warmed up first so numba compilation is not
counted). Run with ``--json PATH`` to keep the numbers.

    python benchmarks/representation.py [FOLDER] [--threads 2] [--skip-gl100] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import torch

from distill.audio import synth
from distill.audio.io import load_audio
from distill.audio.metrics import log_magnitude_l1, spectral_convergence
from distill.audio.spectrogram import MAG_FLOOR, ComplexSpectrogram
from distill.constants import AUDIO_EXTENSIONS, SAMPLE_RATE
from distill.errors import AudioFileError


def generated_signals() -> dict[str, np.ndarray]:
    return {
        "harmonic 220 Hz": synth.harmonic(220, 2.0, 16),
        "vibrato 330 Hz": synth.harmonic(330, 2.0, 12, vibrato=0.5),
        "chirp 100-8k": synth.chirp(100, 8000, 2.0),
        "pluck 196 Hz": synth.pluck(196, 1.5),
        "fm bell": synth.fm_bell(440, 2.0),
        "noise burst": synth.noise_burst(1.5, 3000, seed=1),
        "drum": synth.drum(),
    }


def folder_signals(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS):
        try:
            out[str(path.relative_to(folder))] = load_audio(path, max_seconds=30.0)
        except AudioFileError as exc:
            print(f"skipped {exc}", file=sys.stderr)
    return out


def griffin_lim(spec: torch.Tensor, length: int, iterations: int) -> np.ndarray:
    energy = (torch.expm1(spec[0, 0]) * MAG_FLOOR).double().numpy()
    stft = librosa.feature.inverse.mel_to_stft(energy, sr=SAMPLE_RATE, n_fft=2048, power=2.0)
    return librosa.griffinlim(stft, n_iter=iterations, hop_length=512, length=length, random_state=0)


def true_phase(cs: ComplexSpectrogram, spec: torch.Tensor, wave: torch.Tensor) -> np.ndarray:
    freq = cs._frequency_frames(spec)
    magnitude = cs._magnitude_frames(spec, freq)
    phase = torch.angle(cs.stft(wave)).transpose(-1, -2)
    return cs._istft(torch.polar(magnitude, phase), wave.shape[-1])[0, 0].numpy()


def run(signals: dict[str, np.ndarray], methods: list[str]) -> dict:
    cs = ComplexSpectrogram()
    warm = cs.waveform_to_complex_mel(torch.zeros(1, 1, SAMPLE_RATE) + 1e-3)
    for phase in ("pghi", "locked"):
        cs.complex_mel_to_waveform(warm, phase=phase)
    rows: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
    per_file = []
    for name, x in signals.items():
        wave = torch.tensor(x)[None, None]
        with torch.inference_mode():
            spec = cs.waveform_to_complex_mel(wave)
        seconds = len(x) / SAMPLE_RATE
        entry = {"file": name, "seconds": round(seconds, 3)}
        for method in methods:
            start = time.perf_counter()
            with torch.inference_mode():
                if method in ("pghi", "locked"):
                    y = cs.complex_mel_to_waveform(spec, len(x), phase=method)[0, 0].numpy()
                elif method == "true":
                    y = true_phase(cs, spec, wave)
                else:
                    y = griffin_lim(spec, len(x), int(method[2:]))
            ms_per_s = 1000 * (time.perf_counter() - start) / seconds
            result = (log_magnitude_l1(x, y), spectral_convergence(x, y), ms_per_s)
            rows[method].append(result)
            entry[method] = {"l1": round(result[0], 4), "sc": round(result[1], 4),
                             "ms_per_s": round(result[2], 2)}
        per_file.append(entry)
    summary = {}
    for method, values in rows.items():
        a = np.array(values)
        summary[method] = {"l1": float(a[:, 0].mean()), "sc": float(a[:, 1].mean()),
                           "ms_per_s_median": float(np.median(a[:, 2])),
                           "ms_per_s_min": float(a[:, 2].min())}
    return {"summary": summary, "files": per_file}


def print_table(result: dict, title: str) -> None:
    print(f"\n{title}")
    print(f"{'method':8s} {'log-mag L1':>11s} {'spec. conv.':>12s} {'ms / s audio':>13s} {'(min)':>8s}")
    for method, s in result["summary"].items():
        print(f"{method:8s} {s['l1']:11.3f} {s['sc']:12.3f} {s['ms_per_s_median']:13.2f} "
              f"{s['ms_per_s_min']:8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, help="audio files (default: generated)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--skip-gl100", action="store_true", help="leave out Griffin-Lim 100")
    parser.add_argument("--per-file", action="store_true", help="print every file's figures")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    signals = folder_signals(args.folder) if args.folder else generated_signals()
    if not signals:
        print("no usable audio files", file=sys.stderr)
        return 1
    methods = ["pghi", "locked", "gl32"] + ([] if args.skip_gl100 else ["gl100"]) + ["true"]
    result = run(signals, methods)
    total = sum(len(x) for x in signals.values()) / SAMPLE_RATE
    title = (f"{len(signals)} signals, {total:.1f} s of audio, "
             f"{args.folder or 'generated'}, torch threads {args.threads}")
    print_table(result, title)
    if args.per_file:
        for entry in result["files"]:
            cells = " ".join(f"{m}:{entry[m]['l1']:.2f}/{entry[m]['sc']:.2f}" for m in methods)
            print(f"  {entry['file'][:30]:30s} {cells}")
    if args.json:
        result["meta"] = {"title": title, "machine": platform.processor() or platform.machine(),
                          "torch": torch.__version__, "threads": args.threads}
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
