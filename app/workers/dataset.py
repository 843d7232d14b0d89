"""Dataset workers: building a dataset's cache, analysing one file for its preview."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from app.workers.base import CallbackWorker, LatestRequestWorker
from distill.audio.config import ComplexSpectrogramConfig
from distill.data.config import DataConfig
from distill.data.file_analysis import FileAnalysis, analyse_file
from distill.data.gather import resolve_dataset_folder

log = logging.getLogger(__name__)


class DatasetWorker(CallbackWorker):
    """Builds the cache of a dataset: one folder, or files gathered into a managed folder.

    ``progress`` carries ``DatasetImported`` (when files were gathered), then the events of
    ``distill.data.build_cache``; ``finished`` carries the ``DatasetCache``.

    Parameters
    ----------
    paths
        One folder, or several files/folders (linked or copied into a managed folder).
    cache_dir, spectrogram_config, data_config
        Passed to ``build_cache`` (None: its defaults).
    datasets_root
        Where managed folders are made (None: the user data dir).
    """

    def __init__(self, paths: Sequence[Path], cache_dir: Path | None = None,
                 spectrogram_config: ComplexSpectrogramConfig | None = None,
                 data_config: DataConfig | None = None, datasets_root: Path | None = None,
                 parent: QObject | None = None) -> None:
        self.paths = tuple(Path(p) for p in paths)

        def load(on_event: Callable[[Any], None], cancel: threading.Event):
            from distill.data import build_cache  # worker thread: keeps torch's import off the GUI

            folder = resolve_dataset_folder(self.paths, on_event, cancel, datasets_root)
            return build_cache(folder, spectrogram_config, data_config, cache_dir,
                               on_event=on_event, cancel=cancel)

        name = self.paths[0].name if len(self.paths) == 1 else f"{len(self.paths)} files"
        super().__init__(load, f"Loading {name}", parent)


class FileAnalysisWorker(LatestRequestWorker):
    """Loads a file and computes its 2-channel spectrogram; the newest request wins.

    ``request(path)``; ``finished`` carries a ``distill.data.file_analysis.FileAnalysis``,
    ``errored`` names the file.
    """

    def __init__(self, config: ComplexSpectrogramConfig | None = None,
                 max_seconds: float | None = None, parent: QObject | None = None) -> None:
        super().__init__("Analysing a file", parent)
        self.config = config or ComplexSpectrogramConfig()
        self.max_seconds = DataConfig().max_file_seconds if max_seconds is None else max_seconds
        self._transform = None  # built on the worker thread at the first request

    def request(self, path: str | Path) -> int:
        return super().request(Path(path))

    def _describe(self, payload: Path) -> str:
        return f"Analysing {payload.name}"

    def _process(self, request_id: int, path: Path) -> FileAnalysis:
        if self._transform is None:
            from distill.audio.spectrogram import ComplexSpectrogram

            self._transform = ComplexSpectrogram(self.config)
        return analyse_file(path, self._transform, self.max_seconds)

