"""``distill train FOLDER -o MODEL.distill``: train a model on a folder of sounds.

Prints a progress bar (epoch, step, loss terms, ETA) and one line per epoch on stderr,
the model's path on stdout. Ctrl-C stops cleanly after the current step and saves the
model trained so far (exit status 130); a second Ctrl-C aborts at once (the last
checkpoint is intact either way). Settings given on the command line, or in ``--config``,
win over the dataset-size preset.

Under ``torchrun`` (``torchrun --nproc_per_node N -m distill train ...``) every process runs
this command: rank 0 prints (its progress line shows the global clips/s) and writes the
files. The launcher forwards SIGINT/SIGTERM to every process and kills them after its
``--shutdown-timeout`` (30 s), so there the first signal cancels: the processes stop after
the current step and rank 0 saves a checkpoint and the model without the latent analysis.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distill.cli.progress import ProgressBar
from distill.constants import MODEL_SUFFIX
from distill.data import FileProcessed, FileSkipped
from distill.errors import DistillError
from distill.training.config import PRESET_NAMES, TRAINING_PRECISIONS, RunConfig
from distill.training.events import (
    AnalysisSkipped,
    AnalysisStarted,
    CheckpointSaved,
    EpochEnd,
    Finished,
    RolledBack,
    StepProgress,
    TrainingControl,
    TrainingStarted,
)
from distill.training.overrides import dotted_keys

#: Command-line option -> (section of RunConfig, field).
OPTIONS = {
    "epochs": ("training", "epochs"),
    "batch_size": ("training", "batch_size"),
    "lr": ("training", "learning_rate"),
    "preset": ("training", "preset"),
    "device": ("training", "device"),
    "precision": ("training", "precision"),
    "threads": ("training", "num_threads"),
    "seed": ("training", "seed"),
    "latent_dim": ("model", "latent_dim"),
}
#: Short names of the loss terms on the progress line.
SHORT = {"magnitude": "mag", "instantaneous_frequency": "if", "stft": "stft", "level": "level", "kl": "kl"}
#: Terms that are off by default: left off the line while they are 0 (not computed).
OPTIONAL_TERMS = frozenset({"stft", "level"})
EXIT_INTERRUPTED = 130


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train a model on a folder of sounds",
        description="Train a VAE on every usable sound in FOLDER and write a model file. Settings "
                    "not given are taken from a preset chosen by the dataset's size (tiny: <= 20 "
                    "files, small: <= 100, large: more).")
    parser.add_argument("folder", type=Path, help="folder of audio files")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL",
                        help=f"model file to write (e.g. sounds{MODEL_SUFFIX})")
    parser.add_argument("--epochs", type=int, metavar="N")
    parser.add_argument("--preset", choices=PRESET_NAMES, help="dataset-size preset (default: auto)")
    parser.add_argument("--device", metavar="DEVICE", help="auto (default), cpu, cuda[:N] or mps")
    parser.add_argument("--precision", choices=TRAINING_PRECISIONS,
                        help="arithmetic of the model's passes: auto (default: bfloat16 where the "
                             "CPU or GPU computes it natively, else float32), float32 or bfloat16")
    parser.add_argument("--resume", type=Path, metavar="CKPT",
                        help="continue from a checkpoint (its settings are used; --epochs may extend it)")
    parser.add_argument("--batch-size", type=int, metavar="N")
    parser.add_argument("--lr", type=float, metavar="X", help="learning rate")
    parser.add_argument("--latent-dim", type=int, metavar="N", help="size of the latent space")
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads (0 = all cores)")
    parser.add_argument("--seed", type=int, metavar="N")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="JSON run configuration ({spectrogram, data, model, training}; may be "
                             "partial); the options above override it")
    parser.add_argument("--checkpoint-dir", type=Path, metavar="DIR",
                        help="folder for this run's checkpoints (default: in the user data folder)")
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="spectrogram cache folder (default: the user cache folder)")
    parser.add_argument("--peer-timeout", type=float, default=300.0, metavar="SECONDS",
                        help="under torchrun: how long a process waits for the others before it "
                             "gives up (default 300)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    # torch-heavy: only when this command runs
    from distill.training.distributed import Distributed
    from distill.training.run import train

    setup, explicit = run_config(args)
    distributed = Distributed.from_environment(args.peer_timeout)
    control = TrainingControl()
    printer = TrainingPrinter(quiet=not distributed.is_main)
    handler = signals_cancel if distributed.active else interrupt_cancels
    with handler(control, printer):
        try:
            path = train(args.folder, args.output, setup, explicit=explicit, on_event=printer,
                         control=control, cache_dir=args.cache_dir,
                         checkpoint_dir=args.checkpoint_dir, resume=args.resume,
                         distributed=distributed)
        finally:
            printer.close()
    if distributed.is_main:
        print(path)
    return EXIT_INTERRUPTED if control.cancelled or control.finishing else 0


def run_config(args: argparse.Namespace) -> tuple[RunConfig, set[str]]:
    """The run configuration from ``--config`` and the options, and the training settings
    the user set (which the preset must not change)."""
    sections: dict[str, dict[str, Any]] = {}
    if args.config is not None:
        try:
            sections = json.loads(args.config.read_text())
            RunConfig.from_dict(sections)
        except OSError as exc:
            raise DistillError(f"cannot read the configuration {args.config}: "
                               f"{exc.strerror or exc}") from None
        except ValueError as exc:
            raise DistillError(f"invalid configuration {args.config}: {exc}") from None
    # A section by the fields the file gives (``augmentation.crop_offsets``): the preset's
    # section keeps the others instead of their dataclass defaults (``enabled`` false).
    explicit = dotted_keys(sections.get("training", {}))
    for option, (section, name) in OPTIONS.items():
        value = getattr(args, option)
        if value is not None:
            sections.setdefault(section, {})[name] = value
            if section == "training":
                explicit.add(name)
    try:
        return RunConfig.from_dict(sections), explicit
    except ValueError as exc:
        raise DistillError(str(exc)) from None


@contextmanager
def interrupt_cancels(control: TrainingControl, printer: TrainingPrinter) -> Iterator[None]:
    """While active, Ctrl-C stops the run and saves the model with its analysis; a second
    one skips the analysis; a third aborts (KeyboardInterrupt)."""
    def handle(signum: int, frame: object) -> None:
        if control.cancelled:
            raise KeyboardInterrupt
        if control.finishing:
            control.cancel()
            printer.message("saving the model without the latent analysis (Ctrl-C again to abort)")
            return
        control.finish()
        printer.message("stopping after this step; saving and analysing the model "
                        "(Ctrl-C again to skip the analysis)")

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def signals_cancel(control: TrainingControl, printer: TrainingPrinter) -> Iterator[None]:
    """Under torchrun: SIGINT or SIGTERM (which the launcher forwards, a Ctrl-C arriving twice:
    from the terminal and from the launcher) cancels at once, and never escalates — the
    launcher kills a process that outstays its shutdown timeout."""
    def handle(signum: int, frame: object) -> None:
        if not control.cancelled:
            control.cancel()
            printer.message(f"{signal.Signals(signum).name}: stopping after this step; saving a "
                            "checkpoint and the model (without the latent analysis)")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class TrainingPrinter:
    """The CLI's ``on_event``: a progress bar for steps and files, a line per epoch.
    ``quiet``: print nothing (the other processes of a distributed run)."""

    def __init__(self, quiet: bool = False) -> None:
        self.bar = ProgressBar()
        self.quiet = quiet
        self.start_step = 0
        self.last_checkpoint: Path | None = None
        self.rate = ClipRate()

    def __call__(self, event: object) -> None:
        if self.quiet:
            return
        if isinstance(event, (FileProcessed, FileSkipped)):
            self.bar.update(event.index + 1, event.total, f"preparing {event.entry.relpath}")
        elif isinstance(event, TrainingStarted):
            self.bar.close()
            self.bar = ProgressBar()  # its ETA counts from here, not from the dataset scan
            self.start_step = event.start_step
            self.rate = ClipRate(event.train_clips / max(1, event.steps_per_epoch))
            self.message(describe_start(event))
        elif isinstance(event, StepProgress):
            # Progress of this session, so that the bar's ETA is right for a resumed run too.
            rate = self.rate.update(event.step)
            self.bar.update(event.step - self.start_step, event.total_steps - self.start_step,
                            describe_step(event) + (f"  {rate:.1f} clips/s" if rate else ""))
        elif isinstance(event, EpochEnd):
            self.message(describe_epoch(event))
        elif isinstance(event, RolledBack):
            self.message(f"the loss diverged ({event.reason}): back to epoch {event.epoch}, step "
                         f"{event.step}, learning rate now {event.new_lr:.2g}")
        elif isinstance(event, CheckpointSaved):
            self.last_checkpoint = event.path
        elif isinstance(event, AnalysisStarted):
            self.message("analysing the latent space")
        elif isinstance(event, AnalysisSkipped):
            self.message(f"saving without latent analysis: {event.reason}")
        elif isinstance(event, Finished):
            self.bar.close()
            if event.cancelled or event.stopped:
                hint = f"; continue with --resume {self.last_checkpoint}" if self.last_checkpoint else ""
                unanalysed = " (without latent analysis)" if event.cancelled else ""
                self.message(f"stopped after {event.epochs} epoch(s); the model trained so far is "
                             f"saved{unanalysed}{hint}")
            else:
                self.message(f"finished: {event.epochs} epochs"
                             + (" (stopped early: no better validation loss)" if event.stopped_early else ""))

    def message(self, text: str) -> None:
        if not self.quiet:
            self.bar.message(text)

    def close(self) -> None:
        self.bar.close()



class ClipRate:
    """Training clips per second of the whole run (every process), since the first step
    seen: steps per second times the mean clips of a step (an epoch's training clips over
    its steps; exact over an epoch)."""

    def __init__(self, clips_per_step: float = 0.0) -> None:
        self.clips_per_step = clips_per_step
        self._first: tuple[float, int] | None = None

    def update(self, step: int) -> float | None:
        now = time.monotonic()
        if self._first is None:
            self._first = (now, step)
            return None
        started, first_step = self._first
        return (step - first_step) * self.clips_per_step / (now - started) if now > started else None


def describe_start(event: TrainingStarted) -> str:
    resumed = f", resuming at epoch {event.start_epoch + 1}" if event.start_step else ""
    held = (f"{event.validation_files} file(s)" if event.split_mode == "by file"
            else f"{event.validation_clips} clip(s)")
    return (f"training on {event.device}: {event.num_clips} clips from {event.train_files} file(s), "
            f"{held} held out for validation ({event.split_mode}); preset {event.preset}, "
            f"{event.epochs} epochs x {event.steps_per_epoch} steps{resumed}")


def describe_step(event: StepProgress) -> str:
    """The progress line's text. The waveform and level terms are left out while they are
    not computed (0: off, the default, or before the waveform term's ramp starts)."""
    terms = " ".join(f"{SHORT[k]} {event.losses[k]:.3f}" for k in SHORT
                     if k in event.losses and not (k in OPTIONAL_TERMS and event.losses[k] == 0))
    return (f"epoch {event.epoch}/{event.epochs} step {event.step_in_epoch}/{event.steps_per_epoch} "
            f"loss {event.losses['total']:.4f} ({terms})")


def describe_epoch(event: EpochEnd) -> str:
    val = f"  val {event.validation['total']:.4f}" if event.validation else ""
    return (f"epoch {event.epoch:>{len(str(event.epochs))}}/{event.epochs}  train "
            f"{event.train.get('total', float('nan')):.4f}{val}  lr {event.lr:.2g}  "
            f"{event.seconds:.1f} s")

