"""How well the 2-channel representation round-trips audio, and what it costs.

For every audio file in FOLDER (default: signals this script synthesises), the file goes
through ``waveform_to_complex_mel`` and back with each inverse:

- ``pghi``    phase-gradient integration + one magnitude projection (listening/export);
- ``locked``  IF-driven phase with identity phase locking (differentiable, training);
- ``gl32`` / ``gl100``  Griffin-Lim from the SAME mel energy: NNLS through OUR filterbank
  (the one that made the energy, so the baseline is not handicapped by a basis mismatch),
  the square root, then librosa's fast Griffin-Lim with 32 / 100 iterations — the
  reference to beat;
- ``librosa``  the plain librosa chain as a second baseline, nothing of ours in it:
  ``melspectrogram`` (128 bands, 2048/512, power 2) -> ``mel_to_stft`` -> ``griffinlim``
  32 iterations (= ``mel_to_audio(n_iter=32)`` with a fixed seed);
- ``true``    our magnitude with the original signal's phase: the ceiling of the
  magnitude estimate, not reachable without the original.

Quality: multi-resolution log-magnitude L1 and spectral convergence (FFT 512/1024/2048,
hop 1/4, Hann; ``distill.audio.metrics``). Cost: milliseconds of compute per second of
audio (median over files; our inverses are warmed up first so numba compilation is not
counted). Below the table, the PGHI inverse's stages run one by one (frequency read-back,
magnitude estimate, phase integration, ISTFT, the magnitude projection's STFT + ISTFT):
where its time goes. Run with ``--json PATH`` to keep the numbers.

Targets (issue #9): ``pghi`` at most 3 ms per second of audio on 2 threads, and no worse
than the plain librosa chain on both L1 and spectral convergence.

Measured on 20 real recordings (Debian's lmms/hydrogen/alsa/freedesktop samples, 54 s in
all; 2-core Xeon shared with other jobs at load average 6-8, so the costs are not
comparable across runs): our filterbank equals ``librosa.filters.mel`` to 6e-8, so
``gl32`` (0.443 / 0.324) and the plain chain (0.461 / 0.324) agree; ``pghi`` 0.344 /
0.332: 25 % better on L1, 2.5 % behind on spectral convergence. More projections close
the SC gap slowly (2: 0.335 / 0.328, 3: 0.332 / 0.326, 4: 0.331 / 0.325) at the price of
one STFT + ISTFT each, so one is kept.

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


#: Targets: PGHI's cost on 2 threads, and its quality relative to the plain librosa chain.
TARGET_MS_PER_S = 3.0
N_FFT, HOP, N_MELS = 2048, 512, 128


def griffin_lim(spec: torch.Tensor, cs: ComplexSpectrogram, length: int, iterations: int) -> np.ndarray:
    """Griffin-Lim from our channel 0: NNLS through our own filters, sqrt, iterate."""
    energy = (torch.expm1(spec[0, 0].double()) * MAG_FLOOR).numpy()
    power = librosa.util.nnls(cs.filters.double().numpy(), energy)
    return librosa.griffinlim(np.sqrt(power), n_iter=iterations, hop_length=cs.config.hop_length,
                              n_fft=cs.config.n_fft, length=length, random_state=0)


def librosa_chain(x: np.ndarray, iterations: int = 32) -> np.ndarray:
    """The plain librosa chain: melspectrogram -> mel_to_stft -> griffinlim (seeded)."""
    mel = librosa.feature.melspectrogram(y=x, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP,
                                         n_mels=N_MELS, power=2.0)
    stft = librosa.feature.inverse.mel_to_stft(mel, sr=SAMPLE_RATE, n_fft=N_FFT, power=2.0)
    return librosa.griffinlim(stft, n_iter=iterations, hop_length=HOP, n_fft=N_FFT, length=len(x),
                              random_state=0)


def filterbank_mismatch(cs: ComplexSpectrogram) -> float:
    """Largest difference between our filters and librosa's default ones (should be ~0)."""
    theirs = librosa.filters.mel(sr=cs.sample_rate, n_fft=cs.config.n_fft, n_mels=cs.config.n_mels)
    return float(np.abs(cs.filters.double().numpy() - theirs).max() / np.abs(theirs).max())


def true_phase(cs: ComplexSpectrogram, spec: torch.Tensor, wave: torch.Tensor) -> np.ndarray:
    freq = cs._frequency_frames(spec)
    magnitude = cs._magnitude_frames(spec, freq)
    phase = torch.angle(cs.stft(wave)).transpose(-1, -2)
    return cs._istft(torch.polar(magnitude, phase), wave.shape[-1])[0, 0].numpy()


