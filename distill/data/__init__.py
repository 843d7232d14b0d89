"""Dataset layer: folder scan and report, preprocessing cache, torch datasets.

``build_cache(folder)`` scans a folder (every file reported, usable or skipped with a
reason), caches each new file's 2-channel clips on disk (``file_clips`` cuts them), and
returns a ``DatasetCache``; ``make_datasets`` splits it into training and validation
``ClipDataset``\\ s. Progress arrives as events (``events``) through a plain callback
(``distill.progress``). Settings: ``config`` (``DataConfig``, ``AugmentationConfig``).

The names below are imported on first use (PEP 562): importing one torch-free
submodule (a config, the model-file header) does not import torch with the rest
(``distill info`` reads a model file in a fraction of the ~1.3 s torch takes to import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distill.lazy_exports import lazy_exports

if TYPE_CHECKING:  # what static tools (PyInstaller, IDEs, import-linter) follow
    from distill.data.augment import augment_clip, item_generator, mix_clips
    from distill.data.cache import DatasetCache, build_cache
    from distill.data.clips import ClipLayout, clip_layout, complex_mel_frames, file_clips
    from distill.data.dataset import ClipDataset, ClipItem, TrainValidation, make_datasets
    from distill.data.events import CacheFinished, DatasetEvent, FileProcessed, FileSkipped, ScanStarted
    from distill.data.report import FileEntry, ScanReport, ScanSummary
    from distill.data.scan import list_dataset_files, scan_dataset
    from distill.data.split import DatasetSplit, clip_table, split_clips
    from distill.data.store import CACHE_VERSION, default_cache_root

#: Exported name -> the submodule that defines it.
_EXPORTS = {
    **dict.fromkeys(("augment_clip", "item_generator", "mix_clips"), "augment"),
    **dict.fromkeys(("DatasetCache", "build_cache"), "cache"),
    **dict.fromkeys(("ClipLayout", "clip_layout", "complex_mel_frames", "file_clips"), "clips"),
    **dict.fromkeys(("ClipDataset", "ClipItem", "TrainValidation", "make_datasets"), "dataset"),
    **dict.fromkeys(("CacheFinished", "DatasetEvent", "FileProcessed", "FileSkipped", "ScanStarted"),
                    "events"),
    **dict.fromkeys(("FileEntry", "ScanReport", "ScanSummary"), "report"),
    **dict.fromkeys(("list_dataset_files", "scan_dataset"), "scan"),
    **dict.fromkeys(("DatasetSplit", "clip_table", "split_clips"), "split"),
    **dict.fromkeys(("CACHE_VERSION", "default_cache_root"), "store"),
}
__all__ = [
    "CACHE_VERSION",
    "CacheFinished",
    "ClipDataset",
    "ClipItem",
    "ClipLayout",
    "DatasetCache",
    "DatasetEvent",
    "DatasetSplit",
    "FileEntry",
    "FileProcessed",
    "FileSkipped",
    "ScanReport",
    "ScanStarted",
    "ScanSummary",
    "TrainValidation",
    "augment_clip",
    "build_cache",
    "clip_layout",
    "clip_table",
    "complex_mel_frames",
    "default_cache_root",
    "file_clips",
    "item_generator",
    "list_dataset_files",
    "make_datasets",
    "mix_clips",
    "scan_dataset",
    "split_clips",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
