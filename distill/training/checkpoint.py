"""Training checkpoints: everything needed to continue a run, in one safe tensor file.

A checkpoint is a safetensors file (``distill.models.write_tensor_file``: atomic, never a
pickle) holding ``model.*`` (the weights) and the tensors of the optimizer, scheduler and
RNG states (``distill.training.codec``), with one JSON document in its metadata::

    {"format": "distill-checkpoint", "version": 1, "run": {RunConfig},
     "normalization": {...}, "state": {TrainState}, "optimizer": ..., "scheduler": ...,
     "rng": ...}

``CheckpointFolder`` names them after the run's position, keeps the newest
``keep_checkpoints`` and turns write failures (disk full, no permission) into a
``TrainingError`` that names the last checkpoint still intact.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import torch

from distill.audio.normalization import NormalizationStats
from distill.errors import ModelFileError, TrainingError
from distill.fileio import describe_os_error
from distill.models import read_tensor_file, write_tensor_file
from distill.training.codec import decode_state, encode_state
from distill.training.config import RunConfig
from distill.training.state import TrainState

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "distill-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_SUFFIX = ".ckpt"
#: Metadata keys (the format name is readable without parsing the document).
FORMAT_KEY = "format"
DOCUMENT_KEY = "distill-checkpoint"
WEIGHTS_PREFIX = "model."


@dataclass
class Checkpoint:
    """One saved position of a run (tensors on the CPU)."""

    run: RunConfig
    normalization: NormalizationStats
    state: TrainState
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    scheduler_state: dict[str, Any]
    rng: dict[str, Any]
    path: Path | None = None


def write_checkpoint(path: str | Path, checkpoint: Checkpoint) -> Path:
    """Write ``checkpoint`` atomically to ``path`` (raises ``OSError`` as it comes)."""
    tensors = {WEIGHTS_PREFIX + k: v for k, v in checkpoint.model_state.items()}
    document = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "run": checkpoint.run.to_dict(),
        "normalization": checkpoint.normalization.to_dict(),
        "state": checkpoint.state.to_dict(),
        "optimizer": encode_state(checkpoint.optimizer_state, "optimizer", tensors),
        "scheduler": encode_state(checkpoint.scheduler_state, "scheduler", tensors),
        "rng": encode_state(checkpoint.rng, "rng", tensors),
    }
    metadata = {FORMAT_KEY: CHECKPOINT_FORMAT, DOCUMENT_KEY: json.dumps(document)}
    return write_tensor_file(path, tensors, metadata)


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by ``write_checkpoint``.

    Raises
    ------
    ModelFileError
        Not a checkpoint (a model file, a pickle, anything else), truncated, corrupt,
        or written by a newer distill.
    """
    path = Path(path)
    tensors, metadata = read_tensor_file(path)
    if metadata.get(FORMAT_KEY) != CHECKPOINT_FORMAT or DOCUMENT_KEY not in metadata:
        what = "a distill model file" if metadata.get(FORMAT_KEY) == "distill-model" else "something else"
        raise ModelFileError(path, f"not a training checkpoint ({what}); resume from one of the "
                                   f"{CHECKPOINT_SUFFIX} files of the checkpoint folder")
    try:
        doc = json.loads(metadata[DOCUMENT_KEY])
        if doc.get("version") != CHECKPOINT_VERSION:
            raise ModelFileError(path, f"checkpoint version {doc.get('version')!r} is not supported "
                                       f"(this distill reads version {CHECKPOINT_VERSION})")
        return Checkpoint(
            run=RunConfig.from_dict(doc["run"]),
            normalization=NormalizationStats.from_dict(doc["normalization"]),
            state=TrainState.from_dict(doc["state"]),
            model_state={k[len(WEIGHTS_PREFIX):]: v for k, v in tensors.items()
                         if k.startswith(WEIGHTS_PREFIX)},
            optimizer_state=decode_state(doc["optimizer"], tensors),
            scheduler_state=decode_state(doc["scheduler"], tensors),
            rng=decode_state(doc["rng"], tensors),
            path=path)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(path, f"the checkpoint is corrupt ({type(exc).__name__}: {exc})") from None


def default_checkpoint_root() -> Path:
    """Per-user folder of checkpoint folders (one per run)."""
    return Path(platformdirs.user_data_dir("distill-studio")) / "checkpoints"


class CheckpointFolder:
    """The checkpoints of one run: ``ckpt-e<epoch>-s<step>.ckpt``, newest ``keep`` kept.

    Parameters
    ----------
    directory
        The run's folder (created on the first save).
    keep
        How many checkpoints to keep; older ones (by write time) are deleted after each save.
    last
        The newest good checkpoint known before this session (the one resumed from).
    """

    def __init__(self, directory: str | Path, keep: int, last: Path | None = None) -> None:
        self.directory = Path(directory).expanduser()
        self.keep = keep
        self.last = last

    def check_writable(self) -> None:
        """Create the folder now, so a bad location fails before any training."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TrainingError(f"cannot create the checkpoint folder {self.directory}: "
                                f"{exc.strerror or exc}") from None

    def save(self, checkpoint: Checkpoint) -> Path:
        """Write a checkpoint, prune old ones, return its path.

        Raises
        ------
        TrainingError
            The file could not be written (disk full, permissions); earlier checkpoints
            are untouched.
        """
        state = checkpoint.state
        path = self.directory / f"ckpt-e{state.epoch:05d}-s{state.step:08d}{CHECKPOINT_SUFFIX}"
        try:
            write_checkpoint(path, checkpoint)
        except OSError as exc:
            raise TrainingError(write_failure("a checkpoint", path, exc, self.last)) from None
        self.last = path
        self._prune()
        log.info("checkpoint %s", path)
        return path

    def _prune(self) -> None:
        saved = sorted(self.directory.glob(f"ckpt-*{CHECKPOINT_SUFFIX}"),
                       key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in saved[self.keep:]:
            if old != self.last:
                try:
                    old.unlink()
                except OSError as exc:
                    log.warning("could not delete the old checkpoint %s: %s", old, exc)


def write_failure(what: str, path: Path, exc: OSError, last_good: Path | None) -> str:
    """A message for a failed write that says why and what is still safe."""
    reason = describe_os_error(exc)
    safe = (f"; the last good checkpoint {last_good} is intact (free some space and resume from it "
            f"with --resume)" if last_good is not None else "")
    return f"could not write {what} to {path}: {reason}{safe}"
