"""PreviewWidget: a validation clip and the model's reconstruction of it, seen and heard.

Each ``Preview`` event of a training run (``distill.training.events``) carries both
spectrograms ``[2, M, F]`` in representation units and both waveforms, rendered on the
training thread through the same inverse. The widget shows them in two
``SpectrogramWidget``\\ s (magnitude and IF side by side, input above reconstruction) with
the SAME magnitude levels, so brightness compares between the two, and plays either
through the studio's ``AudioController``. Until the first preview of a run arrives, a
placeholder text takes the place of the images (empty plots would only show axes with
nothing to read on them).

GUI thread only; the widget shows what it is given and computes no audio.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from app.services.audio_controller import AudioController
from app.widgets.spectrogram_widget import SpectrogramWidget
from distill.training.config import ComplexSpectrogramConfig
from distill.training.events import Preview

WAITING_TEXT = "A preview of the reconstruction appears after the first preview epoch."


def shared_levels(*spectrograms: np.ndarray) -> tuple[float, float]:
    """Magnitude levels ``(0, peak)`` covering the channel 0 of every ``[2, M, F]`` given."""
    peaks = [float(np.nanmax(s[0])) for s in spectrograms if s[0].size]
    peak = max((p for p in peaks if np.isfinite(p)), default=0.0)
    return 0.0, peak if peak > 0 else 1.0


class PreviewWidget(QWidget):
    """Input vs reconstruction of the latest ``Preview``, with Play buttons.

    Parameters
    ----------
    audio
        The studio's audio; ``play`` returning False means there is no output device.
    parent
        Parent widget.
    config
        The representation of the previews (its band count must match theirs).

    Signals
    -------
    message(str)
        A notice worth the status line (no audio output).
    """

    message = Signal(str)

    def __init__(self, audio: AudioController, parent: QWidget | None = None,
                 config: ComplexSpectrogramConfig | None = None) -> None:
        super().__init__(parent)
        self._audio = audio
        self._preview: Preview | None = None
        self.caption = QLabel("", self)
        self.caption.setWordWrap(True)
        self.placeholder = QLabel(WAITING_TEXT, self)
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setProperty("role", "caption")
        views = QWidget(self)
        views_layout = QVBoxLayout(views)
        views_layout.setContentsMargins(0, 0, 0, 0)
        self.input_view = SpectrogramWidget(views, title="input", config=config)
        self.reconstruction_view = SpectrogramWidget(views, title="reconstruction", config=config)
        views_layout.addWidget(self.input_view, 1)
        views_layout.addWidget(self.reconstruction_view, 1)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.placeholder)
        self.pages.addWidget(views)
        self.play_input_button = QPushButton("Play input", self)
        self.play_input_button.setToolTip("Listen to the validation clip")
        self.play_input_button.clicked.connect(self.play_input)
        self.play_reconstruction_button = QPushButton("Play reconstruction", self)
        self.play_reconstruction_button.setToolTip("Listen to what the model makes of it")
        self.play_reconstruction_button.clicked.connect(self.play_reconstruction)
        self.notice_label = QLabel("", self)
        self.notice_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.play_input_button)
        buttons.addWidget(self.play_reconstruction_button)
        buttons.addWidget(self.notice_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.pages, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    # ------------------------------------------------------------------ public
    @property
    def preview(self) -> Preview | None:
        """The preview shown (None before the first)."""
        return self._preview

    @property
    def showing_placeholder(self) -> bool:
        """The placeholder text, not the spectrograms, is shown (no preview yet)."""
        return self.pages.currentWidget() is self.placeholder

    def set_config(self, config: ComplexSpectrogramConfig) -> None:
        """Use ``config``'s bands and hop (a dataset of another representation); clears."""
        for view in (self.input_view, self.reconstruction_view):
            if view.config != config:
                view.config = config
                view.clear()

    def show_preview(self, preview: Preview) -> None:
        """Show ``preview``'s input and reconstruction with shared magnitude levels."""
        levels = shared_levels(preview.input_spectrogram, preview.reconstruction)
        self.input_view.set_spectrogram(preview.input_spectrogram, levels=levels)
        self.reconstruction_view.set_spectrogram(preview.reconstruction, levels=levels)
        self._preview = preview
        self.caption.setText(f"Epoch {preview.epoch}: validation clip {preview.clip_index + 1} "
                             f"of file {preview.file_index + 1}, and the model's reconstruction")
        self.reconstruction_view.set_title(f"reconstruction after epoch {preview.epoch}")
        self._update_buttons()

    def clear(self) -> None:
        self._preview = None
        self.input_view.clear()
        self.reconstruction_view.clear()
        self.reconstruction_view.set_title("reconstruction")
        self.caption.setText("")
        self.notice_label.setText("")
        self._update_buttons()

    @Slot()
    def play_input(self) -> bool:
        return self._play(None if self._preview is None else self._preview.input_audio)

    @Slot()
    def play_reconstruction(self) -> bool:
        return self._play(None if self._preview is None else self._preview.reconstruction_audio)

    # ------------------------------------------------------------------ internals
    def _play(self, wave: np.ndarray | None) -> bool:
        if wave is None:
            return False
        if self._audio.play(wave):
            self.notice_label.setText("")
            return True
        text = self._audio.no_audio_message()
        self.notice_label.setText(text)
        self.message.emit(text)
        return False

    def _update_buttons(self) -> None:
        shown = self._preview is not None
        self.pages.setCurrentIndex(1 if shown else 0)
        self.caption.setVisible(shown)
        for button in (self.play_input_button, self.play_reconstruction_button):
            button.setEnabled(self._preview is not None)
