"""MIDI and OSC on the GUI thread: the one place their moves reach the instrument.

``ControlSurface`` owns the ``ControlInbox`` the MIDI callback thread (``MidiInput`` ->
``MidiMapper``) and the OSC server thread (``OscServer`` -> ``OscControl``) write, and a
``QTimer`` at the render rate (``DRAIN_MS``) that drains it and applies each slot's newest
value through ``InstrumentController`` — the mouse's path, with the stamp taken when the
message arrived, so the latency telemetry measures from the message. A flood therefore
collapses to one move per control per tick; what it superseded is counted in the
``ProblemLog`` (with one log line a second at most).

It also keeps the open model's MIDI mappings (``MidiMapStore``, saved whenever a learn or
an edit changes them), sends the current axis values out over OSC when asked (for visuals),
and remembers the MIDI port and OSC settings in ``AppSettings`` (``control/...``).
OSC is off until switched on. Without a MIDI backend ``midi_status`` says so and the rest
works. Presets are recalled through ``presetRequested(name)`` (the presets widget owns the
store); ``preset_names`` is set by whoever connects it. GUI thread only.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from PySide6.QtCore import QObject, QTimer, Signal

from app.services.control_map import (
    FLOOD,
    LATENT,
    MORPH,
    OUT_OF_RANGE,
    PRESET,
    TRANSPORT,
    UNAVAILABLE,
    UNKNOWN,
    VOLUME,
    XY_TARGETS,
    ControlInbox,
    Move,
    ProblemLog,
    TargetRanges,
    axis_of,
)
from app.services.instrument import InstrumentController
from app.services.midi import MidiInput, MidiUnavailableError
from app.services.midi_map import MidiMapper, MidiMapping, MidiMapStore
from app.services.osc import DEFAULT_PORT, DEFAULT_SEND_PORT, OscControl, OscSender, OscServer
from app.services.settings import AppSettings

log = logging.getLogger(__name__)

#: Drain period: about the render loop's rate, so a flood never queues work for it.
DRAIN_MS = 10
SOURCE = "control"  # latentChanged source of MIDI/OSC moves (every widget follows them)


class ControlSurface(QObject):
    """MIDI + OSC -> the instrument (see the module docstring).

    Signals
    -------
    mappingsChanged()
        The MIDI mappings changed (learnt, upgraded to 14-bit, edited, another model).
    learnChanged(str)
        The target being learnt ("" when none).
    statusChanged()
        ``midi_status`` or ``osc_status`` changed.
    problemsChanged()
        New problems were counted.
    volumeMoved(float), morphMoved(float)
        MIDI/OSC moved the volume or the morph (their sliders follow without echo).
    presetRequested(str)
        Recall this preset.
    """

    mappingsChanged = Signal()
    learnChanged = Signal(str)
    statusChanged = Signal()
    problemsChanged = Signal()
    volumeMoved = Signal(float)
    morphMoved = Signal(float)
    presetRequested = Signal(str)

    def __init__(self, instrument: InstrumentController, settings: AppSettings | None = None,
                 parent: QObject | None = None, *, midi_folder: str | Path | None = None,
                 midi_backend: str | None = None) -> None:
        super().__init__(parent)
        self.instrument = instrument
        self.settings = settings
        self.midi_folder = midi_folder
        self.inbox = ControlInbox()
        self.problems = ProblemLog()
        self.mapper = MidiMapper(self.inbox, self.problems)
        self.osc = OscControl(self.inbox, self.problems)
        self.midi = MidiInput(self.mapper, backend=midi_backend)
        self.osc_server: OscServer | None = None
        self.sender: OscSender | None = None
        self.midi_status = "MIDI: no port open"
        self.osc_status = "OSC is off"
        self.preset_names: Callable[[], Sequence[str]] = tuple
        self.applied = 0  # moves applied to the instrument (a flood's survivors)
        self._store: MidiMapStore | None = None
        self._model: object = None
        self._mappings_seen = self.mapper.version
        self._problems_seen = self.problems.version
        self._superseded = 0
        self._flood_logged = 0.0
        self._send_due = False
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self.drain)
        self._timer.start()
        instrument.latentChanged.connect(self._on_latent)
        if instrument.renderer is not None:
            self._open_model()
        self._restore()

    # ------------------------------------------------------------------ MIDI
    def midi_ports(self) -> list[str]:
        """Input ports on offer; ``MidiUnavailableError`` (its message says why) without MIDI."""
        return self.midi.ports()

    def open_midi(self, port: str | None, *, virtual: bool = False) -> bool:
        """Listen to ``port`` (None and not ``virtual``: no MIDI; ``virtual``: the studio's own port)."""
        self.midi.close_port()
        ok = True
        if port is None and not virtual:
            self.midi_status = "MIDI: no port open"
        else:
            try:
                self.midi.open(None if virtual else port)
                self.midi_status = f"MIDI: listening to {self.midi.port_name} ({self.midi.backend})"
            except MidiUnavailableError as exc:
                self.midi_status = str(exc)
                ok = False
        if self.settings is not None:
            self.settings.set_value("control/midi_port", "<virtual>" if virtual else (port or ""))
        self.statusChanged.emit()
        return ok

    def learn(self, target: str | None) -> None:
        """Map the next MIDI control moved to ``target`` (None cancels)."""
        self.mapper.learn(target)
        self.learnChanged.emit(target or "")

    def remove_mapping(self, index: int) -> None:
        self.mapper.remove(index)
        self._check_mappings()

    def edit_mapping(self, index: int, **changes) -> MidiMapping:
        """Change ``target``, ``low`` or ``high`` of mapping ``index``; ``ValueError`` if unfit."""
        mapping = dataclasses.replace(self.mapper.mappings[index], **changes)
        self.mapper.replace(index, mapping)
        self._check_mappings()
        return mapping

    # ------------------------------------------------------------------ OSC
    def set_osc(self, enabled: bool, port: int = DEFAULT_PORT, network: bool = False) -> bool:
        """Start (or stop) the OSC server; False when the port cannot be used (status says why)."""
        if self.osc_server is not None:
            self.osc_server.close()
            self.osc_server = None
        ok = True
        if not enabled:
            self.osc_status = "OSC is off"
        else:
            server = OscServer(self.osc, port, "0.0.0.0" if network else "127.0.0.1")
            try:
                server.start()
                self.osc_server = server
                self.osc_status = f"OSC: listening on {server.host}:{server.port}"
            except OSError as exc:
                self.osc_status = f"OSC cannot listen on port {port}: {exc.strerror or exc}"
                ok = False
        if self.settings is not None:
            self.settings.set_value("control/osc", {"enabled": enabled, "port": port, "network": network})
        self.statusChanged.emit()
        return ok

    def set_send(self, enabled: bool, host: str = "127.0.0.1", port: int = DEFAULT_SEND_PORT) -> bool:
        """Send the axis values to ``host:port`` at the render rate while they change."""
        if self.sender is not None:
            self.sender.close()
            self.sender = None
        ok = True
        if enabled:
            try:
                self.sender = OscSender(host, port)
                self._send_due = True
            except OSError as exc:
                self.osc_status = f"OSC cannot send to {host}:{port}: {exc.strerror or exc}"
                ok = False
        if self.settings is not None:
            self.settings.set_value("control/osc_send", {"enabled": enabled, "host": host, "port": port})
        self.statusChanged.emit()
        return ok

    # ------------------------------------------------------------------ the tick
    def drain(self) -> None:
        """Apply what arrived since the last tick (the timer calls it; tests may too)."""
        moves = self.inbox.drain()
        if moves:
            self._apply(moves)
        self._count_flood()
        self._check_mappings()
        if self.problems.version != self._problems_seen:
            self._problems_seen = self.problems.version
            self.problemsChanged.emit()
        state = self.instrument.state
        if self.sender is not None and self._send_due and state is not None:
            self._send_due = False
            self.sender.send_controls(state.controls().tolist(), state.xy())

    def _apply(self, moves: dict[str, Move]) -> None:
        instrument = self.instrument
        state = instrument.state
        if state is None:
            self.problems.report(next(iter(moves.values())).source, UNAVAILABLE,
                                 f"no model is open: {len(moves)} control change(s) dropped")
            return
        try:
            self._apply_preset(moves.pop(PRESET, None))
            if (latent := moves.pop(LATENT, None)) is not None:
                instrument.set_latent(latent.value, source=SOURCE, stamp=latent.stamp)
            xy = {t: moves.pop(t) for t in XY_TARGETS if t in moves}
            if xy:
                x, y = state.xy() or (0.0, 0.0)
                x = xy["xy:x"].value if "xy:x" in xy else x
                y = xy["xy:y"].value if "xy:y" in xy else y
                instrument.set_xy(x, y, source=SOURCE, stamp=min(m.stamp for m in xy.values()))
            axes = {axis_of(t): moves.pop(t) for t in list(moves) if axis_of(t) is not None}
            if len(axes) == 1:
                (index, move), = axes.items()
                instrument.set_axis(index, move.value, source=SOURCE, stamp=move.stamp)
            elif axes:
                controls = state.controls()
                for index, move in axes.items():
                    controls[index] = move.value
                instrument.set_controls(controls, source=SOURCE, stamp=min(m.stamp for m in axes.values()))
            if (morph := moves.pop(MORPH, None)) is not None:
                if state.has_morph:
                    instrument.set_morph(morph.value, source=SOURCE, stamp=morph.stamp)
                    self.morphMoved.emit(morph.value)
                else:
                    self.problems.report(morph.source, UNAVAILABLE, "morph: set both ends A and B first")
            if (volume := moves.pop(VOLUME, None)) is not None:
                self._set_volume(volume.value, volume.stamp)
            if (transport := moves.pop(TRANSPORT, None)) is not None:
                self._apply_transport(transport)
            self.applied += 1
        except (ValueError, IndexError, TypeError) as exc:  # a model that changed under the message
            self.problems.report("control", UNAVAILABLE, str(exc))

    def _apply_preset(self, move: Move | None) -> None:
        if move is None:
            return
        names = list(self.preset_names())
        value = move.value
        if isinstance(value, int):
            if 0 <= value < len(names):
                self.presetRequested.emit(names[value])
            else:
                self.problems.report(move.source, OUT_OF_RANGE,
                                     f"preset {value}: there are {len(names)} presets (0..{len(names) - 1})")
        elif value in names:
            self.presetRequested.emit(value)
        else:
            self.problems.report(move.source, UNKNOWN, f"there is no preset called {value!r}")

    def _apply_transport(self, move: Move) -> None:
        if move.value[0] == "stop":
            self.instrument.stop(stamp=move.stamp)
            return
        if move.value[1] is not None:
            self._set_volume(move.value[1], move.stamp)
        if not self.instrument.play(stamp=move.stamp):
            self.problems.report(move.source, UNAVAILABLE,
                                 f"play: {self.instrument.audio.no_audio_message()}")

    def _set_volume(self, gain: float, stamp: float) -> None:
        self.instrument.set_volume(gain, stamp=stamp)
        self.volumeMoved.emit(self.instrument.gain)

    def _count_flood(self) -> None:
        superseded = self.inbox.superseded
        extra, self._superseded = superseded - self._superseded, superseded
        if extra > 0:
            now = time.monotonic()
            keep = now - self._flood_logged >= 1.0
            if keep:
                self._flood_logged = now
            self.problems.report("control", FLOOD, f"{extra} value(s) replaced by a newer one before they "
                                 "played (more messages than the render rate)", count=extra, keep=keep)

    def _check_mappings(self) -> None:
        if self.mapper.version == self._mappings_seen:
            return
        self._mappings_seen = self.mapper.version
        learning = self.mapper.learning
        if self._store is not None:
            try:
                self._store.save(self.mapper.mappings)
            except OSError as exc:
                log.warning("MIDI mappings cannot be saved to %s: %s", self._store.path, exc)
        self.mappingsChanged.emit()
        self.learnChanged.emit(learning or "")

    # ------------------------------------------------------------------ model
    @property
    def ranges(self) -> TargetRanges:
        return self.osc.ranges

    def refresh_ranges(self) -> None:
        """Publish the open model's controls and presets to the receiving threads."""
        state, renderer = self.instrument.state, self.instrument.renderer
        ranges = TargetRanges() if state is None else TargetRanges.from_space(
            state.space, renderer.latent_dim if renderer is not None else state.latent_dim,
            tuple(self.preset_names()))
        self.osc.ranges = ranges  # one reference swap each: the threads see old or new, never half
        self.mapper.ranges = ranges

    def _on_latent(self, _latent: torch.Tensor, source: str) -> None:
        self._send_due = True
        if source == "open" or self.instrument.renderer is not self._model:
            self._open_model()

    def _open_model(self) -> None:
        renderer = self.instrument.renderer
        self._model = renderer
        self.refresh_ranges()
        self.mapper.learn(None)
        self._store = None
        mappings: list[MidiMapping] = []
        if renderer is not None and renderer.path is not None:
            self._store = MidiMapStore.for_model(renderer.path, renderer.latent_dim, folder=self.midi_folder)
            mappings = self._store.load()
        self.mapper.set_mappings(mappings)
        self._mappings_seen = self.mapper.version  # loaded, not changed: no save
        self.mappingsChanged.emit()
        self.learnChanged.emit("")

    def _restore(self) -> None:
        if self.settings is None:
            return
        osc = self.settings.value("control/osc", {})
        if isinstance(osc, dict) and osc.get("enabled") is True:
            self.set_osc(True, _port(osc.get("port"), DEFAULT_PORT), osc.get("network") is True)
        send = self.settings.value("control/osc_send", {})
        if isinstance(send, dict) and send.get("enabled") is True and isinstance(send.get("host"), str):
            self.set_send(True, send["host"], _port(send.get("port"), DEFAULT_SEND_PORT))
        port = self.settings.value("control/midi_port", "")
        if isinstance(port, str) and port:
            self.open_midi(None if port == "<virtual>" else port, virtual=port == "<virtual>")

    def shutdown(self) -> None:
        """Stop the server thread and the MIDI client (the window closes)."""
        self._timer.stop()
        if self.osc_server is not None:
            self.osc_server.close()
            self.osc_server = None
        if self.sender is not None:
            self.sender.close()
            self.sender = None
        self.midi.close()


def _port(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536 else default
