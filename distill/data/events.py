"""Progress events of a dataset scan / cache build.

The build reports through one plain callback ``on_event(event)``
(``distill.progress.EventCallback[DatasetEvent]``): the CLI prints the events, the studio
re-emits them as Qt signals from its worker thread. Events are small frozen dataclasses,
safe to hand to another thread. The callback runs on the building thread, so it must be
quick (draw a bar, emit a signal) and must not block.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distill.data.report import FileEntry, ScanReport


@dataclass(frozen=True)
class ScanStarted:
    """The folder was listed: ``total`` files (hidden ones excluded) will be looked at."""

    folder: Path
    total: int


@dataclass(frozen=True)
class FileProcessed:
    """File ``index`` of ``total`` (0-based) is usable; ``entry.built`` says whether it
    was decoded in this run (False: its clips came from the cache)."""

    index: int
    total: int
    entry: FileEntry


@dataclass(frozen=True)
class FileSkipped:
    """File ``index`` of ``total`` (0-based) cannot be used; ``entry.reason`` says why."""

    index: int
    total: int
    entry: FileEntry


@dataclass(frozen=True)
class CacheFinished:
    """The build ended (``report.cancelled`` tells whether it ran to the end)."""

    report: ScanReport


DatasetEvent = ScanStarted | FileProcessed | FileSkipped | CacheFinished