#: The PGHI inverse's stages, in order (``pghi_stages``).
STAGES = ("frequency", "magnitude", "phase", "istft", "projection")


def pghi_stages(cs: ComplexSpectrogram, spec: torch.Tensor) -> dict[str, float]:
    """Seconds of each stage of ``complex_mel_to_waveform(spec, phase="pghi")``: the same
    code, with a mark as each stage ends (the target is the sum; a stage's floor shows what
    no faster phase integration can win)."""
    seconds, start = {}, time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal start
        now = time.perf_counter()
        seconds[stage], start = now - start, now

    freq = cs._frequency_frames(spec)
    lap("frequency")
    cs._pghi_waveform(spec, freq, cs.num_samples(spec.shape[-1]), 0, mark=lap)
    return seconds


def run(signals: dict[str, np.ndarray], methods: list[str]) -> dict:
    cs = ComplexSpectrogram()
    warm = cs.waveform_to_complex_mel(torch.zeros(1, 1, SAMPLE_RATE) + 1e-3)
    for phase in ("pghi", "locked"):
        cs.complex_mel_to_waveform(warm, phase=phase)
    rows: dict[str, list[tuple[float, float, float]]] = {m: [] for m in methods}
    stages: dict[str, float] = dict.fromkeys(STAGES, 0.0)
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
                elif method == "librosa":
                    y = librosa_chain(x)
                else:
                    y = griffin_lim(spec, cs, len(x), int(method[2:]))
            ms_per_s = 1000 * (time.perf_counter() - start) / seconds
            result = (log_magnitude_l1(x, y), spectral_convergence(x, y), ms_per_s)
            rows[method].append(result)
            entry[method] = {"l1": round(result[0], 4), "sc": round(result[1], 4),
                             "ms_per_s": round(result[2], 2)}
        if "pghi" in methods:
            with torch.inference_mode():
                for stage, taken in pghi_stages(cs, spec).items():
                    stages[stage] += taken
        per_file.append(entry)
    summary = {}
    for method, values in rows.items():
        a = np.array(values)
        summary[method] = {"l1": float(a[:, 0].mean()), "sc": float(a[:, 1].mean()),
                           "ms_per_s_median": float(np.median(a[:, 2])),
                           "ms_per_s_min": float(a[:, 2].min())}
    total = sum(len(x) for x in signals.values()) / SAMPLE_RATE
    result = {"summary": summary, "files": per_file}
    if "pghi" in methods:
        result["pghi_stages_ms_per_s"] = {stage: 1000 * taken / total for stage, taken in stages.items()}
    return result


def print_table(result: dict, title: str, threads: int) -> None:
    print(f"\n{title}")
    print(f"{'method':8s} {'log-mag L1':>11s} {'spec. conv.':>12s} {'ms / s audio':>13s} {'(min)':>8s}")
    for method, s in result["summary"].items():
        print(f"{method:8s} {s['l1']:11.3f} {s['sc']:12.3f} {s['ms_per_s_median']:13.2f} "
              f"{s['ms_per_s_min']:8.2f}")
    summary = result["summary"]
    ours = summary.get("pghi")
    if ours is None:
        return
    stages = result["pghi_stages_ms_per_s"]
    print("pghi's stages, ms / s of all the audio (run again one by one): "
          + ", ".join(f"{stage} {cost:.2f}" for stage, cost in stages.items())
          + f"; sum {sum(stages.values()):.2f}")
    if threads == 2:
        cost = ours["ms_per_s_median"]
        print(f"target pghi <= {TARGET_MS_PER_S:g} ms/s on 2 threads: {cost:.2f} "
              f"{'met' if cost <= TARGET_MS_PER_S else 'MISSED'}")
    base = summary.get("librosa")
    if base is not None:
        for key, name in (("l1", "L1"), ("sc", "spectral convergence")):
            verdict = "met" if ours[key] <= base[key] else "MISSED"
            print(f"target pghi {name} <= plain librosa chain's: {ours[key]:.3f} vs {base[key]:.3f} "
                  f"({100 * (ours[key] / base[key] - 1):+.1f} %) {verdict}")


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
    methods = ["pghi", "locked", "gl32"] + ([] if args.skip_gl100 else ["gl100"]) + ["librosa", "true"]
    result = run(signals, methods)
    total = sum(len(x) for x in signals.values()) / SAMPLE_RATE
    title = (f"{len(signals)} signals, {total:.1f} s of audio, "
             f"{args.folder or 'generated'}, torch threads {args.threads}")
    print(f"our filterbank vs librosa.filters.mel: max relative difference "
          f"{filterbank_mismatch(ComplexSpectrogram()):.1e}")
    print_table(result, title, args.threads)
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
