"""Writing rendered audio: the output path and format rules of the CLI and the studio.

A path is taken as given, never silently rewritten: a folder, an extension that is no
audio format, or a missing parent folder is an error that says what to do (the parent
is created only when the caller asks, ``make_parents`` / ``--mkdir``). ``check_output``
applies those rules and proves the folder writable BEFORE a render, so a long render
never ends in a failed write; ``export_audio`` encodes in memory, then writes atomically,
and turns a failed write (disk full, no permission) into an ``AudioFileError``.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from distill.constants import EXPORT_FORMATS, SAMPLE_RATE
from distill.errors import AudioFileError
from distill.fileio import describe_os_error, write_atomically, write_in_chunks

#: Format used when neither the file name nor the caller names one.
DEFAULT_FORMAT = "wav"
#: The export choices offered to the user: key -> (format, soundfile subtype, label).
EXPORT_CHOICES: dict[str, tuple[str, str, str]] = {
    "wav16": ("wav", "PCM_16", "WAV 16-bit"),
    "wav24": ("wav", "PCM_24", "WAV 24-bit"),
    "wavfloat": ("wav", "FLOAT", "WAV 32-bit float"),
    "flac": ("flac", "PCM_24", "FLAC"),
    "ogg": ("ogg", "VORBIS", "OGG Vorbis"),
    "mp3": ("mp3", "MPEG_LAYER_III", "MP3"),
}
_ALIASES = {"wave": "wav"}


def output_path(path: str | Path, format: str | None = None) -> tuple[Path, str]:
    """The file to write and its format, from a path and an optional format name.

    - a known audio extension names the format (``take.flac``); a different explicit
      ``format`` is refused rather than writing FLAC into a ``.wav`` file;
    - no extension: the format's extension is appended (``format`` or ``DEFAULT_FORMAT``);
    - any other extension (``take.xyz``) and an existing folder are refused.

    Raises
    ------
    AudioFileError
        Unknown format name, unknown extension, an extension that contradicts the
        format, or a folder.
    """
    path = Path(path)
    choices = ", ".join(EXPORT_FORMATS)
    if format is not None and format.lower() not in EXPORT_FORMATS:
        raise AudioFileError(path, f"unsupported export format {format!r} (choose {choices})")
    if path.is_dir():
        raise AudioFileError(path, f"this is a folder; give the name of the file to write "
                                   f"(e.g. {path / ('sound' + EXPORT_FORMATS[DEFAULT_FORMAT][2])})")
    suffix = path.suffix.lower().lstrip(".")
    suffix = _ALIASES.get(suffix, suffix)
    if suffix in EXPORT_FORMATS:
        if format is not None and format.lower() != suffix:
            raise AudioFileError(path, f"the extension says {suffix} but the format asked for is "
                                       f"{format.lower()} (change one of them)")
        return path, suffix
    if suffix:
        raise AudioFileError(path, f"unknown audio extension .{suffix}; the formats are {choices} "
                                   f"(e.g. {path.with_suffix('.wav').name})")
    fmt = (format or DEFAULT_FORMAT).lower()
    return path.with_name(path.name + EXPORT_FORMATS[fmt][2]), fmt


def check_output(path: str | Path, format: str | None = None, *,
                 make_parents: bool = False) -> tuple[Path, str]:
    """``output_path``, then prove the file can be written there (before any render).

    Parameters
    ----------
    path, format
        As ``output_path``.
    make_parents
        Create a missing parent folder (otherwise a missing folder is an error: a typo
        in a path should not quietly grow a tree of folders).

    Returns
    -------
    target, format
        The file to write and its format.

    Raises
    ------
    AudioFileError
        The path rules of ``output_path``; a missing folder (without ``make_parents``);
        a path under a file; a folder that cannot be written (read-only, permissions).
    """
    target, fmt = output_path(path, format)
    folder = target.parent
    if not folder.is_dir():
        blocker = next((p for p in folder.parents if p.exists()), None)
        if folder.exists() or (blocker is not None and not blocker.is_dir()):
            file = folder if folder.exists() else blocker
            raise AudioFileError(target, f"{file} is a file, not a folder")
        if not make_parents:
            raise AudioFileError(target, f"the folder {folder} does not exist (create it first, "
                                         "or pass --mkdir)")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AudioFileError(target, f"cannot create the folder {folder}: "
                                         f"{describe_os_error(exc)}") from None
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise AudioFileError(target, f"cannot write to {folder}: {describe_os_error(exc)}") from None
    return target, fmt


def export_audio(path: str | Path, wave: np.ndarray, format: str | None = None,
                 sample_rate: int = SAMPLE_RATE, subtype: str | None = None, *,
                 make_parents: bool = False) -> Path:
    """Write mono ``[S]`` audio atomically; returns the path written.

    Parameters
    ----------
    path, format, make_parents
        Where and how (``check_output``).
    wave
        ``[S]`` float samples; values beyond [-1, 1] are clipped, NaN written as 0.
    sample_rate
        Of ``wave``.
    subtype
        soundfile subtype (``PCM_16``, ``PCM_24``, ``FLOAT`` for WAV; see
        ``EXPORT_CHOICES``); default the format's own.

    Raises
    ------
    AudioFileError
        The path rules, a subtype the format cannot hold, or a failed write (disk full,
        no permission), with the reason; a previous file of that name is untouched.
    """
    target, fmt = check_output(path, format, make_parents=make_parents)
    sf_format, default_subtype, _ = EXPORT_FORMATS[fmt]
    subtype = (subtype or default_subtype).upper()
    if not sf.check_format(sf_format, subtype):
        raise AudioFileError(target, f"{fmt} cannot be written as {subtype}")
    data = np.clip(np.nan_to_num(np.asarray(wave, dtype=np.float32)), -1.0, 1.0)
    # Encoded in memory first: libsndfile reports a failed write through a callback as a
    # bare AssertionError, while a plain write of the bytes raises OSError with its errno.
    buffer = io.BytesIO()
    sf.write(buffer, data, sample_rate, format=sf_format, subtype=subtype)
    encoded = buffer.getvalue()
    try:
        return write_atomically(target, lambda f: write_in_chunks(f, encoded))
    except OSError as exc:
        raise AudioFileError(target, f"could not write the file: {describe_os_error(exc)}") from None
