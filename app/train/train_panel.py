"""TrainPanel: train a VAE on the loaded dataset while watching and hearing it learn.

The panel is a view over ``distill.training.run.train`` — the same entry as ``distill
train`` — run by a ``TrainingWorker`` in a child process (``distill.training.child``: no GIL
shared with the instrument, nice 10), relayed by a thread of ours. The worker's signals arrive here
on the GUI thread (``@Slot`` methods, queued): steps move the progress bar, epochs feed the
``LossPlotWidget`` (which repaints on its own timer), previews go to the ``PreviewWidget``,
checkpoints to the ``CheckpointListWidget``. Start/Pause/Resume/Stop only talk to the
worker's ``TrainingControl``; nothing here blocks the GUI thread except ``shutdown``,
which must (the window is closing and the model must be written completely).

States: idle -> running <-> paused; running/paused -> stopping (cancel asked: the run saves
a checkpoint and the model trained so far) -> idle; running -> analysing (training done,
the latent space is being analysed; Stop skips the analysis) -> idle. One worker at a
time: Start does nothing while one exists, so rapid clicks cannot make two.

Keys (while the tab is shown): Ctrl+Return starts, Ctrl+P pauses/resumes, Ctrl+. stops.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from app.services.audio_controller import AudioController
from app.services.settings import AppSettings
from app.train.checkpoint_list_widget import CheckpointListWidget
from app.train.loss_plot_widget import LossPlotWidget
from app.train.model_paths import default_models_dir, new_model_path
from app.train.preview_widget import PreviewWidget
from app.train.training_controls_widget import (
    ANALYSING,
    CLOSED,
    IDLE,
    PAUSED,
    RUNNING,
    STOPPING,
    TrainingControlsWidget,
)
from app.train.training_settings_widget import TrainingSettingsWidget
from app.train.training_status_widget import TrainingStatusWidget
from app.workers import TrainingWorker
from distill.data import DatasetCache
from distill.training.config import ModelConfig, RunConfig
from distill.training.events import (
    AnalysisSkipped,
    AnalysisStarted,
    CheckpointSaved,
    EpochEnd,
    Failed,
    Finished,
    Paused,
    Preview,
    Resumed,
    RolledBack,
    StepProgress,
    TrainingStarted,
)
from distill.training.presets import choose_preset

log = logging.getLogger(__name__)

NO_DATASET_TEXT = "No dataset yet: load a folder of sounds in the Dataset tab."


class TrainPanel(QWidget):
    """The Train tab.

    Parameters
    ----------
    settings
        The studio's settings (the training choices are remembered there).
    audio
        The studio's audio, for the preview's Play buttons.
    parent
        Parent widget.
    cache_dir
        Cache root, passed to ``train`` (a loaded ``DatasetCache`` is used as it is).
    models_dir
        Where model files are written (None: ``default_models_dir()``).
    checkpoint_dir
        Root of the per-run checkpoint folders (None: ``train``'s default, in the user data dir).

    Signals
    -------
    message(str)
        Something for the status bar.
    errorOccurred(str)
        A run failed: the message for a dialog.
    busyChanged(bool)
        A run started (True) or ended (False), however it ended (not emitted by ``shutdown``).
    modelReady(object)
        The ``Path`` of the model a run wrote, when it finished or was stopped.
    trainingEvent(object)
        Every core event of the run (``distill.training.events`` and the dataset's), in order.
    """

    message = Signal(str)
    errorOccurred = Signal(str)
    busyChanged = Signal(bool)
    modelReady = Signal(object)
    trainingEvent = Signal(object)

    def __init__(self, settings: AppSettings, audio: AudioController, parent: QWidget | None = None,
                 cache_dir: str | Path | None = None, models_dir: str | Path | None = None,
                 checkpoint_dir: str | Path | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._cache_dir = None if cache_dir is None else Path(cache_dir)
        self._models_dir = None if models_dir is None else Path(models_dir)
        self._checkpoint_root = None if checkpoint_dir is None else Path(checkpoint_dir)
        self._cache: DatasetCache | None = None
        self._model_config = ModelConfig()
        self._worker: TrainingWorker | None = None
        self._state = IDLE
        self._closed = False
        self._output: Path | None = None
        self._ended: Finished | Failed | None = None
        self._build(audio)
        self._update_controls()

    # ------------------------------------------------------------------ public
    @property
    def is_busy(self) -> bool:
        """A run is going (from Start until its worker has ended)."""
        return self._worker is not None

    @property
    def state(self) -> str:
        return self._state

    @property
    def cache(self) -> DatasetCache | None:
        return self._cache

    @property
    def output_path(self) -> Path | None:
        """The model file of the current (or last) run."""
        return self._output

    @property
    def models_dir(self) -> Path:
        return self._models_dir or default_models_dir()

    def set_dataset(self, cache: DatasetCache) -> None:
        """Train on ``cache`` from the next Start (a running run keeps its own dataset)."""
        self._cache = cache
        summary, n_files = cache.report.summary, len(cache.files)
        self.dataset_label.setText(f"Dataset: {cache.report.folder.name} — {n_files} usable "
                                   f"file(s), {summary.clips} clips · auto preset: {choose_preset(n_files)}")
        self.dataset_label.setToolTip(str(cache.report.folder))
        self.settings_widget.set_dataset_size(n_files, [e.clips for e in cache.files])
        if not self.is_busy:
            self.preview.set_config(cache.spectrogram_config)
        self._update_controls()

    def set_model_config(self, config: ModelConfig) -> None:
        """The model's architecture (the latent size field then shows ``config.latent_dim``)."""
        self._model_config = config
        self.settings_widget.latent_spin.setValue(config.latent_dim)

    def run_config(self) -> tuple[RunConfig, set[str]]:
        """The configuration of the next run and the training settings the user set."""
        if self._cache is None:
            raise RuntimeError("no dataset: call set_dataset first")
        model = self._model_config.replace(latent_dim=self.settings_widget.latent_dim)
        run = RunConfig(self._cache.spectrogram_config, self._cache.data_config, model,
                        self.settings_widget.training_config())
        return run, self.settings_widget.explicit()

    @Slot()
    def start(self, resume: Path | None = None) -> bool:
        """Start a run (``resume``: continue from that checkpoint). False when not possible."""
        if self._closed or self._worker is not None or self._cache is None:
            return False
        resume = Path(resume) if resume else None
        try:
            setup, explicit = self.run_config()
        except ValueError as exc:  # a combination of settings the configuration refuses
            self.errorOccurred.emit(f"These training settings cannot be used: {exc}")
            return False
        self._output = new_model_path(self.models_dir, self._cache.report.folder.name, datetime.now())
        checkpoints = None
        if resume is None and self._checkpoint_root is not None:
            checkpoints = self._checkpoint_root / self._output.stem
        worker = TrainingWorker(self._cache, self._output, setup, explicit=explicit,
                                cache_dir=self._cache_dir, checkpoint_dir=checkpoints, resume=resume)
        worker.progress.connect(self._on_event)
        worker.finished.connect(self._on_finished)
        worker.errored.connect(self._on_errored)
        self.settings_widget.save()
        self._reset_view()
        self._worker, self._ended = worker, None
        self._set_state(RUNNING)
        self.status.show_text("Preparing…" if resume is None else f"Resuming from {resume.name}…")
        self.busyChanged.emit(True)
        worker.start()
        return True

    @Slot(object)
    def resume_from_checkpoint(self, path: Path) -> bool:
        """Continue the run a checkpoint belongs to (its settings; more epochs may be set)."""
        path = Path(path)
        if not path.exists():
            self.checkpoints.prune()
            self.message.emit(f"The checkpoint {path.name} no longer exists (a run keeps only its "
                              "newest ones).")
            return False
        return self.start(resume=path)

    @Slot()
    def pause(self) -> None:
        if self._state == RUNNING:
            self._worker.pause()
            self._set_state(PAUSED)
            self.status.show_text("Pausing after this step…")

    @Slot()
    def resume(self) -> None:
        if self._state == PAUSED:
            self._worker.resume()
            self._set_state(RUNNING)

    @Slot()
    def toggle_pause(self) -> None:
        if self._state == PAUSED:
            self.resume()
        else:
            self.pause()

    @Slot()
    def stop(self) -> None:
        """Stop training now and keep the result: the model is saved and analysed, as after
        the last epoch. Stop again (while stopping or analysing) to skip the analysis."""
        if self._state in (RUNNING, PAUSED):
            self._worker.finish()
            self._set_state(STOPPING)
            self.message.emit("Stopping after this step; saving and analysing the model… "
                              "(Stop again to skip the analysis)")
        elif self._state in (STOPPING, ANALYSING):
            self._worker.cancel()
            self.message.emit("Saving the model without the latent analysis…")

    def shutdown(self) -> None:
        """Cancel a run and join its thread, so the model and checkpoint are written
        completely (the window calls it on close). Idempotent; a no-op when idle."""
        if self._closed:
            return
        self._closed = True
        self.settings_widget.save()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            worker.wait()  # never end a thread mid-write; a run stops between steps
            log.info("training stopped on close; model: %s", self._output)
        self._set_state(CLOSED)

    # ------------------------------------------------------------------ events (GUI thread)
    @Slot(object)
    def _on_event(self, event: object) -> None:
        if self._closed:
            return
        self.trainingEvent.emit(event)
        if isinstance(event, StepProgress):
            self.status.show_step(event)
            position = event.epoch - 1 + event.step_in_epoch / max(1, event.steps_per_epoch)
            self.loss_plot.add_step(position, event.losses.get("total", float("nan")))
        elif isinstance(event, EpochEnd):
            self.loss_plot.add_epoch(event.epoch, event.train, event.validation)
        elif isinstance(event, Preview):
            self.preview.show_preview(event)
        elif isinstance(event, CheckpointSaved):
            self.checkpoints.add_checkpoint(event.path, event.epoch, event.step)
        elif isinstance(event, TrainingStarted):
            self._on_started(event)
        elif isinstance(event, RolledBack):
            self.message.emit(self.status.show_rolled_back(event))
        elif isinstance(event, Paused):
            self.status.show_text(f"Paused at epoch {event.epoch}, step {event.step}")
        elif isinstance(event, Resumed):
            self.status.show_run()
        elif isinstance(event, AnalysisStarted):
            if self._state in (RUNNING, STOPPING):
                self._set_state(ANALYSING)
            self.status.show_busy("Training done; analysing the latent space…")
        elif isinstance(event, AnalysisSkipped):
            self.message.emit(f"Saving the model without latent analysis: {event.reason}")
        elif isinstance(event, Finished | Failed):
            self._ended = event

    def _on_started(self, event: TrainingStarted) -> None:
        self.status.show_started(event)
        resumed = f", resuming at epoch {event.start_epoch + 1}" if event.start_step else ""
        steps = f"{event.steps_per_epoch} step{'s' if event.steps_per_epoch != 1 else ''}"
        self.message.emit(f"Training on {event.device}: {event.num_clips} clips, {event.epochs:,} "
                          f"epochs × {steps}{resumed}")

    @Slot(object)
    def _on_finished(self, path: Path | None) -> None:
        ended = self._ended
        if self._end_run():
            return
        self.message.emit(self.status.show_finished(ended, path))
        if path is not None:
            self.modelReady.emit(Path(path))

    @Slot(str)
    def _on_errored(self, text: str) -> None:
        if self._end_run():
            return
        self.status.show_failed(text)
        self.message.emit(text)
        self.errorOccurred.emit(text)

    def _end_run(self) -> bool:
        """The worker has ended: join it, go idle. True when the panel is closed (ignore)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.wait()  # it emitted its last signal: this returns at once
        if self._closed:
            return True
        self.loss_plot.refresh()
        self._set_state(IDLE)
        self.busyChanged.emit(False)
        return False

    # ------------------------------------------------------------------ state and view
    def _set_state(self, state: str) -> None:
        self._state = state
        self._update_controls()

    def _update_controls(self) -> None:
        idle = self._worker is None and not self._closed
        can_start = idle and self._cache is not None
        self.controls.show_state(self._state, can_start)
        self.settings_widget.setEnabled(idle)
        self.checkpoints.set_resume_allowed(can_start)

    def _reset_view(self) -> None:
        self.loss_plot.clear()
        self.preview.clear()
        self.preview.set_config(self._cache.spectrogram_config)
        self.status.reset()

    @Slot(str)
    def _on_preview_message(self, text: str) -> None:
        self.status.show_notice(text)
        self.message.emit(text)

    def _build(self, audio: AudioController) -> None:
        self.dataset_label = QLabel(NO_DATASET_TEXT, self)
        self.dataset_label.setWordWrap(True)
        self.settings_widget = TrainingSettingsWidget(self._settings, self)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.settings_widget)
        self.controls = TrainingControlsWidget(self)
        self.controls.startRequested.connect(self.start)
        self.controls.pauseRequested.connect(self.pause)
        self.controls.resumeRequested.connect(self.resume)
        self.controls.stopRequested.connect(self.stop)
        self.controls.toggleRequested.connect(self.toggle_pause)
        self.checkpoints = CheckpointListWidget(self)
        self.checkpoints.resumeRequested.connect(self.resume_from_checkpoint)
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 3)
        left_layout.addWidget(self.controls)
        left_layout.addWidget(QLabel("Checkpoints", self))
        left_layout.addWidget(self.checkpoints, 1)

        self.status = TrainingStatusWidget(self)
        self.loss_plot = LossPlotWidget(self)
        self.preview = PreviewWidget(audio, self)
        self.preview.message.connect(self._on_preview_message)
        views = QSplitter(Qt.Orientation.Vertical, self)
        views.addWidget(self.loss_plot)
        views.addWidget(self.preview)
        # Two parts curves, three parts preview (the plot's own size hint is tiny); scaled to fit.
        views.setSizes([200, 300])
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.status)
        right_layout.addWidget(views, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.dataset_label)
        layout.addWidget(self.splitter, 1)
