"""Exceptions that carry a message meant for the user (the CLI prints it, the GUI shows it)."""

from __future__ import annotations

from pathlib import Path


class DistillError(Exception):
    """Base class of errors whose message is written for a musician, not a developer."""


class AudioFileError(DistillError):
    """An audio file that cannot be used, with its path and a human reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelFileError(DistillError):
    """A model or checkpoint file that cannot be read (foreign, truncated, unsafe, too new)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DatasetError(DistillError):
    """A dataset that cannot be trained on (no usable files, no clips, unreadable folder)."""


class TrainingError(DistillError):
    """Training stopped for a reason the user can act on (divergence, disk full, ...)."""
