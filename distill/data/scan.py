"""Walk a dataset folder and judge every file from its header and its bytes.

The scan never decodes audio: it reads headers (``audio_info``) and hashes contents,
so it is quick even for hundreds of files, and hashes of unchanged files come from the
cache manifest (``known_hashes``). Decoding problems (silence, NaN, too short) are found
by the cache build, which continues from these entries.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from distill.audio.io import audio_info
from distill.constants import AUDIO_EXTENSIONS
from distill.data.report import SKIPPED, FileEntry, ScanReport
from distill.errors import AudioFileError, DatasetError
from distill.progress import CancelFlag, cancel_check

log = logging.getLogger(__name__)

#: relpath -> (size, mtime_ns, content hash): hashes remembered from an earlier run.
KnownHashes = Mapping[str, tuple[int, int, str]]

_HASH_BLOCK = 1 << 20


def list_dataset_files(folder: str | Path) -> list[Path]:
    """Every non-hidden file under ``folder`` (recursively), sorted by relative path.

    Hidden files and folders (name starting with ``.``) are left out silently. A
    sub-folder that cannot be listed is returned itself, so the scan can report it.

    Raises
    ------
    DatasetError
        The folder does not exist, is not a folder, or cannot be read.
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise DatasetError(f"dataset folder not found: {root}")
    if not root.is_dir():
        raise DatasetError(f"not a folder: {root}")
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise DatasetError(f"cannot read the dataset folder {root}: {exc.strerror or exc}") from None

    found: list[Path] = []

    def unreadable(exc: OSError) -> None:
        if exc.filename and Path(exc.filename) != root:
            found.append(Path(exc.filename))

    # Symlinked folders are not followed: a link loop must not hang the scan.
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(Path(dirpath) / name for name in filenames if not name.startswith("."))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def hash_file(path: Path) -> str:
    """BLAKE2b (128-bit) of the file's bytes, as hex."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def scan_file(path: Path, folder: Path, known_hashes: KnownHashes | None = None) -> FileEntry:
    """Judge one file from its extension, header and bytes (no decoding).

    ``known_hashes`` supplies the hash of a file whose size and mtime did not change.
    """
    relpath = path.relative_to(folder).as_posix()
    try:
        st = path.stat()
    except OSError as exc:
        return FileEntry(path, relpath, 0, 0, SKIPPED, f"cannot be read ({exc.strerror or exc})")
    entry = FileEntry(path, relpath, st.st_size, st.st_mtime_ns)
    if path.is_dir():
        return replace(entry, status=SKIPPED, reason="the folder cannot be read")
    suffix = path.suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        return replace(entry, status=SKIPPED,
                       reason=f"not an audio file ({suffix or 'no extension'})")
    try:
        info = audio_info(path)
    except AudioFileError as exc:
        return replace(entry, status=SKIPPED, reason=exc.reason)
    entry = replace(entry, duration=info.duration, sample_rate=info.sample_rate,
                    channels=info.channels)
    known = (known_hashes or {}).get(relpath)
    if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
        return replace(entry, content_hash=known[2])
    try:
        return replace(entry, content_hash=hash_file(path))
    except OSError as exc:
        return replace(entry, status=SKIPPED, reason=f"cannot be read ({exc.strerror or exc})")


def iter_scan(folder: Path, files: Iterable[Path],
              known_hashes: KnownHashes | None = None) -> Iterator[FileEntry]:
    """``scan_file`` over ``files`` in order; later copies of a content become duplicates.

    A generator, so a caller can stop between files (cancel) and act on each entry
    before the next file is read.
    """
    first_with_hash: dict[str, str] = {}
    for path in files:
        entry = scan_file(path, folder, known_hashes)
        if entry.ok and entry.content_hash is not None:
            first = first_with_hash.setdefault(entry.content_hash, entry.relpath)
            if first != entry.relpath:
                entry = replace(entry, status=SKIPPED, reason=f"duplicate of {first}")
        yield entry


def scan_dataset(folder: str | Path, known_hashes: KnownHashes | None = None,
                 cancel: CancelFlag = None) -> ScanReport:
    """Scan a dataset folder: one entry per file, usable or skipped with a reason.

    Parameters
    ----------
    folder
        The dataset folder; scanned recursively, hidden files and folders ignored.
    known_hashes
        Hashes from an earlier run (see ``KnownHashes``); unchanged files are not re-read.
    cancel
        ``threading.Event`` or callable, checked between files.

    Returns
    -------
    ScanReport
        Entries in sorted order. Clip counts stay 0: ``build_cache`` fills them in.

    Raises
    ------
    DatasetError
        The folder is missing or unreadable.
    """
    root = Path(folder).expanduser().resolve()
    files = list_dataset_files(root)
    stop = cancel_check(cancel)
    entries: list[FileEntry] = []
    for entry in iter_scan(root, files, known_hashes):
        entries.append(entry)
        if stop():
            return ScanReport(root, tuple(entries), cancelled=len(entries) < len(files))
    return ScanReport(root, tuple(entries))
