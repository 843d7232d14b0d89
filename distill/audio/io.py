"""Audio file input and output.

``load_audio`` decodes any file soundfile can read (WAV, FLAC, OGG/Vorbis/Opus, MP3,
AIFF), mixes it down to mono and resamples it to ``SAMPLE_RATE``; a file that cannot be
used raises ``AudioFileError`` with its path and a reason a musician understands.
``save_audio`` writes WAV (16/24-bit or float), FLAC, OGG/Vorbis or MP3 atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from distill.constants import EXPORT_FORMATS, SAMPLE_RATE
from distill.errors import AudioFileError
from distill.fileio import write_atomically

#: Peak level under which a file counts as silent (-90 dBFS).
SILENCE_PEAK = 10 ** (-90 / 20)
#: Default shortest usable file: one STFT frame of the default representation.
MIN_SAMPLES = 2048


@dataclass(frozen=True)
class AudioInfo:
    """What the file's header says, before decoding."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def audio_info(path: str | Path) -> AudioInfo:
    """Read an audio file's header. Raises ``AudioFileError`` when it is not audio."""
    path = Path(path)
    _check_file(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError/TypeError
        raise AudioFileError(path, _decoder_reason(exc)) from None
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames),
                     str(info.format), str(info.subtype))


def load_audio(path: str | Path, *, min_samples: int = MIN_SAMPLES,
               max_seconds: float | None = None) -> np.ndarray:
    """Decode a file to mono float32 at ``SAMPLE_RATE``.

    Parameters
    ----------
    path
        Any file soundfile can decode.
    min_samples
        Shortest usable length after resampling (default: one STFT frame).
    max_seconds
        When given, only the first ``max_seconds`` seconds are decoded.

    Returns
    -------
    np.ndarray
        ``[S]`` float32, finite, not silent.

    Raises
    ------
    AudioFileError
        Unreadable, empty, non-finite, silent or too short, with the reason.
    """
    path = Path(path)
    _check_file(path)
    try:
        with sf.SoundFile(str(path)) as f:
            sr = int(f.samplerate)
            frames = -1 if max_seconds is None else int(max_seconds * sr)
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioFileError(path, _decoder_reason(exc)) from None
    if data.shape[0] == 0:
        raise AudioFileError(path, "the file holds no audio samples")
    if not np.isfinite(data).all():
        raise AudioFileError(path, "the audio contains invalid samples (NaN or infinity)")
    wave = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if sr != SAMPLE_RATE:
        wave = resample(wave, sr, SAMPLE_RATE)
    if wave.shape[0] < min_samples:
        raise AudioFileError(
            path, f"too short: {1000 * wave.shape[0] / SAMPLE_RATE:.0f} ms "
                  f"(at least {1000 * min_samples / SAMPLE_RATE:.0f} ms needed)")
    if float(np.max(np.abs(wave))) < SILENCE_PEAK:
        raise AudioFileError(path, "the file is silent")
    return np.ascontiguousarray(wave, dtype=np.float32)


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling: ``[S]`` float32 -> ``[ceil(S * target_sr / orig_sr)]`` float32.

    soxr's high-quality mode, as ``librosa.resample(res_type="soxr_hq")`` does it (the same
    values and length, tests/audio/test_resample.py) without importing librosa and numba.
    """
    wave = np.asarray(wave, dtype=np.float32)
    if orig_sr == target_sr:
        return wave
    length = int(np.ceil(wave.shape[0] * (float(target_sr) / orig_sr)))
    out = soxr.resample(wave, orig_sr, target_sr, quality="HQ")
    # soxr's own length can differ by a sample: trim or zero-pad to ``length``, as librosa does.
    if out.shape[0] >= length:
        return np.ascontiguousarray(out[:length], dtype=np.float32)
    return np.pad(out, (0, length - out.shape[0])).astype(np.float32, copy=False)


def save_audio(path: str | Path, wave: np.ndarray, format: str | None = None,
               subtype: str | None = None, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write audio atomically (temporary file, fsync, rename).

    Parameters
    ----------
    path
        Destination; its extension picks the format when ``format`` is None.
    wave
        ``[S]`` mono or ``[S, C]`` float samples; values beyond [-1, 1] are clipped.
    format
        One of ``wav``, ``flac``, ``ogg``, ``mp3``.
    subtype
        soundfile subtype, e.g. ``PCM_16``, ``PCM_24`` or ``FLOAT`` for WAV.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt in ("wave",):
        fmt = "wav"
    if fmt not in EXPORT_FORMATS:
        raise AudioFileError(path, f"unsupported export format {fmt!r} "
                                   f"(choose {', '.join(EXPORT_FORMATS)})")
    sf_format, default_subtype, _ = EXPORT_FORMATS[fmt]
    subtype = subtype or default_subtype
    if not sf.check_format(sf_format, subtype):
        raise AudioFileError(path, f"{fmt} cannot be written as {subtype}")
    data = np.clip(np.nan_to_num(np.asarray(wave, dtype=np.float32)), -1.0, 1.0)
    write_atomically(path, lambda f: sf.write(f, data, sample_rate, format=sf_format,
                                              subtype=subtype))
    return path


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioFileError(path, "file not found")
    if not path.is_file():
        raise AudioFileError(path, "not a file")
    if path.stat().st_size == 0:
        raise AudioFileError(path, "the file is empty (0 bytes)")


def _decoder_reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    # libsndfile's messages start with "Error opening '<path>': "; keep only the reason.
    if ": " in text and text.startswith("Error opening"):
        text = text.split(": ", 1)[1]
    return f"not a readable audio file ({text.rstrip('.')})"
