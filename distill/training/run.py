"""``train``: folder (or cache) in, model file out — the one entry of the CLI and the studio.

Steps: check the output can be written; read the checkpoint to resume from; build or
update the dataset cache (its events forwarded); apply the dataset-size preset (settings
set explicitly win); split; train (``Trainer``); analyse and save the model
(``finalize_model``). Every user error becomes a ``DistillError`` with a message written
for a musician, after a ``Failed`` event with the same message, so a GUI may listen to
either. A cancelled run still saves the model trained so far.

Under torchrun (``distributed``) every process calls ``train``: rank 0 builds the cache
while the others wait, then each trains its share; rank 0 alone sends events, writes the
checkpoints and the model file and runs the latent analysis at the end.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import torch

from distill.data import DatasetCache, build_cache, make_datasets
from distill.errors import DatasetError, DistillError, TrainingError
from distill.progress import EventCallback
from distill.training.checkpoint import (
    Checkpoint,
    CheckpointFolder,
    default_checkpoint_root,
    read_checkpoint,
    write_failure,
)
from distill.training.config import RunConfig
from distill.training.device import select_device
from distill.training.distributed import Distributed, is_collective_error, peer_failure
from distill.training.events import Failed, Finished, RunEvent, TrainingCancelledError, TrainingControl
from distill.training.finalize import finalize_model
from distill.training.presets import ensure_min_steps, resolve_preset
from distill.training.state import TrainOutcome
from distill.training.trainer import Trainer

log = logging.getLogger(__name__)

#: Training settings a resumed run may change; everything else comes from the checkpoint.
RESUME_OVERRIDES = frozenset({"epochs", "device", "num_threads", "num_workers", "keep_checkpoints",
                              "checkpoint_every_epochs", "preview_every_epochs", "early_stop_patience"})

#: How the error message of a run that ended badly names the model it still saved.
_SAVED_AS = {"checkpoint_failed": "The model trained so far was saved to",
             "diverged": "The last good model was saved to"}


def train(source: str | Path | DatasetCache, output: str | Path, setup: RunConfig | None = None, *,
          explicit: Iterable[str] = (), on_event: EventCallback[RunEvent] | None = None,
          control: TrainingControl | None = None, cache_dir: str | Path | None = None,
          checkpoint_dir: str | Path | None = None, resume: str | Path | None = None,
          distributed: Distributed | None = None) -> Path:
    """Train a model on a folder of sounds and write its model file.

    Parameters
    ----------
    source
        Dataset folder (scanned and cached), or a cache already built with
        ``setup.spectrogram`` / ``setup.data``.
    output
        The model file to write (``.distill``).
    setup
        The run's configuration (defaults when None). ``setup.training.preset`` "auto"
        picks a preset from the number of usable files.
    explicit
        ``TrainingConfig`` field names the user set: the preset does not override them
        (and on resume, those in ``RESUME_OVERRIDES`` replace the checkpoint's).
    on_event
        Called on this thread with the dataset events, the training events
        (``distill.training.events``), the analysis events, then ``Finished`` or ``Failed``.
    control
        Pause/resume/cancel from any thread.
    cache_dir, checkpoint_dir
        Cache root (default: the user cache) and this run's checkpoint folder (default:
        ``<user data>/checkpoints/<model name>-<time>``, or the folder of ``resume``).
    resume
        A checkpoint to continue from: its configuration and position are restored (in a
        distributed run every process reads it: put it where all of them can).
    distributed
        This process's place in a torchrun run (``Distributed.from_environment``); the
        process group is started and closed here. Default: a single process.

    Returns
    -------
    Path
        The model file (also when the run was cancelled; in a distributed run's other
        processes, the file rank 0 writes).

    Raises
    ------
    TrainingCancelledError
        Cancelled before a single step was trained (nothing to save).
    DistillError
        Unusable dataset, unwritable output or checkpoint folder, disk full, a device
        that is not there, or divergence (the last good model is then still saved).
    """
    dist = distributed or Distributed()
    emit = on_event if on_event is not None and dist.is_main else (lambda event: None)
    control = control or TrainingControl()
    try:
        path, outcome = _train(source, Path(output).expanduser(), setup or RunConfig(), set(explicit),
                               emit, control, cache_dir, checkpoint_dir, resume, dist)
    except DistillError as exc:
        emit(Failed(str(exc)))
        raise
    except torch.OutOfMemoryError:
        error = TrainingError("out of memory on the GPU: try a smaller batch size (--batch-size)")
        emit(Failed(str(error)))
        raise error from None
    except Exception as exc:  # a bug: reported like the rest, then raised with its traceback
        emit(Failed(f"unexpected error: {type(exc).__name__}: {exc}"))
        raise
    if outcome.status in ("diverged", "bad_data", "checkpoint_failed"):
        saved = _SAVED_AS.get(outcome.status, "The model trained until then was saved to")
        message = f"{outcome.message}. {saved} {path}"
        emit(Failed(message, path))
        raise TrainingError(message)
    emit(Finished(path, outcome.epochs, stopped_early=outcome.status == "stopped_early",
                  cancelled=outcome.status == "cancelled", stopped=outcome.status == "stopped"))
    return path


def _train(source: str | Path | DatasetCache, output: Path, setup: RunConfig, explicit: set[str],
           emit: EventCallback[RunEvent], control: TrainingControl, cache_dir: str | Path | None,
           checkpoint_dir: str | Path | None, resume: str | Path | None,
           dist: Distributed) -> tuple[Path, TrainOutcome]:
    if dist.is_main:
        check_output(output)
    resumed = read_checkpoint(resume) if resume is not None else None
    # The device (the backend: NCCL or gloo) before the cache, which the processes share.
    saved = resumed.run.training if resumed is not None and "device" not in explicit else None
    dist.start(select_device(saved.device if saved is not None else setup.training.device))
    try:
        with dist.main_first():  # rank 0 builds the cache; the others then read it
            cache = load_cache(source, resumed.run if resumed else setup, cache_dir, emit, control)
        result = _train_cached(cache, output, setup, explicit, emit, control, checkpoint_dir, resumed,
                               dist)
        dist.leave_together()
        return result
    except Exception as exc:
        if dist.active and is_collective_error(exc):
            raise peer_failure(exc) from None
        raise
    finally:
        dist.close()


def _train_cached(cache: DatasetCache, output: Path, setup: RunConfig, explicit: set[str],
                  emit: EventCallback[RunEvent], control: TrainingControl,
                  checkpoint_dir: str | Path | None, resumed: Checkpoint | None,
                  dist: Distributed) -> tuple[Path, TrainOutcome]:
    run = resolve_run(setup, explicit, resumed, len(cache.files))
    normalization = resumed.normalization if resumed else cache.normalization_stats()
    datasets = make_datasets(cache, run.training, normalization)
    if resumed is None:
        run = run.replace(training=ensure_min_steps(run.training, len(datasets.train), explicit))
    folder = CheckpointFolder(checkpoint_folder(output, checkpoint_dir, resumed),
                              run.training.keep_checkpoints, last=resumed.path if resumed else None)
    if dist.is_main:
        folder.check_writable()
    trainer = Trainer(run, datasets, checkpoints=folder, on_event=emit, control=control, resume=resumed,
                      distributed=dist)
    outcome = trainer.run()
    if outcome.bad_clip is not None:
        outcome = replace(outcome, message=bad_clip_message(cache, *outcome.bad_clip))
    if outcome.steps == 0:
        if outcome.status in ("cancelled", "stopped"):
            raise TrainingCancelledError("training was cancelled before the first step; nothing was saved")
        raise TrainingError(f"{outcome.message or 'training stopped'}; no step could be trained, so "
                            "no model was saved")
    if not dist.is_main:  # rank 0 analyses and writes the model
        return output, outcome
    path = finalize_model(output, trainer.model, run, normalization, trainer.state.history, cache,
                          on_event=emit, control=control, last_checkpoint=folder.last)
    return path, outcome


def bad_clip_message(cache: DatasetCache, file_index: int, clip_index: int) -> str:
    """Why training stopped on a clip holding NaN/inf: which source file, and what to do."""
    entry = cache.files[file_index]
    return (f"clip {clip_index + 1} of {entry.path} holds invalid values (NaN or infinity) in "
            f"the dataset cache ({cache.clip_path(entry)}): the cache entry is damaged. Delete "
            "that cache file (it is rebuilt from the sound) or remove the sound from the folder, "
            "then train again")


def check_output(path: Path) -> None:
    """Fail now, not after hours of training, when the model file cannot be written."""
    if path.is_dir():
        raise TrainingError(f"{path} is a folder; give the name of the model file to write "
                            f"(e.g. {path / 'model.distill'})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise TrainingError(write_failure("the model", path, exc, None)) from None


def load_cache(source: str | Path | DatasetCache, run: RunConfig, cache_dir: str | Path | None,
               emit: EventCallback[RunEvent], control: TrainingControl) -> DatasetCache:
    """The cache of the dataset, built or brought up to date, with at least one usable file."""
    if isinstance(source, DatasetCache):
        if (source.spectrogram_config, source.data_config) != (run.spectrogram, run.data):
            raise TrainingError("the dataset cache was built with other representation or clip "
                                "settings than this run uses")
        return source
    cache = build_cache(source, run.spectrogram, run.data, cache_dir, on_event=emit,
                        cancel=lambda: control.cancelled)
    if cache.report.cancelled:
        raise TrainingCancelledError("cancelled while preparing the dataset; nothing was trained")
    if not cache.files:
        raise DatasetError(f"no usable audio files in {cache.report.folder} "
                           f"({cache.report.summary.describe()}); run `distill dataset` on the folder "
                           "to see why each file was skipped")
    return cache


def resolve_run(setup: RunConfig, explicit: set[str], resumed: Checkpoint | None,
                num_files: int) -> RunConfig:
    """The configuration to train with: the preset under the explicit settings, or on resume
    the checkpoint's with the few settings a resumed run may change."""
    if resumed is None:
        return setup.replace(training=resolve_preset(setup.training, num_files, explicit))
    saved = resumed.run.training
    changes = {name: getattr(setup.training, name) for name in explicit & RESUME_OVERRIDES}
    ignored = sorted(name for name in explicit - RESUME_OVERRIDES
                     if hasattr(saved, name) and getattr(setup.training, name) != getattr(saved, name))
    if ignored:
        log.warning("resuming: %s come(s) from the checkpoint; the values given are ignored",
                    ", ".join(ignored))
    return resumed.run.replace(training=saved.replace(**changes))


def checkpoint_folder(output: Path, requested: str | Path | None, resumed: Checkpoint | None) -> Path:
    if requested is not None:
        return Path(requested).expanduser()
    if resumed is not None and resumed.path is not None:
        return resumed.path.parent
    return default_checkpoint_root() / f"{output.stem}-{datetime.now():%Y%m%d-%H%M%S}"
