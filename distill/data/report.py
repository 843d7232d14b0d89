"""What a dataset scan found: one entry per file, and the summary a musician reads.

Every file of the folder (hidden ones aside) gets a ``FileEntry``: usable ("ok") or
skipped with a reason written for a person ("the file is silent", "duplicate of
drums/kick.wav"). ``ScanReport`` gathers them and serialises to JSON for ``--json``
and for the studio.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["ok", "skipped"]
OK: Status = "ok"
SKIPPED: Status = "skipped"


@dataclass(frozen=True)
class FileEntry:
    """One file of a dataset folder.

    Attributes
    ----------
    path
        Absolute path of the file.
    relpath
        Path relative to the dataset folder, with ``/`` separators (the file's name in reports).
    size
        Size in bytes.
    mtime_ns
        Modification time (nanoseconds); with ``size`` it tells whether the file changed.
    status
        ``"ok"`` or ``"skipped"``.
    reason
        Why the file is skipped (None when ok).
    note
        Something the user should know about a usable file (e.g. it was cut short).
    duration
        Length in seconds according to the header (None when unreadable).
    sample_rate, channels
        The file's own sample rate and channel count (before mixing down / resampling).
    content_hash
        Hash of the file's bytes; names its cached clip array.
    clips
        Number of cached clips (0 until the cache is built, or when skipped).
    max_magnitude
        Largest channel-0 value over the file's cached clips (for ``NormalizationStats``).
    built
        True when this run decoded the file; False when its clips came from the cache.
    """

    path: Path
    relpath: str
    size: int
    mtime_ns: int
    status: Status = OK
    reason: str | None = None
    note: str | None = None
    duration: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    content_hash: str | None = None
    clips: int = 0
    max_magnitude: float | None = None
    built: bool = False

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def usable(self) -> bool:
        """Usable for training: ok and at least one clip cached."""
        return self.ok and self.clips > 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


@dataclass(frozen=True)
class ScanSummary:
    """Counts over a report; ``duration`` is the total length (s) of the usable files."""

    files: int
    ok: int
    skipped: int
    duration: float
    clips: int

    def describe(self) -> str:
        """One line for people, e.g. ``12 files: 10 ok, 2 skipped, 4:41 of audio, 73 clips``."""
        return (f"{self.files} file{'s' if self.files != 1 else ''}: {self.ok} ok, "
                f"{self.skipped} skipped, {clock(self.duration)} of audio, {self.clips} clips")


def clock(seconds: float, decimals: int = 1) -> str:
    """``6.5 s`` under a minute, else ``m:ss`` or ``h:mm:ss``."""
    if seconds < 60:
        return f"{seconds:.{decimals}f} s"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(frozen=True)
class ScanReport:
    """All entries of one dataset folder, in sorted order of their relative paths.

    ``cancelled`` is True when a build stopped early; ``entries`` then holds only the
    files looked at before the stop.
    """

    folder: Path
    entries: tuple[FileEntry, ...] = field(default_factory=tuple)
    cancelled: bool = False

    @property
    def ok_entries(self) -> tuple[FileEntry, ...]:
        return tuple(e for e in self.entries if e.ok)

    @property
    def skipped_entries(self) -> tuple[FileEntry, ...]:
        return tuple(e for e in self.entries if not e.ok)

    @property
    def usable_entries(self) -> tuple[FileEntry, ...]:
        """Entries with cached clips, in report order (the dataset's file indices)."""
        return tuple(e for e in self.entries if e.usable)

    def entry(self, relpath: str) -> FileEntry:
        """The entry of ``relpath`` (``KeyError`` when the report has none)."""
        for e in self.entries:
            if e.relpath == relpath:
                return e
        raise KeyError(relpath)

    @property
    def summary(self) -> ScanSummary:
        ok = self.ok_entries
        return ScanSummary(files=len(self.entries), ok=len(ok), skipped=len(self.entries) - len(ok),
                           duration=sum(e.duration or 0.0 for e in ok),
                           clips=sum(e.clips for e in ok))

    def to_dict(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "cancelled": self.cancelled,
                "summary": asdict(self.summary), "entries": [e.to_dict() for e in self.entries]}
