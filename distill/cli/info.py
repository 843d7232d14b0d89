"""``distill info FILE [--json]``: describe an audio file or a model file.

Audio: format, subtype, sample rate, channels, duration, peak and RMS level (dBFS) of
the finite samples, and how many samples are NaN or infinite (a damaged file, which
``distill dataset`` would skip) — never "silent" for a file that is not.
Model: format version, when and by which distill it was made, every config, the
normalisation, the parameter count, the epochs recorded in its history and, once the
latent analysis is stored, the labelled latent axes. Unreadable files are reported as
``DistillError`` messages (exit status 2), never as a traceback.

A model file is read without torch (``distill.models.model_header``: the header, the
document and the same checks ``load_model`` makes, plus the weights' finiteness checked
with numpy), so ``info`` answers in a fraction of torch's own import time.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from distill.audio.io import audio_info
from distill.constants import MODEL_FORMAT, MODEL_SUFFIX
from distill.errors import AudioFileError
from distill.models.model_header import EXTRA_PREFIX, check_finite_tensors, read_model_header
from distill.models.safetensors_io import looks_like_tensor_file, read_tensor_arrays

#: Extensions routed to the model reader even when the content is not safetensors, so a
#: pickle checkpoint gets the "refused for safety" message rather than "not audio".
MODEL_LIKE_SUFFIXES = frozenset({MODEL_SUFFIX, ".safetensors", ".pt", ".pth", ".ckpt", ".bin"})
#: Frames per block when measuring levels: bounded memory for long files.
LEVEL_BLOCK_FRAMES = 1 << 16


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info", help="describe an audio file or a distill model file",
        description="Describe an audio file (format, sample rate, duration, levels) or a "
                    f"distill model file ({MODEL_SUFFIX}: configs, normalisation, size, history).")
    parser.add_argument("file", type=Path, metavar="FILE", help="audio file or model file")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    is_model = path.suffix.lower() in MODEL_LIKE_SUFFIXES or looks_like_tensor_file(path)
    info = describe_model(path) if is_model else describe_audio(path)
    print(json.dumps(info, indent=2) if args.json else format_info(info))
    return 0


def describe_audio(path: Path) -> dict[str, Any]:
    """Header fields and levels of an audio file (levels over all channels' finite
    samples, dBFS) and the count of NaN/infinite samples."""
    header = audio_info(path)
    peak, sum_sq, count, invalid = 0.0, 0.0, 0, 0
    try:
        for block in sf.blocks(str(path), blocksize=LEVEL_BLOCK_FRAMES, dtype="float32", always_2d=True):
            finite = np.isfinite(block)
            invalid += int(block.size - np.count_nonzero(finite))
            block = block[finite].astype(np.float64)
            peak = max(peak, float(np.max(np.abs(block), initial=0.0)))
            sum_sq += float(np.sum(block * block))
            count += block.size
    except Exception as exc:  # libsndfile errors mid-file: a damaged file
        raise AudioFileError(path, f"the audio cannot be decoded to the end ({exc})") from None
    rms = math.sqrt(sum_sq / count) if count else 0.0
    return {"kind": "audio", "path": str(path), "format": header.format, "subtype": header.subtype,
            "sample_rate": header.sample_rate, "channels": header.channels, "frames": header.frames,
            "duration_seconds": header.duration, "peak_dbfs": _dbfs(peak), "rms_dbfs": _dbfs(rms),
            "invalid_samples": invalid}


def describe_model(path: Path) -> dict[str, Any]:
    """Everything a model file says about itself, checked as ``load_model`` checks it
    (geometry against the weights' shapes, finite weights and statistics); no torch."""
    head = read_model_header(path)
    check_finite_tensors(path, head.tensors, read_tensor_arrays(path, head.tensors))
    latent = head.extra_metadata.get("latent")
    axes = latent.get("axes") if isinstance(latent, dict) else None
    return {
        "kind": "model", "path": str(path), "format": MODEL_FORMAT,
        "format_version": head.format_version, "created": head.created,
        "distill_version": head.distill_version,
        "parameters": head.parameters,
        "input_shape": [2, *head.geometry.input_shape],
        "model": head.model_config.to_dict(), "spectrogram": head.spectrogram.to_dict(),
        "data": head.data.to_dict(), "normalization": head.normalization.to_dict(),
        "training": head.training,
        "epochs": len(head.history), "last_epoch": head.history[-1] if head.history else None,
        "latent_axes": axes if isinstance(axes, list) else None,
        "extra_tensors": {k[len(EXTRA_PREFIX):]: list(v) for k, v in head.tensors.shapes.items()
                          if k.startswith(EXTRA_PREFIX)},
    }


def format_info(info: dict[str, Any]) -> str:
    """Text rendering of ``describe_audio`` / ``describe_model`` output."""
    if info["kind"] == "audio":
        invalid = info.get("invalid_samples", 0)
        silent = "-inf dBFS (no finite sample)" if invalid else "-inf dBFS (silent)"
        lines = [
            info["path"],
            _row("format", f"{info['format']} ({info['subtype']})"),
            _row("sample rate", f"{info['sample_rate']} Hz"),
            _row("channels", info["channels"]),
            _row("duration", f"{info['duration_seconds']:.3f} s ({info['frames']} frames)"),
            _row("peak", _db_text(info["peak_dbfs"], silent)),
            _row("RMS", _db_text(info["rms_dbfs"], silent)),
        ]
        if invalid:
            lines.append(_row("invalid", f"{invalid} NaN or infinite sample(s): the file is damaged "
                                         "(levels are of the finite samples; `distill dataset` skips it)"))
        return "\n".join(lines)
    lines = [
        info["path"],
        _row("format", f"{info['format']} version {info['format_version']}"),
        _row("created", f"{info['created'] or 'unknown'} by distill {info['distill_version'] or '?'}"),
        _row("parameters", f"{info['parameters']:,}"),
        _row("input", " x ".join(str(s) for s in info["input_shape"])),
        _row("epochs", info["epochs"]),
    ]
    if info["last_epoch"]:
        lines.append(_row("last epoch", _fields_text(info["last_epoch"])))
    for key in ("model", "spectrogram", "data", "normalization", "training"):
        if info[key] is not None:
            lines.append(_row(key, _fields_text(info[key])))
    for name, shape in info["extra_tensors"].items():
        lines.append(_row("extra", f"{name} {shape}"))
    for n, axis in enumerate(info["latent_axes"] or []):
        if isinstance(axis, dict):
            label = axis.get("label") or axis.get("name") or "unlabelled"
            rest = {k: v for k, v in axis.items() if k not in ("label", "name")}
            lines.append(_row(f"axis {n + 1}", label + (f" ({_fields_text(rest)})" if rest else "")))
    return "\n".join(lines)


def _row(label: str, value: Any) -> str:
    return f"  {label:<14}{value}"


def _fields_text(fields: dict[str, Any]) -> str:
    parts = []
    for key, value in fields.items():
        if isinstance(value, dict):
            value = "{" + _fields_text(value) + "}"
        elif isinstance(value, float):
            value = f"{value:.4g}"
        parts.append(f"{key}={value}")
    return " ".join(parts)


def _dbfs(level: float) -> float | None:
    """Level in dBFS; None for digital silence (JSON has no -inf)."""
    return 20 * math.log10(level) if level > 0 else None


def _db_text(db: float | None, silent: str = "-inf dBFS (silent)") -> str:
    return silent if db is None else f"{db:.1f} dBFS"
