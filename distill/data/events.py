"""Progress events of a dataset scan / cache build, and the cancel flag they honour.

The build reports through one plain callback ``on_event(event)``: the CLI prints the
events, the studio re-emits them as Qt signals from its worker thread. Events are small
frozen dataclasses, safe to hand to another thread. The callback runs on the building
thread, so it must be quick (draw a bar, emit a signal) and must not block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
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
EventCallback = Callable[[DatasetEvent], None]
#: A ``threading.Event`` or any callable returning True once the work should stop.
CancelFlag = threading.Event | Callable[[], bool] | None


def cancel_check(cancel: CancelFlag) -> Callable[[], bool]:
    """Turn a cancel flag (Event, callable or None) into a function returning a bool."""
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    if callable(cancel):
        return lambda: bool(cancel())
    raise TypeError(f"cancel must be a threading.Event or a callable, got {type(cancel).__name__}")


def emitter(on_event: EventCallback | None) -> EventCallback:
    """``on_event`` itself, or a callback that drops events when none was given."""
    return on_event if on_event is not None else (lambda event: None)
