"""The Control tool: MIDI input and mappings, OSC in and out, and the log of refused input.

``ControlWidget`` builds the panel's ``ControlSurface`` (``app.services.control_surface``)
and shows it: a MIDI input port chooser (ports are listed when the tab is first shown or on
Refresh, so start-up never waits on a MIDI system), the mappings table (control, message,
low and high of the control's range; the control is chosen per row, the range is edited in
place, Delete removes the selected rows), Learn for a chosen control; OSC receive on/off,
port and "from the network", send-out host and port; and the counters and last problems
of input that was refused or corrected. It also installs the right-click "Learn MIDI"
menus on the panel's controls (``LearnMenus``), recalls presets for MIDI program change
and ``/distill/preset``, and keeps the volume and morph sliders following MIDI/OSC moves.
GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.explore.learn_menu import LearnMenus, slider_rows
from app.explore.morph_widget import STEPS as MORPH_STEPS
from app.services.control_map import MORPH, VOLUME, XY_TARGETS
from app.services.control_surface import ControlSurface
from app.services.midi import MidiUnavailableError
from app.services.osc import DEFAULT_PORT, DEFAULT_SEND_PORT
from app.services.settings import AppSettings

OFF, VIRTUAL = "Off", "distill-studio (virtual port)"
#: How often the log view may refresh while problems pour in.
LOG_REFRESH_MS = 250


class ControlWidget(QWidget):
    """MIDI & OSC for one ``ExplorePanel`` (see the module docstring).

    Signals
    -------
    message(str)
        Something for the status line (learnt, a port that cannot be opened).
    """

    message = Signal(str)

    def __init__(self, panel, settings: AppSettings | None = None, parent: QWidget | None = None,
                 **surface_options) -> None:
        super().__init__(parent or panel)
        self.panel = panel
        self.surface = ControlSurface(panel.instrument, settings, self, **surface_options)
        self.surface.preset_names = lambda: panel.presets.store.names if panel.presets.store else ()
        self.surface.presetRequested.connect(panel.presets.recall)
        self.surface.volumeMoved.connect(lambda gain: _follow(panel.transport.volume, round(gain * 100)))
        self.surface.morphMoved.connect(lambda t: _follow(panel.morph.slider, round(t * MORPH_STEPS)))
        self.learn_menus = LearnMenus(self.surface, self)
        self.learn_menus.add(panel.sliders, slider_rows(panel.sliders))
        self.learn_menus.add_click(panel.map_widget.map_plot.viewport(),
                                   lambda _pos: list(XY_TARGETS[:min(2, self.surface.ranges.num_axes)]))
        self.learn_menus.add(panel.morph.slider, lambda _pos: [MORPH])
        self.learn_menus.add(panel.transport.volume, lambda _pos: [VOLUME])
        self._listed = False
        self._build()
        self.surface.mappingsChanged.connect(self._show_mappings)
        self.surface.learnChanged.connect(self._show_learning)
        self.surface.statusChanged.connect(self._show_status)
        self.surface.problemsChanged.connect(lambda: self._log_timer.start())
        panel.instrument.latentChanged.connect(self._on_latent)
        self._show_mappings()
        self._show_status()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.port_combo = QComboBox(self)
        self.port_combo.addItem(OFF)
        self.port_combo.activated.connect(self._on_port)
        refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(self.list_ports)
        self.midi_status = QLabel(self)
        self.midi_status.setWordWrap(True)
        self.midi_status.setProperty("role", "caption")
        self.table = QTableWidget(0, 4, self)
        self.table.setHorizontalHeaderLabels(["Control", "MIDI", "Low", "High"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.itemChanged.connect(self._on_range_edited)
        self.learn_target = QComboBox(self)
        self.learn_button = QPushButton("Learn", self)
        self.learn_button.setCheckable(True)
        self.learn_button.setToolTip("Then move a knob, fader or the pitch bend (right-click a control "
                                     "does the same)")
        self.learn_button.clicked.connect(self._on_learn_clicked)
        delete = QPushButton("Delete", self)
        delete.clicked.connect(self._delete_selected)
        midi = QGroupBox("MIDI", self)
        box = QVBoxLayout(midi)
        row = QHBoxLayout()
        row.addWidget(self.port_combo, 1)
        row.addWidget(refresh)
        box.addLayout(row)
        box.addWidget(self.midi_status)
        box.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.learn_target, 1)
        row.addWidget(self.learn_button)
        row.addWidget(delete)
        box.addLayout(row)

        self.osc_on = QCheckBox("Receive on port", self)
        self.osc_port = _port_box(self, DEFAULT_PORT)
        self.osc_network = QCheckBox("from other machines too", self)
        self.send_on = QCheckBox("Send axis values to", self)
        self.send_host = QLineEdit("127.0.0.1", self)
        self.send_port = _port_box(self, DEFAULT_SEND_PORT)
        self._load_osc_settings()
        for widget in (self.osc_on, self.osc_network):
            widget.toggled.connect(self._apply_osc)
        self.osc_port.editingFinished.connect(self._apply_osc)
        self.send_on.toggled.connect(self._apply_send)
        self.send_host.editingFinished.connect(self._apply_send)
        self.send_port.editingFinished.connect(self._apply_send)
        self.osc_status = QLabel(self)
        self.osc_status.setWordWrap(True)
        self.osc_status.setProperty("role", "caption")
        osc = QGroupBox("OSC", self)
        form = QFormLayout(osc)
        row = QHBoxLayout()
        row.addWidget(self.osc_port)
        row.addWidget(self.osc_network)
        form.addRow(self.osc_on, row)
        row = QHBoxLayout()
        row.addWidget(self.send_host, 1)
        row.addWidget(self.send_port)
        form.addRow(self.send_on, row)
        form.addRow(self.osc_status)

        self.counters = QLabel("Nothing refused", self)
        self.counters.setWordWrap(True)
        self.log_view = QPlainTextEdit(self)
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(200)
        clear = QPushButton("Clear", self)
        clear.clicked.connect(self._clear_log)
        log_box = QGroupBox("Refused or corrected input", self)
        box = QVBoxLayout(log_box)
        box.addWidget(self.counters)
        box.addWidget(self.log_view, 1)
        box.addWidget(clear)
        self._log_timer = QTimer(self)
        self._log_timer.setSingleShot(True)
        self._log_timer.setInterval(LOG_REFRESH_MS)
        self._log_timer.timeout.connect(self.show_log)
        layout = QVBoxLayout(self)
        layout.addWidget(midi, 2)
        layout.addWidget(osc)
        layout.addWidget(log_box, 1)

    # ------------------------------------------------------------------ MIDI
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._listed:
            self.list_ports()

    def list_ports(self) -> None:
        """Fill the port chooser (the first call reaches the MIDI system)."""
        self._listed = True
        current = self.surface.midi.port_name
        self.port_combo.clear()
        self.port_combo.addItem(OFF)
        try:
            ports = self.surface.midi_ports()
        except MidiUnavailableError as exc:
            self.surface.midi_status = str(exc)
            self._show_status()
            return
        self.port_combo.addItem(VIRTUAL)
        self.port_combo.addItems(ports)
        if current is not None:
            index = self.port_combo.findText(current)
            self.port_combo.setCurrentIndex(index if index >= 0 else 1)

    def _on_port(self, index: int) -> None:
        text = self.port_combo.itemText(index)
        ok = self.surface.open_midi(None if text in (OFF, VIRTUAL) else text, virtual=text == VIRTUAL)
        if not ok:
            self.message.emit(self.surface.midi_status)

    def _on_learn_clicked(self, checked: bool) -> None:
        self.surface.learn(self.learn_target.currentData() if checked else None)

    def _show_learning(self, target: str) -> None:
        self.learn_button.setChecked(bool(target))
        self.learn_button.setText("Cancel" if target else "Learn")
        if target:
            index = self.learn_target.findData(target)
            if index >= 0:
                self.learn_target.setCurrentIndex(index)
            self.message.emit(f"Move a MIDI control for {self.surface.ranges.name(target)}…")

    def _show_mappings(self) -> None:
        ranges = self.surface.ranges
        self.learn_target.clear()
        for target in ranges.targets():
            self.learn_target.addItem(ranges.name(target), target)
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for row, mapping in enumerate(self.surface.mapper.mappings):
            self.table.insertRow(row)
            chooser = QComboBox(self.table)
            for target in ranges.targets():
                chooser.addItem(ranges.name(target), target)
            if chooser.findData(mapping.target) < 0:
                chooser.addItem(f"{mapping.target} (not in this model)", mapping.target)
            chooser.setCurrentIndex(chooser.findData(mapping.target))
            chooser.activated.connect(lambda _i, row=row, c=chooser: self._edit(row, target=c.currentData()))
            self.table.setCellWidget(row, 0, chooser)
            self.table.setItem(row, 1, QTableWidgetItem(mapping.describe()))
            self.table.item(row, 1).setFlags(self.table.item(row, 1).flags() & ~_EDITABLE)
            self.table.setItem(row, 2, QTableWidgetItem(f"{mapping.low:.3g}"))
            self.table.setItem(row, 3, QTableWidgetItem(f"{mapping.high:.3g}"))
        self.table.blockSignals(False)

    def _on_range_edited(self, item: QTableWidgetItem) -> None:
        field = {2: "low", 3: "high"}.get(item.column())
        if field is None:
            return
        try:
            value = float(item.text())
        except ValueError:
            value = float("nan")
        self._edit(item.row(), **{field: value})

    def _edit(self, row: int, **changes) -> None:
        try:
            self.surface.edit_mapping(row, **changes)
        except (ValueError, IndexError) as exc:
            self.message.emit(f"Mapping not changed: {exc} (low and high are 0..1 of the control's range)")
            self._show_mappings()

    def _delete_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        for row in rows:
            self.surface.remove_mapping(row)

    # ------------------------------------------------------------------ OSC
    def _load_osc_settings(self) -> None:
        settings = self.surface.settings
        osc = settings.value("control/osc", {}) if settings is not None else {}
        send = settings.value("control/osc_send", {}) if settings is not None else {}
        for widget, value in ((self.osc_on, osc.get("enabled")), (self.osc_network, osc.get("network")),
                              (self.send_on, send.get("enabled"))):
            widget.setChecked(value is True)
        for box, value in ((self.osc_port, osc.get("port")), (self.send_port, send.get("port"))):
            if isinstance(value, int) and 0 < value < 65536:
                box.setValue(value)
        if isinstance(send.get("host"), str):
            self.send_host.setText(send["host"])

    def _apply_osc(self) -> None:
        server = self.surface.osc_server
        wanted = (self.osc_on.isChecked(), self.osc_port.value(),
                  "0.0.0.0" if self.osc_network.isChecked() else "127.0.0.1")
        if (server is not None) == wanted[0] and (server is None or (server.port, server.host) == wanted[1:]):
            return
        if not self.surface.set_osc(self.osc_on.isChecked(), self.osc_port.value(),
                                    self.osc_network.isChecked()):
            self.message.emit(self.surface.osc_status)

    def _apply_send(self) -> None:
        self.surface.set_send(self.send_on.isChecked(), self.send_host.text().strip() or "127.0.0.1",
                              self.send_port.value())

    def _show_status(self) -> None:
        self.midi_status.setText(self.surface.midi_status)
        self.osc_status.setText(self.surface.osc_status)

    # ------------------------------------------------------------------ log
    def show_log(self) -> None:
        problems = self.surface.problems
        counts = problems.counts()
        self.counters.setText(" · ".join(f"{reason}: {n}" for reason, n in counts.items())
                              or "Nothing refused")
        self.log_view.setPlainText("\n".join(p.text() for p in problems.entries()))
        self.log_view.verticalScrollBar().setValue(self.log_view.verticalScrollBar().maximum())

    def _clear_log(self) -> None:
        self.surface.problems.clear()
        self.show_log()

    def _on_latent(self, _latent, source: str) -> None:
        if source == "open":
            self._show_mappings()

    def shutdown(self) -> None:
        """Stop the OSC thread and the MIDI client (the panel shuts down)."""
        self.surface.shutdown()


_EDITABLE = Qt.ItemFlag.ItemIsEditable


def _follow(slider, value: int) -> None:
    """Show ``value`` on a slider without emitting (the instrument already moved)."""
    slider.blockSignals(True)
    slider.setValue(value)
    slider.blockSignals(False)


def _port_box(parent: QWidget, value: int) -> QSpinBox:
    box = QSpinBox(parent)
    box.setRange(1, 65535)
    box.setValue(value)
    return box
