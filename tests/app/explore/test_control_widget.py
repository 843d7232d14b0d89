"""The Control tool on a real panel: right-click learn, mappings table, followers, the log."""

from __future__ import annotations

import json

import mido
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent, QMouseEvent
from PySide6.QtWidgets import QApplication

from app.explore.explore_panel import ExplorePanel
from app.services.control_map import UNKNOWN
from app.services.midi_map import MidiMapping, midi_dir
from tests.app.explore.conftest import open_and_wait


def right_click_menu(panel, widget, pos: QPoint) -> list[str]:
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    QApplication.sendEvent(widget, event)
    menu = panel.control.learn_menus.menu
    return [a.text() for a in menu.actions()] if menu is not None else []


def trigger(panel, text: str) -> None:
    (action,) = [a for a in panel.control.learn_menus.menu.actions() if a.text() == text]
    action.trigger()


def cc(number: int, value: int) -> mido.Message:
    return mido.Message("control_change", control=number, value=value)


def test_learn_from_a_slider_then_the_knob_moves_it(qtbot, open_panel):
    panel = open_panel
    panel.show()  # the menu finds the row under the pointer among the shown widgets
    qtbot.waitExposed(panel)
    surface = panel.control.surface
    slider = panel.sliders.sliders[1]
    actions = right_click_menu(panel, slider, slider.rect().center())
    assert actions == ["Learn MIDI: Axis 2 · Sustain"]
    trigger(panel, actions[0])
    assert surface.mapper.learning == "axis:1" and panel.control.learn_button.isChecked()
    surface.mapper.handle(cc(74, 90), 0.0)  # as rtmidi's thread would hand it over
    surface.drain()
    assert surface.mapper.mappings == (MidiMapping("axis:1", "cc", 0, 74),)
    assert not panel.control.learn_button.isChecked()
    assert panel.control.table.rowCount() == 1 and panel.control.table.item(0, 1).text() == "CC 74 · ch 1"
    saved = json.loads(next(midi_dir().glob("*.json")).read_text())
    assert saved["mappings"] == [MidiMapping("axis:1", "cc", 0, 74).to_json()]

    surface.mapper.handle(cc(74, 127), 0.0)
    surface.drain()
    high = surface.ranges.high[1]
    assert panel.instrument.state.controls()[1] == pytest.approx(high, abs=1e-4)
    assert panel.sliders.value_labels[1].text() == f"{high:+.2f}"  # the slider follows
    assert right_click_menu(panel, slider, slider.rect().center())[-1] == "Forget MIDI: Axis 2 · Sustain"
    trigger(panel, "Forget MIDI: Axis 2 · Sustain")
    assert surface.mapper.mappings == () and panel.control.table.rowCount() == 0


def test_xy_pad_volume_and_morph_offer_learn(qtbot, open_panel):
    panel = open_panel
    viewport = panel.map_widget.map_plot.viewport()
    centre = QPointF(viewport.rect().center())
    for kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
        QApplication.sendEvent(viewport, QMouseEvent(kind, centre, viewport.mapToGlobal(centre),
                                                     Qt.MouseButton.RightButton, Qt.MouseButton.RightButton,
                                                     Qt.KeyboardModifier.NoModifier))
    assert [a.text() for a in panel.control.learn_menus.menu.actions()] == [
        "Learn MIDI: XY pad X (Air)", "Learn MIDI: XY pad Y (Sustain)"]
    volume = panel.transport.volume
    assert right_click_menu(panel, volume, volume.rect().center()) == ["Learn MIDI: Volume"]
    surface = panel.control.surface
    surface.mapper.set_mappings([MidiMapping("volume", "cc", 0, 7)])
    surface.mapper.handle(cc(7, 127), 0.0)
    surface.drain()
    assert panel.instrument.gain == 1.0 and volume.value() == 100  # the volume slider follows
    morph = panel.morph.slider
    assert right_click_menu(panel, morph, morph.rect().center()) == ["Learn MIDI: Morph"]


def test_range_edits_and_bad_edits(qtbot, open_panel):
    control = open_panel.control
    control.surface.mapper.set_mappings([MidiMapping("volume", "cc", 0, 7)])
    control.surface.drain()
    control.table.item(0, 3).setText("0.5")
    assert control.surface.mapper.mappings[0].high == 0.5
    messages = []
    control.message.connect(messages.append)
    control.table.item(0, 2).setText("2")  # beyond 0..1: refused, the table shows the mapping again
    assert control.surface.mapper.mappings[0].low == 0.0 and control.table.item(0, 2).text() == "0"
    assert "0..1" in messages[-1]


def test_the_log_view_counts_refused_input(qtbot, open_panel):
    control = open_panel.control
    control.surface.osc.handle("/distill/wobble", [1.0], 0.0)
    control.surface.drain()
    control.show_log()
    assert control.counters.text() == f"{UNKNOWN}: 1"
    assert "/distill/wobble" in control.log_view.toPlainText()


def test_program_change_recalls_a_preset(qtbot, open_panel):
    panel = open_panel
    panel.presets.save("first")
    panel.instrument.randomize()
    saved = panel.presets.store.get("first").latent
    panel.control.surface.mapper.handle(mido.Message("program_change", program=0), 0.0)
    panel.control.surface.drain()
    assert panel.instrument.state.latent.tolist() == pytest.approx(list(saved))


def test_mappings_belong_to_the_model_and_survive_a_restart(qtbot, silent_audio):
    panel = ExplorePanel(silent_audio)
    qtbot.addWidget(panel)
    try:
        open_and_wait(qtbot, panel)
        panel.control.surface.mapper.set_mappings([MidiMapping("morph", "pitchbend", 3)])
        panel.control.surface.drain()
    finally:
        panel.shutdown()
    again = ExplorePanel(silent_audio)
    qtbot.addWidget(again)
    try:
        open_and_wait(qtbot, again)
        assert again.control.surface.mapper.mappings == (MidiMapping("morph", "pitchbend", 3),)
        assert again.control.table.item(0, 1).text() == "Pitch bend · ch 4"
    finally:
        again.shutdown()
