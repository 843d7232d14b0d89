"""TrainingControlsWidget: Start / Pause / Resume / Stop, their shortcuts and enabled states.

The buttons' enabled states are a function of the run's state alone (``show_state``), so
they always match what is possible: Start only while idle with a dataset, Pause while
running, Resume while paused, Stop while a run can still be stopped.

Shortcuts are window-wide but fire only while the widget is visible (Qt ignores a hidden
widget's shortcuts): Ctrl+Return (or Ctrl+Enter) starts, Ctrl+P pauses or resumes,
Ctrl+. stops. They emit the same signals as the buttons; the panel ignores a request that
is not possible in its state.

GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

#: States of the panel's run; ``CLOSED``: shut down, nothing can be clicked.
IDLE, RUNNING, PAUSED, STOPPING, ANALYSING, CLOSED = ("idle", "running", "paused", "stopping",
                                                      "analysing", "closed")


class TrainingControlsWidget(QWidget):
    """Four buttons and three shortcuts.

    Signals
    -------
    startRequested(), pauseRequested(), resumeRequested(), stopRequested()
        A button was clicked (or its shortcut pressed).
    toggleRequested()
        Ctrl+P: pause when running, resume when paused.
    """

    startRequested = Signal()
    pauseRequested = Signal()
    resumeRequested = Signal()
    stopRequested = Signal()
    toggleRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_button = self._button("Start", "Ctrl+Return", "Start training", self.startRequested)
        self.pause_button = self._button("Pause", "Ctrl+P", "Pause after this step", self.pauseRequested)
        self.resume_button = self._button("Resume", "Ctrl+P", "Go on training", self.resumeRequested)
        self.stop_button = self._button("Stop", "Ctrl+.", "Stop training; the model is saved and "
                                        "analysed", self.stopRequested)
        self.shortcuts = [QShortcut(QKeySequence(keys), self, signal.emit) for keys, signal in (
            ("Ctrl+Return", self.startRequested), ("Ctrl+Enter", self.startRequested),
            ("Ctrl+P", self.toggleRequested), ("Ctrl+.", self.stopRequested))]
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for button in (self.start_button, self.pause_button, self.resume_button, self.stop_button):
            layout.addWidget(button)
        self.show_state(IDLE, can_start=False)

    def show_state(self, state: str, can_start: bool) -> None:
        """Enable what ``state`` allows; ``can_start``: idle with a dataset."""
        self.start_button.setEnabled(state == IDLE and can_start)
        self.pause_button.setEnabled(state == RUNNING)
        self.resume_button.setEnabled(state == PAUSED)
        # Stop while stopping/analysing: skip the analysis and save at once.
        self.stop_button.setEnabled(state in (RUNNING, PAUSED, STOPPING, ANALYSING))
        self.stop_button.setToolTip(
            "Save now, without the latent analysis" if state in (STOPPING, ANALYSING)
            else "Stop training; the model is saved and analysed (Ctrl+.)")

    def enabled_states(self) -> tuple[bool, bool, bool, bool]:
        """Whether Start, Pause, Resume and Stop can be clicked."""
        return tuple(b.isEnabled() for b in (self.start_button, self.pause_button,
                                             self.resume_button, self.stop_button))

    def _button(self, text: str, keys: str, tip: str, signal) -> QPushButton:
        button = QPushButton(text, self)
        shown = QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)
        button.setToolTip(f"{tip} ({shown})")
        button.clicked.connect(lambda _checked=False: signal.emit())
        return button
