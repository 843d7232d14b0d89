"""Which folder a set of paths becomes: the folder itself, or a managed folder gathering the files.

A single folder is the dataset. Anything else (several files, files and folders)
is gathered into a new folder under ``user_data_dir("distill-studio")/datasets/<name>``
by symbolic links, or by copies where links are not allowed (Windows without developer
mode, some network drives) — the ``DatasetImported`` event says which, so the user knows
whether the originals are still the ones in use. The studio calls this for a drop (on a
worker thread); a script may call it from any thread.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from distill.data.scan import list_dataset_files
from distill.errors import DatasetError

log = logging.getLogger(__name__)


def managed_datasets_root() -> Path:
    """Where gathered datasets live: ``user_data_dir("distill-studio")/datasets``."""
    return Path(platformdirs.user_data_dir("distill-studio")) / "datasets"


@dataclass(frozen=True)
class DatasetImported:
    """Dropped files were gathered into ``folder``: ``linked`` as links, ``copied`` as copies."""

    folder: Path
    linked: int
    copied: int
    missing: int = 0

    def describe(self) -> str:
        how = []
        if self.linked:
            how.append(f"linked {self.linked} file{'s' if self.linked != 1 else ''}")
        if self.copied:
            how.append(f"copied {self.copied} file{'s' if self.copied != 1 else ''}"
                       " (links are not possible here)")
        text = f"{', '.join(how).capitalize() or 'Nothing gathered'} into {self.folder}"
        if self.missing:
            text += f"; {self.missing} dropped item{'s' if self.missing != 1 else ''} not found"
        return text


def resolve_dataset_folder(paths: Sequence[Path], on_event: Callable[[object], None],
                           cancel: threading.Event, root: Path | None = None) -> Path:
    """The folder to build from ``paths``.

    Parameters
    ----------
    paths
        One folder, or several files and folders.
    on_event
        Receives a ``DatasetImported`` when files were gathered.
    cancel
        Stops the gathering between files when set.
    root
        Where managed folders are made (None: ``managed_datasets_root()``).

    Returns
    -------
    Path
        ``paths[0]`` when it is the only path and a folder, else a new managed folder
        holding every given file.

    Raises
    ------
    DatasetError
        Nothing given, nothing found, or the folder could not be made or filled.
    """
    paths = [Path(p).expanduser() for p in paths]
    if not paths:
        raise DatasetError("nothing to load: no files or folders were given")
    if len(paths) == 1 and paths[0].is_dir():
        return paths[0]
    existing = [p for p in paths if p.exists()]
    if not existing:
        raise DatasetError(f"not found: {', '.join(str(p) for p in paths)}")
    imported = gather_files(existing, root or managed_datasets_root(), cancel)
    on_event(DatasetImported(imported.folder, imported.linked, imported.copied,
                             missing=len(paths) - len(existing)))
    return imported.folder


def gather_files(paths: Sequence[Path], root: Path, cancel: threading.Event | None = None
                 ) -> DatasetImported:
    """Link (or copy) ``paths`` into a new folder under ``root``.

    Files keep their names (a clash gets `` (2)``); a folder's files keep their place under
    the folder's name. Stops between files when ``cancel`` is set.
    """
    targets = _plan(paths)
    folder = _new_folder(root, _dataset_name(paths))
    linked = copied = 0
    can_link = True
    for source, relative in targets:
        if cancel is not None and cancel.is_set():
            break
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if can_link:
            try:
                os.symlink(source.resolve(), target)
                linked += 1
                continue
            except (OSError, RuntimeError) as exc:  # RuntimeError: no symlinks on this platform
                log.info("symbolic links are not possible in %s (%s): copying", folder, exc)
                can_link = False
        try:
            shutil.copy2(source, target)
        except OSError as exc:
            raise DatasetError(f"could not copy {source} into {folder}: {exc.strerror or exc}") from None
        copied += 1
    return DatasetImported(folder, linked, copied)


def _plan(paths: Sequence[Path]) -> list[tuple[Path, Path]]:
    """``(source file, path inside the new folder)`` for every file to gather."""
    planned: list[tuple[Path, Path]] = []
    taken: set[str] = set()

    def claim(relative: Path) -> Path:
        candidate, n = relative, 1
        while candidate.as_posix().lower() in taken:
            n += 1
            candidate = relative.with_name(f"{relative.stem} ({n}){relative.suffix}")
        taken.add(candidate.as_posix().lower())
        return candidate

    for path in paths:
        if path.is_dir():
            for file in list_dataset_files(path):
                planned.append((file, claim(Path(path.name) / file.relative_to(path))))
        else:
            planned.append((path, claim(Path(path.name))))
    return planned


def _dataset_name(paths: Sequence[Path]) -> str:
    parents = {p.resolve().parent for p in paths}
    base = next(iter(parents)).name if len(parents) == 1 else "dropped"
    return f"{base or 'dropped'}-{time.strftime('%Y%m%d-%H%M%S')}"


def _new_folder(root: Path, name: str) -> Path:
    try:
        root.mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            folder = root / (name if n == 1 else f"{name}-{n}")
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            return folder
    except OSError as exc:
        raise DatasetError(f"could not create a dataset folder in {root}: {exc.strerror or exc}") from None
    raise DatasetError(f"could not create a dataset folder in {root}: too many named {name}")
