"""Where the preprocessing cache lives on disk, and its clip arrays.

Layout under the cache root (``platformdirs.user_cache_dir("distill-studio")/spectrograms``
unless a folder is given)::

    <root>/v1-<key hash>/key.json                 what the key stands for (for people)
    <root>/v1-<key hash>/clips/<content hash>.npy  [N, 2, M, F] float16, one per file content
    <root>/v1-<key hash>/datasets/<folder hash>.json   manifest of one dataset folder

The key covers the representation, the clip settings, the sample rate and the cache
format version, so changing any of them never mixes data. Arrays are named by content,
so a file shared by two datasets (or renamed) is computed once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.spectrogram import REPRESENTATION_VERSION
from distill.constants import SAMPLE_RATE
from distill.data.config import DataConfig
from distill.errors import DatasetError
from distill.fileio import write_atomically

log = logging.getLogger(__name__)

#: Bump when the meaning or layout of cached arrays changes: old caches are then ignored.
CACHE_VERSION = 1
#: dtype of cached clips (half the disk and page cache of float32; ample for log-mel and IF).
CLIP_DTYPE = np.float16


def default_cache_root() -> Path:
    """The per-user cache folder of spectrogram caches."""
    return Path(platformdirs.user_cache_dir("distill-studio")) / "spectrograms"


def cache_key(spectrogram_config: ComplexSpectrogramConfig, data_config: DataConfig) -> dict[str, Any]:
    """Every setting that changes what a cached clip array holds."""
    return {
        "cache_version": CACHE_VERSION,
        "representation_version": REPRESENTATION_VERSION,
        "sample_rate": SAMPLE_RATE,
        "spectrogram": spectrogram_config.to_dict(),
        "clip_frames": data_config.clip_frames,
        "clip_hop_frames": data_config.clip_hop_frames,
        "silence_threshold_db": data_config.silence_threshold_db,
        "max_file_seconds": data_config.max_file_seconds,
    }


class CacheStore:
    """The cache folder of one key: clip arrays and dataset manifests.

    Parameters
    ----------
    spectrogram_config, data_config
        Settings that make up the cache key.
    cache_dir
        Cache root; default ``default_cache_root()``.
    """

    def __init__(self, spectrogram_config: ComplexSpectrogramConfig, data_config: DataConfig,
                 cache_dir: str | Path | None = None) -> None:
        self.key = cache_key(spectrogram_config, data_config)
        self.clip_shape = (2, spectrogram_config.n_mels, data_config.clip_frames)
        text = json.dumps(self.key, sort_keys=True)
        digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()
        self.directory = root / f"v{CACHE_VERSION}-{digest}"
        self.clips_dir = self.directory / "clips"

    def prepare(self) -> None:
        """Create the folders and describe the key. Raises ``DatasetError`` when impossible."""
        try:
            self.clips_dir.mkdir(parents=True, exist_ok=True)
            key_file = self.directory / "key.json"
            if not key_file.exists():
                text = json.dumps(self.key, indent=2, sort_keys=True).encode()
                write_atomically(key_file, lambda f: f.write(text))
        except OSError as exc:
            raise DatasetError(f"cannot create the cache folder {self.directory}: "
                               f"{exc.strerror or exc}") from None

    def manifest_path(self, folder: Path) -> Path:
        """Manifest of a dataset folder (named by a hash of its absolute path)."""
        digest = hashlib.blake2b(str(folder).encode(), digest_size=8).hexdigest()
        return self.directory / "datasets" / f"{digest}.json"

    def clip_path(self, content_hash: str) -> Path:
        return self.clips_dir / f"{content_hash}.npy"

    def write_clips(self, content_hash: str, clips: np.ndarray) -> None:
        """Store ``[N, 2, M, F]`` clips atomically. Raises ``DatasetError`` (disk full, ...)."""
        if clips.shape[1:] != self.clip_shape:
            raise ValueError(f"clips of shape {clips.shape[1:]}, expected {self.clip_shape}")
        data = np.ascontiguousarray(clips, dtype=CLIP_DTYPE)
        try:
            write_atomically(self.clip_path(content_hash), lambda f: np.save(f, data))
        except OSError as exc:
            raise DatasetError(f"cannot write to the cache folder {self.clips_dir}: "
                               f"{exc.strerror or exc}") from None

    def open_clips(self, content_hash: str) -> np.ndarray:
        """The clips of one content, memory-mapped read-only: ``[N, 2, M, F]`` float16."""
        return np.load(self.clip_path(content_hash), mmap_mode="r", allow_pickle=False)

    def cached_clip_count(self, content_hash: str) -> int | None:
        """Clips in the stored array, or None when it is missing or not what this key writes.

        Reads only the array's header.
        """
        path = self.clip_path(content_hash)
        if not path.is_file():
            return None
        try:
            array = self.open_clips(content_hash)
        except (OSError, ValueError) as exc:
            log.warning("ignoring damaged cache file %s: %s", path, exc)
            return None
        if array.dtype != CLIP_DTYPE or array.ndim != 4 or array.shape[1:] != self.clip_shape:
            log.warning("ignoring cache file %s of shape %s", path, array.shape)
            return None
        return int(array.shape[0])
