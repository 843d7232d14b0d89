"""Presets: save, recall, rename, delete, and the presets still there after a restart."""

from __future__ import annotations

import json

import pytest
import torch
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from app.explore.presets_widget import PresetsWidget
from distill.latent.presets import PresetStore, model_key
from distill.models import load_model
from tests.app.explore.instrument_setup import MODEL_V1, open_instrument


@pytest.fixture
def instrument(qtbot, silent_audio):
    instrument = open_instrument(silent_audio)
    yield instrument
    instrument.close()


@pytest.fixture
def presets(qtbot, instrument, tmp_path):
    widget = PresetsWidget(instrument, folder=tmp_path / "presets")
    qtbot.addWidget(widget)
    return widget


def answer_next_dialog(reply) -> None:
    """Answer the next modal dialog as a person would: ``reply(dialog)`` then accept it."""
    def answer():
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(10, answer)
            return
        reply(dialog)

    QTimer.singleShot(0, answer)


def type_name(name: str):
    def reply(dialog: QInputDialog) -> None:
        dialog.setTextValue(name)
        dialog.accept()
    return reply


def press_yes(dialog: QMessageBox) -> None:
    dialog.button(QMessageBox.StandardButton.Yes).click()


def press_no(dialog: QMessageBox) -> None:
    dialog.button(QMessageBox.StandardButton.No).click()


def names(widget: PresetsWidget) -> list[str]:
    return [widget.list.item(i).text() for i in range(widget.list.count())]


def test_save_recall_rename_delete(qtbot, presets, instrument):
    analysis = instrument.renderer.analysis
    instrument.go_to_clip(3)
    instrument.set_axis(0, 0.5)
    saved_point = instrument.state.latent
    instrument.set_mode("loop")
    answer_next_dialog(type_name("  Warm   pad "))
    qtbot.mouseClick(presets.save_button, Qt.MouseButton.LeftButton)
    assert names(presets) == ["Warm pad"]
    preset = presets.store.get("Warm pad")
    assert preset.mode == "loop" and preset.morph is None
    assert preset.controls == pytest.approx(instrument.state.controls().tolist())

    # Elsewhere, then back: Enter on the item recalls the exact point and the mode.
    instrument.go_to_clip(50)
    instrument.set_mode("stream")
    seen = []
    instrument.latentChanged.connect(lambda latent, source: seen.append(source))
    presets.list.setCurrentRow(0)
    qtbot.keyClick(presets.list, Qt.Key.Key_Return)
    torch.testing.assert_close(instrument.state.latent, saved_point)
    assert instrument.mode == "loop" and seen == ["preset"]

    # A taken name is a message, not an exception (and the other preset is untouched).
    instrument.go_to_clip(10)
    presets.save("Bright")
    assert presets.rename("Bright", "Warm pad") is None
    assert "exists already" in presets.status.text()

    presets.list.setCurrentRow(1)
    answer_next_dialog(type_name("Glass"))
    qtbot.keyClick(presets.list, Qt.Key.Key_F2)
    assert names(presets) == ["Warm pad", "Glass"]
    torch.testing.assert_close(torch.tensor(presets.store.get("Glass").latent), analysis.clip_latents[10])

    presets.list.setCurrentRow(0)
    answer_next_dialog(press_yes)
    qtbot.keyClick(presets.list, Qt.Key.Key_Delete)
    assert names(presets) == ["Glass"]
    assert "Deleted preset 'Warm pad'" in presets.status.text()


def test_presets_survive_a_restart_with_their_morph(qtbot, presets, instrument, silent_audio, tmp_path):
    latents = instrument.renderer.analysis.clip_latents
    instrument.set_morph_end("a", latents[0])
    instrument.set_morph_end("b", latents[-1])
    instrument.set_morph(0.3)
    point = instrument.state.latent
    presets.save("Halfway")
    instrument.set_morph(0.8)
    answer_next_dialog(press_no)
    presets.save("Halfway")  # the same name again: Replace? No -> the first stays
    assert len(presets.store) == 1 and "exists already" in presets.status.text()
    instrument.close()

    # "Restart": a new instrument, a new widget, the same model file.
    again = open_instrument(silent_audio)
    try:
        widget = PresetsWidget(again, folder=tmp_path / "presets")
        qtbot.addWidget(widget)
        assert names(widget) == ["Halfway"]
        assert widget.store.path == presets.store.path
        widget.recall("Halfway")
        torch.testing.assert_close(again.state.latent, point)
        torch.testing.assert_close(again.state.morph_a, latents[0])
        torch.testing.assert_close(again.state.morph_b, latents[-1])
        assert again.state.morph_position == pytest.approx(0.3)
    finally:
        again.close()
    document = json.loads(presets.store.path.read_text())
    assert document["model"]["name"] == "model_v1"


def test_the_store_is_keyed_by_the_model_file_identity(tmp_path):
    loaded = load_model(MODEL_V1)
    store = PresetStore.for_model(MODEL_V1, 8, folder=tmp_path)
    assert store.key == model_key(loaded.created, 8, fallback=str(MODEL_V1.resolve()))
    moved = tmp_path / "renamed.distill"
    moved.write_bytes(MODEL_V1.read_bytes())
    assert PresetStore.for_model(moved, 8, folder=tmp_path).key == store.key  # moving keeps presets
