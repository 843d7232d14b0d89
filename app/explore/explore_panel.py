"""Explore: play what a trained model learned — its axes, the XY pad and the live sound.

Layout: left, the model's summary and measured axes (``ModelSummaryWidget``, collapsible)
over one slider per axis (``AxisSlidersWidget``); centre, the XY pad (``MapWidget``) over
the live view (``LiveSpectrogramWidget``); right, ``tools`` (Morph, Presets, Export… added
with ``add_tool``); bottom, the transport (``TransportWidget``).

Every control moves one ``InstrumentController`` (the point in latent space and its
real-time render loop). ``open_model`` reads the file and builds the renderer in a
``ModelLoadWorker`` (the window stays responsive), then opens the instrument, whose render
thread warms up on its own: the controls are enabled when ``readyChanged(True)`` arrives.
``modelOpened(path)`` / ``modelFailed(message)`` report the outcome; on failure the model
shown so far stays. A model asked for while another is loading opens after it (nothing
finished is dropped). GUI thread only.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget

from app.explore.axis_sliders_widget import AxisSlidersWidget
from app.explore.control_widget import ControlWidget
from app.explore.export_widget import ExportWidget
from app.explore.live_spectrogram_widget import LiveSpectrogramWidget
from app.explore.map_widget import MapWidget
from app.explore.model_summary_widget import ModelSummaryWidget
from app.explore.morph_widget import MorphWidget
from app.explore.presets_widget import PresetsWidget
from app.explore.transport_widget import TransportWidget
from app.services.audio_controller import AudioController
from app.services.instrument import InstrumentController
from app.workers import ModelLoadWorker, OpenedModel
from distill.render import RealtimeConfig, Renderer

log = logging.getLogger(__name__)


class ExplorePanel(QWidget):
    """The instrument's tab (see the module docstring).

    Signals
    -------
    modelOpened(Path)
        A model was loaded and is shown; its instrument is warming up.
    modelFailed(str)
        A model could not be opened, or its render thread failed (the message is for the user).
    """

    modelOpened = Signal(object)
    modelFailed = Signal(str)

    def __init__(self, audio: AudioController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.audio = audio
        self.renderer: Renderer | None = None
        self.model_path: Path | None = None
        self._loader: ModelLoadWorker | None = None
        self._queued: Path | None = None
        self.tools = QTabWidget(self)  # Morph, Presets, Export/Record: see add_tool
        self.instrument = InstrumentController(audio, self)
        self.summary_widget = ModelSummaryWidget(self)
        self.sliders = AxisSlidersWidget(self.instrument, self)
        self.map_widget = MapWidget(self)
        self.live_view = LiveSpectrogramWidget(self.instrument, self)
        self.transport = TransportWidget(self.instrument, self)
        self.status = QLabel("Open a model (File > Open model…) or train one.", self)
        self.status.setProperty("role", "caption")
        self.status.setWordWrap(True)
        self._build_layout()
        self.morph = MorphWidget(self.instrument, self)
        self.presets = PresetsWidget(self.instrument, parent=self)
        self.export = ExportWidget(self.instrument, self)
        self.control = ControlWidget(self, settings=audio.settings)  # MIDI & OSC, learn menus
        for tool, title in ((self.morph, "Morph"), (self.presets, "Presets"), (self.export, "Export"),
                            (self.control, "Control")):
            self.add_tool(tool, title)
            tool.message.connect(self.status.setText)
        self.map_widget.clipClicked.connect(self.audition)
        self.map_widget.xyDragged.connect(lambda x, y: self.instrument.set_xy(x, y))
        self.instrument.latentChanged.connect(self._on_latent)
        self.instrument.readyChanged.connect(self._set_ready)
        self.instrument.errored.connect(self._show_error)
        # Window-wide, but Qt fires a shortcut only while its widget is visible: Space plays
        # here while the Explore tab shows and stays the Dataset panel's key there. Text
        # fields take their Space first (they accept the shortcut override).
        self.play_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), self, self.transport.toggle)
        self._set_ready(False)

    def _build_layout(self) -> None:
        left = QSplitter(Qt.Orientation.Vertical, self)
        left.addWidget(self.summary_widget)
        left.addWidget(self.sliders)
        left.setCollapsible(1, False)
        left.setSizes([300, 400])
        centre = QSplitter(Qt.Orientation.Vertical, self)
        centre.addWidget(self.map_widget)
        centre.addWidget(self.live_view)
        centre.setSizes([480, 220])
        columns = QSplitter(Qt.Orientation.Horizontal, self)
        for widget in (left, centre, self.tools):
            columns.addWidget(widget)
        columns.setCollapsible(1, False)
        columns.setSizes([400, 620, 300])
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(columns, 1)
        layout.addWidget(self.transport)

    def add_tool(self, widget: QWidget, title: str) -> int:
        """Add a tool page (Morph, Presets, Export…) to the right column; returns its tab index.

        The page scrolls inside its tab, so a wide tool never makes the window wider than
        a laptop screen (``tool_page`` gives the tool back).
        """
        scroll = QScrollArea(self.tools)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        return self.tools.addTab(scroll, title)

    def tool_page(self, index: int) -> QWidget:
        """The tool widget of tab ``index`` (inside its scroll area)."""
        page = self.tools.widget(index)
        return page.widget() if isinstance(page, QScrollArea) else page

    @property
    def has_model(self) -> bool:
        return self.renderer is not None

    @property
    def is_loading(self) -> bool:
        return self._loader is not None

    # ------------------------------------------------------------------ opening
    def open_model(self, path: Path) -> None:
        """Open a model file in a worker; ``modelOpened`` or ``modelFailed`` tells how it went."""
        path = Path(path)
        if self._loader is not None:
            self._queued = path  # opens when the one loading now is shown
            return
        self.status.setText(f"Opening {path.name}…")
        self._loader = ModelLoadWorker(path, self)
        self._loader.finished.connect(self._on_loaded)
        self._loader.errored.connect(self._on_load_failed)
        self._loader.start()

    def _on_loaded(self, opened: OpenedModel) -> None:
        if self._loader is None:
            return  # shut down while it loaded
        self._loader = None
        renderer = opened.renderer
        self.renderer, self.model_path = renderer, opened.path
        analysis = renderer.analysis
        self.summary_widget.show_model(opened.path, renderer.latent_dim, opened.history, analysis)
        self.map_widget.show_analysis(analysis, MapWidget.clip_seconds_of(renderer))
        self.sliders.show_space(analysis.space if analysis is not None else None)
        config = renderer.spectrogram.config
        frames = round(RealtimeConfig().history_seconds * renderer.sample_rate / config.hop_length)
        self.live_view.set_representation(config, renderer.sample_rate, frames)
        self._set_ready(False)
        self.instrument.open(renderer)  # the render thread warms up: readyChanged(True) follows
        self.status.setText(f"{opened.path.name}: warming up the renderer…")
        self.modelOpened.emit(opened.path)
        self._open_queued()

    def _on_load_failed(self, message: str) -> None:
        if self._loader is None:
            return
        self._loader = None
        self.status.setText(message if self.renderer is None else
                            f"{message} — still playing {self.model_path.name}.")
        self.modelFailed.emit(message)
        self._open_queued()

    def _open_queued(self) -> None:
        path, self._queued = self._queued, None
        if path is not None:
            self.open_model(path)

    def _set_ready(self, ready: bool) -> None:
        has_axes = ready and self.sliders.space is not None
        self.sliders.setEnabled(has_axes)
        self.map_widget.set_pad_enabled(has_axes)
        self.transport.set_ready(ready)
        if ready and self.model_path is not None:
            self.status.setText(f"{self.model_path.name}: ready — drag on the map, move a slider, "
                                "press Space to play.")

    # ------------------------------------------------------------------ playing
    def audition(self, clip: int) -> None:
        """Go to dataset clip ``clip`` (a map point) and play it if nothing plays yet."""
        analysis = self.renderer.analysis if self.renderer else None
        if analysis is None or self.instrument.state is None:
            return
        self.instrument.go_to_clip(clip)
        file, index = analysis.clip_source(clip)
        if self.instrument.playing or self.instrument.play():
            self.map_widget.set_status(f"playing {file} ({index + 1})")
        else:
            self.map_widget.set_status(f"{file} ({index + 1}) — {self.audio.no_audio_message()}")

    def _on_latent(self, _latent, _source: str) -> None:
        state = self.instrument.state
        self.map_widget.show_cursor(state.xy() if state is not None else None)

    def _show_error(self, message: str) -> None:
        self.status.setText(message)
        self.modelFailed.emit(message)

    def shutdown(self) -> None:
        """Join the loading worker and the render thread (main window close)."""
        self._queued = None
        self.morph.shutdown()  # join encodings and a running export before the render thread
        self.export.shutdown()
        self.control.shutdown()  # the OSC thread and the MIDI client
        if self._loader is not None:
            self._loader.close()
            self._loader = None
        self.instrument.close()
        self.renderer = None
