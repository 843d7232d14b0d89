"""FilePreviewWidget: the selected file's spectrogram and a Play button.

``show_entry`` asks a ``FileAnalysisWorker`` (its own thread, newest request wins) to
decode the file and compute its 2-channel spectrogram; the result arrives on the GUI
thread through a slot and is shown if that file is still the one selected. Playback goes
through the studio's ``AudioController``; without an output device the widget says so
inline. GUI thread only; nothing here computes audio.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.services.audio_controller import AudioController
from app.widgets.spectrogram_widget import SpectrogramWidget
from app.workers import FileAnalysisWorker
from distill.constants import SAMPLE_RATE
from distill.data import FileEntry
from distill.data.file_analysis import FileAnalysis
from distill.data.report import clock

PROMPT = "Select a file to see its spectrogram"
#: Seconds after ``play`` during which the sound counts as playing even before the audio
#: callback has picked it up (telemetry lags by a block or a poll).
PLAY_GRACE_S = 0.25


class FilePreviewWidget(QWidget):
    """Spectrogram (magnitude + IF) of one file, Play/Stop, and a line for notices.

    Signals
    -------
    message(str)
        A notice also worth the status bar (no audio output, a file without preview).
    """

    message = Signal(str)

    def __init__(self, audio: AudioController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._audio = audio
        self._worker = FileAnalysisWorker()
        self._worker.finished.connect(self._on_analysis)
        self._worker.errored.connect(self._on_error)
        self._entry: FileEntry | None = None
        self._analysis: FileAnalysis | None = None
        self._play_when_ready = False
        self._playing: tuple[Path, float] | None = None  # (path, time.monotonic() at play)
        self._closed = False

        self.spectrogram = SpectrogramWidget(self, title=PROMPT)
        self.play_button = QPushButton("Play", self)
        self.play_button.setToolTip("Play or stop the selected file (Space; Escape stops)")
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self.toggle_playback)
        self.notice_label = QLabel("", self)
        self.notice_label.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(self.play_button)
        controls.addWidget(self.notice_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.spectrogram, 1)
        layout.addLayout(controls)
        audio.telemetryChanged.connect(self._on_telemetry)

    # ------------------------------------------------------------------ public
    @property
    def entry(self) -> FileEntry | None:
        return self._entry

    @property
    def analysis(self) -> FileAnalysis | None:
        """The shown file's waveform and spectrogram (None until they arrive)."""
        return self._analysis

    def show_entry(self, entry: FileEntry | None) -> None:
        """Preview ``entry`` (None: nothing). The same file again changes nothing."""
        if entry is not None and self._entry is not None and entry.path == self._entry.path:
            return
        self._entry, self._analysis, self._play_when_ready = entry, None, False
        self.spectrogram.clear()
        self.notice_label.setText("" if entry is None or entry.ok else f"Skipped: {entry.reason}")
        self._update_button()
        if entry is None:
            self.spectrogram.set_title(PROMPT)
            return
        self.spectrogram.set_title(f"{entry.relpath} — loading…")
        if not self._closed:
            self._worker.request(entry.path)

    @Slot()
    def toggle_playback(self) -> None:
        """Play the shown file, or stop it if it is the one playing."""
        if self._entry is None:
            self._say("Select a file to play it.")
        elif self._is_playing() and self._playing[0] == self._entry.path:
            self.stop_playback()
        elif self._analysis is not None:
            self._play(self._analysis)
        else:
            self._play_when_ready = True  # plays as soon as the file is decoded
            self.notice_label.setText(f"Loading {self._entry.relpath}…")

    @Slot()
    def stop_playback(self) -> None:
        self._play_when_ready = False
        if self._playing is not None:
            self._audio.stop()
            self._playing = None
        self._update_button()

    def shutdown(self) -> None:
        """Stop playback and join the analysis thread."""
        self._closed = True
        self.stop_playback()
        self._worker.close()

    # ------------------------------------------------------------------ slots
    @Slot(object)
    def _on_analysis(self, analysis: FileAnalysis) -> None:
        if self._closed or self._entry is None or analysis.path != self._entry.path:
            return  # a result for a file no longer shown
        self._analysis = analysis
        self.spectrogram.set_spectrogram(analysis.spectrogram)
        seconds = len(analysis.waveform) / SAMPLE_RATE
        self.spectrogram.set_title(f"{self._entry.relpath} — {clock(seconds, decimals=2)}")
        self._update_button()
        if self._play_when_ready:
            self._play(analysis)

    @Slot(str)
    def _on_error(self, text: str) -> None:
        if self._closed or self._entry is None:
            return
        self._play_when_ready = False
        self.spectrogram.set_title(f"{self._entry.relpath} — no preview")
        self._say(text)

    @Slot(object)
    def _on_telemetry(self, _telemetry: object) -> None:
        if self._playing is not None and not self._is_playing():
            self._playing = None  # the one-shot ended by itself
            self._update_button()

    # ------------------------------------------------------------------ internals
    def _play(self, analysis: FileAnalysis) -> None:
        self._play_when_ready = False
        if not self._audio.play(analysis.waveform):
            self._say(self._audio.no_audio_message())
            return
        self._playing = (analysis.path, time.monotonic())
        self.notice_label.clear()
        self._update_button()

    def _is_playing(self) -> bool:
        if self._playing is None:
            return False
        return (time.monotonic() - self._playing[1] < PLAY_GRACE_S
                or self._audio.engine.telemetry().playing)

    def _update_button(self) -> None:
        # "Stop" only for the shown file: with another selected, Space/Play plays that one.
        playing = (self._playing is not None and self._entry is not None
                   and self._playing[0] == self._entry.path)
        self.play_button.setText("Stop" if playing else "Play")
        self.play_button.setEnabled(playing or self._analysis is not None)

    def _say(self, text: str) -> None:
        self.notice_label.setText(text)
        self.message.emit(text)
