"""The training loop: a small state (``TrainState``) and short verbs over it.

``Trainer.run`` trains epoch after epoch over the cached 2-channel clips: ``train_epoch``
(one ``steps.train_step`` per batch, cancel/pause checked before each, a checkpoint once
``checkpoint_every_minutes`` have passed since the last), ``end_epoch`` (validation,
history, preview, periodic checkpoint), ``rollback`` when the loss diverges, and a final
checkpoint when the run stops for any reason. A batch holding NaN or infinity is bad
DATA, not divergence: no rollback can help, so the run stops at once and names the clip.
A checkpoint that cannot be written (disk full) stops the run with the reason; the
model trained so far is still there for ``run.train`` to save. Events go to ``on_event`` on
this thread; ``TrainingControl`` may be used from any thread. The model file is written
by ``distill.training.run.train`` (finalize), not here.

Under torchrun (``distributed``) every process runs this same loop over its share of each
global batch; the decisions that end or change a run are agreed at fixed points (before
each step, after each epoch), so every process calls the same collectives in the same
order, and rank 0 alone writes checkpoints and renders previews
(``distill.training.distributed``).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import replace

import torch

from distill.audio.spectrogram import ComplexSpectrogram
from distill.data import TrainValidation
from distill.errors import TrainingError
from distill.models import ConvVAE
from distill.progress import EventCallback
from distill.threads import apply_thread_policy
from distill.training import steps
from distill.training.batches import epoch_batches, load_batches, steps_per_epoch
from distill.training.checkpoint import Checkpoint, CheckpointFolder, read_checkpoint
from distill.training.config import RunConfig
from distill.training.device import (
    capture_rng,
    describe_device,
    restore_rng,
    seed_everything,
    select_device,
    training_precision,
)
from distill.training.distributed import CANCEL, FAILED, FINISH, GO_ON, Distributed
from distill.training.events import (
    CheckpointSaved,
    EpochEnd,
    Paused,
    Resumed,
    RolledBack,
    RunEvent,
    StepProgress,
    TrainingControl,
    TrainingStarted,
)
from distill.training.preview import preview_source, render_preview
from distill.training.state import Status, TrainOutcome, TrainState, kl_beta, loss_limit, stft_factor

log = logging.getLogger(__name__)

_STOPPED = "stopped"  # train_epoch: a stop was agreed (cancel, finish, failed checkpoint)


class _BadClipError(Exception):
    """A training batch holds a clip with NaN or infinite values."""

    def __init__(self, file_index: int, clip_index: int) -> None:
        super().__init__(f"clip {clip_index} of file {file_index} holds NaN or infinite values")
        self.file_index, self.clip_index = file_index, clip_index


class Trainer:
    """Trains a ``ConvVAE`` on a split cached dataset.

    Parameters
    ----------
    run
        The full configuration (the preset already applied to ``run.training``).
    datasets
        Training/validation split (``distill.data.make_datasets``) and its normalisation.
    checkpoints
        Where checkpoints go (and the last good one, for rollbacks).
    on_event
        Receives the events of ``distill.training.events`` on this thread.
    control
        Pause/resume/cancel from other threads.
    resume
        A checkpoint to continue from (its run config should be ``run``).
    distributed
        This process's place in a torchrun run, its process group already started
        (``Distributed.start``); a single process by default.
    """

    def __init__(self, run: RunConfig, datasets: TrainValidation, *, checkpoints: CheckpointFolder,
                 on_event: EventCallback[RunEvent] | None = None, control: TrainingControl | None = None,
                 resume: Checkpoint | None = None, distributed: Distributed | None = None) -> None:
        cfg = run.training
        self.run_config, self.datasets, self.checkpoints = run, datasets, checkpoints
        self.dist = distributed or Distributed()
        self.emit = on_event or (lambda event: None)
        self.control = control or TrainingControl()
        apply_thread_policy(self.dist.threads(cfg.num_threads))
        self.device = self.dist.start(select_device(cfg.device))
        world = self.dist.world_size
        if world > min(cfg.batch_size, len(datasets.train)):
            raise TrainingError(f"{world} processes need a batch size and a training set of at "
                                f"least {world} clips (batch size {cfg.batch_size}, "
                                f"{len(datasets.train)} training clips)")
        seed_everything(cfg.seed)  # the same initial weights in every process
        self.model = ConvVAE.from_config(run.model, run.spectrogram, run.data).to(self.device)
        self.network = self.dist.wrap(self.model)  # trains; ``model`` validates, previews, saves
        self._min_batch = max(2, world)
        self.steps_per_epoch = steps_per_epoch(len(datasets.train), cfg.batch_size, self._min_batch)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.optimizer = steps.make_optimizer(self.model, cfg)
        self.scheduler = steps.make_scheduler(self.optimizer, cfg, self.total_steps)
        self.normalization = datasets.stats
        self.losses = steps.LossSetup(cfg.loss_weights, steps.make_synthesize(
            ComplexSpectrogram(run.spectrogram).to(self.device), self.normalization), cfg.stft_loss_clips,
            autocast=training_precision(cfg.precision, self.device),
            magnitude_scale=self.normalization.magnitude_scale)
        self.listening = ComplexSpectrogram(run.spectrogram)  # CPU: PGHI for previews
        self.state = TrainState()
        if resume is not None:
            self.restore(resume)
        # The rollback target until a checkpoint file exists (then that file is); rank 0's
        # is the one every process rolls back to.
        self._initial: Checkpoint | None = None
        if checkpoints.last is None and self.dist.is_main:
            self._initial = resume if resume is not None else self.snapshot(clone=True)
        self.dist.decorrelate_rng(cfg.seed, self.state.step)
        self._saved_step = self.state.step if resume is not None else -1
        self._session = (time.monotonic(), self.state.step)  # ETA: time and step this session began
        self._paused_at = 0.0
        self._checkpoint_clock = time.monotonic()  # when the last checkpoint was written
        self.checkpoint_failure: str | None = None

    # ------------------------------------------------------------------ the loop
    def run(self) -> TrainOutcome:
        """Train until the last epoch, a cancel, early stopping or unrecoverable divergence."""
        self.emit_started()
        epochs = self.run_config.training.epochs
        while self.state.epoch < epochs:
            try:
                problem = self.train_epoch()
                if problem is None and not self.go_on():
                    problem = _STOPPED
            except _BadClipError as bad:
                return self.stop_on_bad_clip(bad)
            if problem == _STOPPED:
                return self.stop("checkpoint_failed" if self.checkpoint_failure is not None
                                 else "cancelled" if self.control.cancelled else "stopped")
            if problem is None:
                problem = self.end_epoch()
            if problem is not None and not self.rollback(problem):
                return self.fail(problem)
            if self.should_stop_early():
                return self.stop("stopped_early")
        return self.stop("finished")

    def train_epoch(self) -> str | None:
        """Train the rest of the current epoch; None, ``"stopped"`` or why it diverged."""
        cfg, train = self.run_config.training, self.datasets.train
        epoch = self.state.epoch + 1
        train.set_epoch(epoch)
        order = epoch_batches(len(train), cfg.batch_size, cfg.seed, epoch,
                              self._min_batch)[self.state.batch_in_epoch:]
        order = self.dist.shard_batches(order)  # this process's share of each global batch
        started = time.monotonic()
        try:
            batches = load_batches(train, order, self.device, cfg.num_workers)
            for indices, batch in zip(order, batches, strict=True):
                if not self.go_on(indices, batch):
                    return _STOPPED
                beta, losses = self.loss_schedule()
                result = steps.train_step(self.network, self.optimizer, self.scheduler, batch, losses,
                                          beta, cfg.grad_clip_norm, loss_limit(self.state.recent_losses, cfg),
                                          reduce_losses=self.dist.mean_losses if self.dist.active else None)
                if result.problem is not None:
                    return result.problem
                self.state.add_step(result.losses, cfg.divergence_window)
                self.emit_progress(result.losses)
                if self.checkpoint_due():
                    self.save_checkpoint()  # a failure stops the run at the next go_on
        finally:
            self.state.epoch_seconds += time.monotonic() - started
        return None

    def end_epoch(self) -> str | None:
        """Validate, record the epoch, preview and checkpoint; why it diverged, or None."""
        cfg = self.run_config.training
        started = time.monotonic()
        beta = kl_beta(self.state.step, self.total_steps, cfg)
        validation = self.validate()
        if validation and not math.isfinite(validation["total"]):
            return f"the validation loss became {validation['total']}"
        epoch, seconds = self.state.epoch + 1, self.state.epoch_seconds + time.monotonic() - started
        lr, train = steps.current_lr(self.optimizer), self.state.epoch_means()
        record = {"epoch": epoch, "train": train, "validation": validation, "lr": lr, "beta": beta,
                  "seconds": seconds}
        self.state.end_epoch(record, validation.get("total"))
        self.emit(EpochEnd(epoch, cfg.epochs, train, validation, lr, beta, seconds))
        if self.dist.is_main and (epoch % cfg.preview_every_epochs == 0 or epoch == cfg.epochs):
            self.preview()
        if epoch % cfg.checkpoint_every_epochs == 0:
            self.save_checkpoint()
        return None

    # ------------------------------------------------------------------ verbs
    def go_on(self, indices: list[int] | None = None, batch: torch.Tensor | None = None) -> bool:
        """Before a step (and after an epoch): False once the run is to stop (cancel, finish,
        a failed checkpoint) — decided by every process together, which all then stop
        with the same cancel/finish state. Waits while paused; raises ``_BadClipError`` for
        a clip of ``batch`` (or another process's) holding NaN or infinity."""
        running = self.control.checkpoint(self._on_pause, self._on_resume)
        request = (FAILED if self.checkpoint_failure is not None else GO_ON if running
                   else CANCEL if self.control.cancelled else FINISH)
        bad = None if batch is None or indices is None else self.bad_clip(indices, batch)
        request, bad = self.dist.agree(request, bad)
        if bad is not None:
            raise _BadClipError(*bad)
        if request == CANCEL:  # every process ends alike (exit status, analysis skipped)
            self.control.cancel()
        elif request == FINISH:
            self.control.finish()
        return request == GO_ON

    def validate(self) -> dict[str, float]:
        """Mean losses over the validation set (this process's share, then all), weighted as
        after the warm-ups every epoch: a curve (and early stopping) that compares like with like."""
        cfg, dataset = self.run_config.training, self.datasets.validation
        share = self.dist.shard_items(len(dataset))
        batches = [share[i:i + cfg.batch_size] for i in range(0, len(share), cfg.batch_size)]
        means = steps.validate(self.model, load_batches(dataset, batches, self.device), self.losses,
                               cfg.kl_max_beta)
        return self.dist.validation_means(means, len(share))

    def loss_schedule(self) -> tuple[float, steps.LossSetup]:
        """KL weight and loss setup of the current step (KL and waveform-loss warm-ups)."""
        cfg, step = self.run_config.training, self.state.step
        factor = stft_factor(step, self.total_steps, cfg)
        return kl_beta(step, self.total_steps, cfg), replace(self.losses, stft_factor=factor)

    def preview(self) -> None:
        dataset, index = preview_source(self.datasets)
        self.emit(render_preview(self.model, dataset, index, self.normalization, self.listening,
                                 self.state.epoch))

    def checkpoint_due(self) -> bool:
        """Whether ``checkpoint_every_minutes`` passed since the last checkpoint."""
        minutes = self.run_config.training.checkpoint_every_minutes
        return minutes > 0 and time.monotonic() - self._checkpoint_clock >= 60 * minutes

    def save_checkpoint(self) -> bool:
        """Write a checkpoint of the current position (rank 0 only); False (and
        ``checkpoint_failure`` set to the reason) when it could not be written."""
        if not self.dist.is_main:
            self._saved_step, self._checkpoint_clock = self.state.step, time.monotonic()
            return True
        try:
            path = self.checkpoints.save(self.snapshot(clone=False))
        except TrainingError as exc:
            log.error("%s", exc)
            self.checkpoint_failure = str(exc)
            return False
        self._saved_step, self._initial = self.state.step, None
        self._checkpoint_clock = time.monotonic()
        self.emit(CheckpointSaved(path, self.state.epoch, self.state.step))
        return True

    def bad_clip(self, indices: list[int], batch: torch.Tensor) -> tuple[int, int] | None:
        """``(file index, clip index)`` of the first clip of ``batch`` ``[B, 2, M, T]`` that
        holds NaN or infinity (a damaged cache entry: no learning rate can fix data), or None."""
        finite = torch.isfinite(batch).flatten(1).all(dim=1)
        if bool(finite.all()):
            return None
        row = int((~finite).nonzero()[0, 0])
        train = self.datasets.train
        file_index, clip_index = (int(v) for v in train.table[int(train.clip_ids[indices[row]])])
        return file_index, clip_index

    def stop_on_bad_clip(self, bad: _BadClipError) -> TrainOutcome:
        """Stop on bad data; the weights are those of the last good step (never updated
        with the bad batch)."""
        outcome = self.stop("bad_data")
        return replace(outcome, message=str(bad), bad_clip=(bad.file_index, bad.clip_index))

    def rollback(self, reason: str) -> bool:
        """Back to the last good checkpoint (or the start) with a lower learning rate;
        False when ``max_rollbacks`` are used up."""
        cfg = self.run_config.training
        rollbacks = self.state.rollbacks + 1
        log.warning("training diverged at step %d: %s", self.state.step, reason)
        if rollbacks > cfg.max_rollbacks:
            return False
        self.restore(self.dist.share(self.last_good() if self.dist.is_main else None))
        self.state.rollbacks, self.state.lr_scale = rollbacks, cfg.rollback_lr_factor ** rollbacks
        self.state.recent_losses = []
        lr = steps.set_base_lr(self.optimizer, self.scheduler, cfg.learning_rate * self.state.lr_scale)
        self._session = (time.monotonic(), self.state.step)
        self.emit(RolledBack(self.state.epoch, self.state.step, reason, lr, rollbacks))
        return True

    def fail(self, reason: str) -> TrainOutcome:
        """Stop for good: the weights go back to the last checkpoint (when there is one)."""
        rollbacks, lr = self.state.rollbacks, self.run_config.training.learning_rate * self.state.lr_scale
        if self.checkpoints.last is not None and self.dist.is_main:  # the one that saves
            self.restore(read_checkpoint(self.checkpoints.last))
        message = (f"training diverged ({reason}) after {rollbacks} rollback(s); try a lower "
                   f"learning rate (e.g. --lr {lr / 10:.1g})")
        return TrainOutcome("diverged", self.state.epoch, self.state.step, message)

    def stop(self, status: Status) -> TrainOutcome:
        """End of a run: a checkpoint of where it stopped (unless nothing changed since the
        last, or checkpoints cannot be written)."""
        if self.state.step > 0 and self._saved_step != self.state.step and self.checkpoint_failure is None:
            self.save_checkpoint()
        if self.checkpoint_failure is not None:
            return TrainOutcome("checkpoint_failed", self.state.epoch, self.state.step,
                                self.checkpoint_failure)
        return TrainOutcome(status, self.state.epoch, self.state.step)

    def should_stop_early(self) -> bool:
        patience = self.run_config.training.early_stop_patience
        return patience > 0 and self.state.epochs_since_best >= patience

    # ------------------------------------------------------------------ state
    def snapshot(self, clone: bool) -> Checkpoint:
        """The run's position; ``clone`` copies the tensors (an in-memory snapshot)."""
        take = copy.deepcopy if clone else (lambda x: x)
        return Checkpoint(run=self.run_config, normalization=self.normalization,
                          state=copy.deepcopy(self.state),
                          model_state={k: v.detach().to("cpu", copy=clone)
                                       for k, v in self.model.state_dict().items()},
                          optimizer_state=take(self.optimizer.state_dict()),
                          scheduler_state=take(self.scheduler.state_dict()), rng=capture_rng())

    def restore(self, checkpoint: Checkpoint) -> None:
        self.model.load_state_dict(checkpoint.model_state)
        steps.load_optimizer_state(self.optimizer, checkpoint.optimizer_state)
        self.scheduler.load_state_dict(checkpoint.scheduler_state)
        self.scheduler.lr_lambdas[0].total_steps = self.total_steps  # epochs may have changed on resume
        self.state = copy.deepcopy(checkpoint.state)
        restore_rng(checkpoint.rng)
        self.dist.decorrelate_rng(self.run_config.training.seed, self.state.step)

    def last_good(self) -> Checkpoint:
        if self.checkpoints.last is not None:
            return read_checkpoint(self.checkpoints.last)
        assert self._initial is not None  # kept until the first checkpoint exists
        # A copy: the optimizer adopts the tensors it loads, and training updates them in place.
        return copy.deepcopy(self._initial)

    # ------------------------------------------------------------------ events
    def emit_started(self) -> None:
        split, cfg = self.datasets.split, self.run_config.training
        table = self.datasets.train.table

        def files(clip_ids) -> int:
            return len({int(f) for f in table[clip_ids, 0]}) if len(clip_ids) else 0

        self.emit(TrainingStarted(
            device=describe_device(self.device) + self._precision_note() + self.dist.describe(),
            split_mode=f"by {split.mode}",
            train_files=files(split.train), validation_files=files(split.validation),
            train_clips=len(split.train),
            validation_clips=len(split.validation), num_clips=len(split.train) + len(split.validation),
            preset=cfg.preset, epochs=cfg.epochs, steps_per_epoch=self.steps_per_epoch,
            total_steps=self.total_steps, start_epoch=self.state.epoch, start_step=self.state.step,
            num_parameters=self.model.num_parameters(), checkpoint_dir=self.checkpoints.directory))

    def _precision_note(self) -> str:
        return ", bfloat16" if self.losses.autocast == torch.bfloat16 else ""

    def emit_progress(self, losses: dict[str, float]) -> None:
        cfg, state = self.run_config.training, self.state
        started, first_step = self._session
        done = state.step - first_step
        eta = (time.monotonic() - started) / done * (self.total_steps - state.step) if done else None
        self.emit(StepProgress(epoch=state.epoch + 1, epochs=cfg.epochs, step=state.step,
                               step_in_epoch=state.batch_in_epoch, steps_per_epoch=self.steps_per_epoch,
                               total_steps=self.total_steps, progress=state.step / self.total_steps,
                               losses=losses, eta_seconds=eta))

    def _on_pause(self) -> None:
        self._paused_at = time.monotonic()
        self.emit(Paused(self.state.epoch + 1, self.state.step))

    def _on_resume(self) -> None:
        started, first_step = self._session  # a pause is not training time: keep the ETA honest
        self._session = (started + time.monotonic() - self._paused_at, first_step)
        self.emit(Resumed(self.state.epoch + 1, self.state.step))

