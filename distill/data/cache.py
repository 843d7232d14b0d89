"""Build (or bring up to date) the preprocessing cache of a dataset folder.

``build_cache`` scans the folder, decodes only the files whose content it has not cached
yet, cuts them into clips (``file_clips``) and stores one float16 array per content.
Progress goes to a plain callback and a cancel flag is checked between files; the
manifest is saved every few seconds and whenever the build ends (finished, cancelled or
failed), so nothing already computed is lost. Runs on whatever thread calls it; one
build per dataset folder at a time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.io import load_audio
from distill.audio.normalization import NormalizationStats
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data.clips import file_clips
from distill.data.config import DataConfig
from distill.data.events import CacheFinished, DatasetEvent, FileProcessed, FileSkipped, ScanStarted
from distill.data.manifest import Manifest
from distill.data.report import SKIPPED, FileEntry, ScanReport, clock
from distill.data.scan import iter_scan, list_dataset_files
from distill.data.store import CLIP_DTYPE, CacheStore
from distill.errors import AudioFileError, DatasetError
from distill.progress import CancelFlag, EventCallback, cancel_check, emitter

log = logging.getLogger(__name__)

#: Seconds between manifest saves while building (a crash loses at most this much bookkeeping).
SAVE_INTERVAL_S = 2.0


@dataclass(frozen=True)
class DatasetCache:
    """A built cache: the report of the folder and access to its clip arrays.

    ``files`` are the usable entries; a clip's file index refers to this tuple.
    """

    report: ScanReport
    store: CacheStore
    spectrogram_config: ComplexSpectrogramConfig
    data_config: DataConfig

    @property
    def files(self) -> tuple[FileEntry, ...]:
        return self.report.usable_entries

    @property
    def directory(self) -> Path:
        """The cache folder of this representation (clip arrays and manifests)."""
        return self.store.directory

    @property
    def clip_shape(self) -> tuple[int, int, int]:
        """``(2, n_mels, clip_frames)``."""
        return self.store.clip_shape

    def clip_path(self, entry: FileEntry) -> Path:
        """The array file of a usable entry."""
        if not entry.usable or entry.content_hash is None:
            raise ValueError(f"{entry.relpath} has no cached clips")
        return self.store.clip_path(entry.content_hash)

    def load_clips(self, entry: FileEntry) -> np.ndarray:
        """Clips of one usable file, memory-mapped: ``[N, 2, M, F]`` float16, un-normalised."""
        return np.load(self.clip_path(entry), mmap_mode="r", allow_pickle=False)

    def normalization_stats(self, if_scale: float = 0.9) -> NormalizationStats:
        """Scale factors from the largest channel-0 value of every usable file."""
        return NormalizationStats.from_magnitude_maxima(
            (e.max_magnitude or 0.0 for e in self.files), if_scale=if_scale)


def build_cache(folder: str | Path, spectrogram_config: ComplexSpectrogramConfig | None = None,
                data_config: DataConfig | None = None, cache_dir: str | Path | None = None,
                on_event: EventCallback[DatasetEvent] | None = None,
                cancel: CancelFlag = None) -> DatasetCache:
    """Scan ``folder`` and cache the clips of every usable file that is not cached yet.

    Parameters
    ----------
    folder
        Dataset folder (recursive; hidden files and folders ignored).
    spectrogram_config, data_config
        Representation and clip settings (defaults when None); they select the cache key.
    cache_dir
        Cache root; default ``platformdirs.user_cache_dir("distill-studio")/spectrograms``.
    on_event
        Called on this thread with ``ScanStarted``, then ``FileProcessed`` or ``FileSkipped``
        per file, then ``CacheFinished``.
    cancel
        ``threading.Event`` or callable, checked between files; when set the build returns
        with ``report.cancelled`` True and everything done so far saved.

    Returns
    -------
    DatasetCache
        The report (every file with its status, clip count, ...) and the clip arrays.

    Raises
    ------
    DatasetError
        The folder is missing or unreadable, or the cache cannot be written.
    """
    spectrogram_config = spectrogram_config or ComplexSpectrogramConfig()
    data_config = data_config or DataConfig()
    root = Path(folder).expanduser().resolve()
    files = list_dataset_files(root)
    store = CacheStore(spectrogram_config, data_config, cache_dir)
    store.prepare()
    manifest = Manifest.load(store.manifest_path(root), root)
    emit, stop = emitter(on_event), cancel_check(cancel)
    builder = _FileBuilder(store, manifest, spectrogram_config, data_config)
    emit(ScanStarted(root, len(files)))

    entries: list[FileEntry] = []
    scan = iter_scan(root, files, manifest.known_hashes())
    last_save = time.monotonic()
    cancelled = False
    try:
        for index in range(len(files)):
            if stop():
                cancelled = True
                break
            entry = builder.process(next(scan))
            entries.append(entry)
            emit((FileProcessed if entry.usable else FileSkipped)(index, len(files), entry))
            if entry.built and time.monotonic() - last_save > SAVE_INTERVAL_S:
                _save(manifest)
                last_save = time.monotonic()
        else:
            manifest.keep_only({e.relpath for e in entries})
    finally:
        _save(manifest)
    report = ScanReport(root, tuple(entries), cancelled=cancelled)
    log.info("dataset %s: %s%s", root, report.summary.describe(), " (cancelled)" if cancelled else "")
    emit(CacheFinished(report))
    return DatasetCache(report, store, spectrogram_config, data_config)


class _FileBuilder:
    """Turns a scanned entry into a final one: from the cache when possible, else decoded."""

    def __init__(self, store: CacheStore, manifest: Manifest,
                 spectrogram_config: ComplexSpectrogramConfig, data_config: DataConfig) -> None:
        self.store = store
        self.manifest = manifest
        self.spectrogram_config = spectrogram_config
        self.data_config = data_config
        self._spectrogram: ComplexSpectrogram | None = None  # built on the first decode

    def process(self, entry: FileEntry) -> FileEntry:
        content_hash = entry.content_hash
        if not entry.ok or content_hash is None:
            self.manifest.record(entry, decoded=False)
            return entry
        entry = replace(entry, note=_truncation_note(entry.duration, self.data_config.max_file_seconds))
        cached = self._from_cache(entry, content_hash)
        if cached is not None:
            self.manifest.record(cached, decoded=True)
            return cached
        try:
            built = self._decode(entry, content_hash)
        except AudioFileError as exc:
            built = replace(entry, status=SKIPPED, reason=exc.reason)
        except DatasetError:
            raise
        except Exception as exc:  # a decoder/resampler bug on one file must not stop the rest
            log.exception("processing %s failed", entry.path)
            failed = replace(entry, status=SKIPPED, built=True,
                             reason=f"could not be processed ({type(exc).__name__}: {exc})")
            self.manifest.record(failed, decoded=False)  # not remembered: retried next time
            return failed
        built = replace(built, built=True)
        self.manifest.record(built, decoded=True)
        return built

    def _from_cache(self, entry: FileEntry, content_hash: str) -> FileEntry | None:
        record = self.manifest.decoded(entry)
        if record is not None and record["status"] == SKIPPED:
            return replace(entry, status=SKIPPED, reason=record["reason"])
        count = self.store.cached_clip_count(content_hash)
        if count is None or count == 0:
            return None
        if record is not None and record["clips"] == count and record["max_magnitude"] is not None:
            return replace(entry, clips=count, max_magnitude=record["max_magnitude"])
        # The array exists but this path has no record of it (renamed or copied file,
        # or a manifest lost in a crash): adopt it rather than decode again.
        clips = self.store.open_clips(content_hash)
        return replace(entry, clips=count, max_magnitude=float(np.max(clips[:, 0])))

    def _decode(self, entry: FileEntry, content_hash: str) -> FileEntry:
        if self._spectrogram is None:
            self._spectrogram = ComplexSpectrogram(self.spectrogram_config)
        wave = load_audio(entry.path, min_samples=self.spectrogram_config.n_fft,
                          max_seconds=self.data_config.max_file_seconds)
        clips = file_clips(wave, self._spectrogram, self.data_config).numpy()
        if clips.shape[0] == 0:
            return replace(entry, status=SKIPPED, reason=(
                f"every clip is quieter than {self.data_config.silence_threshold_db:g} dBFS"))
        self.store.write_clips(content_hash, clips)
        # The maximum of what is stored, so normalised channel 0 never exceeds 1.
        peak = float(clips[:, 0].max().astype(CLIP_DTYPE))
        return replace(entry, clips=int(clips.shape[0]), max_magnitude=peak)


def _truncation_note(duration: float | None, max_seconds: float) -> str | None:
    if duration is None or duration <= max_seconds:
        return None
    return f"only the first {clock(max_seconds)} is used (the file lasts {clock(duration)})"


def _save(manifest: Manifest) -> None:
    try:
        manifest.save()
    except OSError as exc:
        # Not fatal: the clip arrays are on disk and are adopted again on the next run.
        log.warning("could not save the cache manifest %s: %s", manifest.path, exc)
