"""TrainingStatusWidget: where a run stands — progress bar, status line, warnings, notices.

The progress bar shows the epoch, the step in the epoch, the share done and the ETA of
the latest ``StepProgress``; the status line the device, the split mode ('by file' /
'by clip'), the preset and the rollbacks of the run (from ``TrainingStarted`` and
``RolledBack``), or what is happening (pausing, analysing, the outcome). A rollback is a
warning line, not an error: training goes on. A notice (no audio output) sits at the end
of the status line.

GUI thread only; the panel calls it when events arrive.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from app.services.theme import PALETTE
from distill.data.report import clock
from distill.training.events import Failed, Finished, RolledBack, StepProgress, TrainingStarted

#: Resolution of the progress bar.
PROGRESS_STEPS = 1000


class TrainingStatusWidget(QWidget):
    """Progress bar, status line (with a notice at its end) and a warning line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._parts: dict[str, str] = {}
        self.progress = QProgressBar(self)
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setAccessibleName("Training progress")
        self.status_label = QLabel("", self)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice_label = QLabel("", self)
        self.warning_label = QLabel("", self)
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(f"color: {PALETTE['warn']};")
        self.warning_label.hide()
        line = QHBoxLayout()
        line.addWidget(self.status_label, 1)
        line.addWidget(self.notice_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.progress)
        layout.addLayout(line)
        layout.addWidget(self.warning_label)

    @property
    def text(self) -> str:
        return self.status_label.text()

    def reset(self, text: str = "") -> None:
        """A new run: empty bar, no warning, no notice."""
        self._parts = {}
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.warning_label.clear()
        self.warning_label.hide()
        self.notice_label.clear()
        self.status_label.setText(text)

    def show_text(self, text: str) -> None:
        self.status_label.setText(text)

    def show_run(self) -> None:
        """The run's description (device, split, preset, rollbacks) on the status line."""
        self.status_label.setText(" · ".join(self._parts.values()))

    def show_notice(self, text: str) -> None:
        self.notice_label.setText(text)

    def show_started(self, event: TrainingStarted) -> None:
        self._parts = {"device": event.device, "split": f"split {event.split_mode}",
                       "preset": f"preset {event.preset}", "rollbacks": "0 rollbacks"}
        self.progress.setValue(round(PROGRESS_STEPS * event.start_step / max(1, event.total_steps)))
        self.show_run()

    def show_step(self, event: StepProgress) -> None:
        self.progress.setValue(round(PROGRESS_STEPS * event.progress))
        eta = "" if event.eta_seconds is None else f" · ETA {clock(event.eta_seconds, decimals=0)}"
        self.progress.setFormat(f"Epoch {event.epoch}/{event.epochs} · step {event.step_in_epoch}/"
                                f"{event.steps_per_epoch} · %p%{eta}")

    def show_rolled_back(self, event: RolledBack) -> str:
        """Show the rollback as a warning; returns its text."""
        text = (f"The loss diverged ({event.reason}): went back to epoch {event.epoch} and goes on "
                f"with learning rate {event.new_lr:.2g} (rollback {event.rollbacks}).")
        self.warning_label.setText(f"⚠ {text}")
        self.warning_label.show()
        self._parts["rollbacks"] = f"{event.rollbacks} rollback{'s' if event.rollbacks != 1 else ''}"
        self.show_run()
        return text

    def show_busy(self, text: str) -> None:
        """Work of unknown length (the latent analysis): a busy bar."""
        self.progress.setRange(0, 0)
        self.status_label.setText(text)

    def show_finished(self, ended: Finished | Failed | None, path: Path | None) -> str:
        """The run wrote its model at ``path`` (None: stopped before anything was trained);
        ``ended`` is its last event. Returns the text shown."""
        if path is None:
            text = "Stopped before the first step: nothing was trained, nothing was saved."
        else:
            text = f"{describe_end(ended)} Model saved: {path}"
        complete = isinstance(ended, Finished) and not (ended.cancelled or ended.stopped
                                                        or ended.stopped_early)
        self._end(text, complete=path is not None and complete)
        return text

    def show_failed(self, message: str) -> None:
        self._end(f"Training failed: {message}", complete=False)

    def _end(self, text: str, complete: bool) -> None:
        """The run ended; ``complete``: every epoch was trained (the bar fills)."""
        value = PROGRESS_STEPS if complete else self.progress.value()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setValue(value)
        self.status_label.setText(text)


def describe_end(ended: Finished | Failed | None) -> str:
    """How a run that wrote its model ended, in a sentence."""
    if not isinstance(ended, Finished):
        return "Training ended."
    if ended.cancelled:
        return f"Stopped after {ended.epochs} epoch(s), without the latent analysis."
    if ended.stopped:
        return f"Stopped after {ended.epochs} epoch(s)."
    if ended.stopped_early:
        return f"Stopped early after {ended.epochs} epoch(s): no better validation loss."
    return f"Finished: {ended.epochs} epoch(s)."
