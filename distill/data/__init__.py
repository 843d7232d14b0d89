"""Dataset layer: folder scan and report, preprocessing cache, torch datasets.

``build_cache(folder)`` scans a folder (every file reported, usable or skipped with a
reason), caches each new file's 2-channel clips on disk (``file_clips`` cuts them), and
returns a ``DatasetCache``; ``make_datasets`` splits it into training and validation
``ClipDataset``\\ s. Progress arrives as events (``events``) through a plain callback
(``distill.progress``). Settings: ``config`` (``DataConfig``, ``AugmentationConfig``).
"""

from distill.data.augment import augment_clip, item_generator
from distill.data.cache import DatasetCache, build_cache
from distill.data.clips import ClipLayout, clip_layout, complex_mel_frames, file_clips
from distill.data.dataset import ClipDataset, ClipItem, TrainValidation, make_datasets
from distill.data.events import CacheFinished, DatasetEvent, FileProcessed, FileSkipped, ScanStarted
from distill.data.report import FileEntry, ScanReport, ScanSummary
from distill.data.scan import list_dataset_files, scan_dataset
from distill.data.split import DatasetSplit, clip_table, split_clips
from distill.data.store import CACHE_VERSION, default_cache_root

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
    "scan_dataset",
    "split_clips",
]
