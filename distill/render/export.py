"""Writing rendered audio: the output path and format rules of the CLI and the studio."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from distill.audio.io import save_audio
from distill.constants import EXPORT_FORMATS, SAMPLE_RATE
from distill.errors import AudioFileError

#: Format used when neither the file name nor the caller names one.
DEFAULT_FORMAT = "wav"


def output_path(path: str | Path, format: str | None = None) -> tuple[Path, str]:
    """The file to write and its format, from a path and an optional format name.

    - a known audio extension names the format (``take.flac``); a different explicit
      ``format`` is refused rather than writing FLAC into a ``.wav`` file;
    - no extension, or one that is no audio format (``take.v2``): the format's extension
      is appended (``format`` or ``DEFAULT_FORMAT``).

    Raises
    ------
    AudioFileError
        Unknown format name, or an extension that contradicts it.
    """
    path = Path(path)
    if format is not None and format.lower() not in EXPORT_FORMATS:
        raise AudioFileError(path, f"unsupported export format {format!r} "
                                   f"(choose {', '.join(EXPORT_FORMATS)})")
    suffix = path.suffix.lower().lstrip(".")
    suffix = "wav" if suffix == "wave" else suffix
    if suffix in EXPORT_FORMATS:
        if format is not None and format.lower() != suffix:
            raise AudioFileError(path, f"the extension says {suffix} but the format asked for is "
                                       f"{format.lower()} (change one of them)")
        return path, suffix
    fmt = (format or DEFAULT_FORMAT).lower()
    return path.with_name(path.name + EXPORT_FORMATS[fmt][2]), fmt


def export_audio(path: str | Path, wave: np.ndarray, format: str | None = None,
                 sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono ``[S]`` audio atomically (see ``output_path``); returns the path written."""
    target, fmt = output_path(path, format)
    return save_audio(target, np.asarray(wave, dtype=np.float32), fmt, sample_rate=sample_rate)
