"""The A<->B morph: dropped files are encoded into the slots, the slider moves the point."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.explore.morph_widget import STEPS, MorphWidget
from distill.audio import synth
from distill.latent.morph import slerp
from tests.app.explore.instrument_setup import open_instrument
from tests.conftest import write_audio

ENCODE_MS = 30_000


@pytest.fixture
def instrument(qtbot, silent_audio):
    instrument = open_instrument(silent_audio)
    yield instrument
    instrument.close()


@pytest.fixture
def morph(qtbot, instrument):
    widget = MorphWidget(instrument)
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def drop(widget, path: Path) -> None:
    """What a file manager's drag does on ``widget``: enter (it must accept it), then drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    rest = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(10, 10), *rest)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the slot refused the drag"
    QApplication.sendEvent(widget, QDropEvent(QPointF(10, 10), *rest))


def test_a_morph_between_two_dropped_files(qtbot, tmp_path, instrument, morph):
    low = write_audio(tmp_path / "low hum.wav", synth.harmonic(110, 1.0, rolloff=2.0))
    bright = write_audio(tmp_path / "bright.flac", synth.noise_burst(1.0, 6000, seed=3))
    assert not morph.slider.isEnabled()
    drop(morph.slots["a"], low)
    qtbot.waitUntil(lambda: morph.names.get("a") == "low hum.wav", timeout=ENCODE_MS)
    assert not morph.slider.isEnabled()  # one end is not a morph
    drop(morph.slots["b"], bright)
    qtbot.waitUntil(lambda: morph.names.get("b") == "bright.flac", timeout=ENCODE_MS)
    assert morph.slider.isEnabled()
    assert morph.slots["a"].name_label.text() == "low hum.wav"
    assert morph.slots["b"].name_label.text() == "bright.flac"

    # The ends are the files' encodings (loudest clip), computed on another renderer object.
    a, b = instrument.state.morph_a, instrument.state.morph_b
    torch.testing.assert_close(a, instrument.renderer.encode_file(low).loudest())
    torch.testing.assert_close(b, instrument.renderer.encode_file(bright).loudest())
    assert not torch.allclose(a, b)

    seen = []
    instrument.latentChanged.connect(lambda latent, source: seen.append((latent, source)))
    morph.slider.setValue(STEPS)
    torch.testing.assert_close(instrument.state.latent, b)
    morph.slider.setValue(STEPS // 4)
    center = instrument.renderer.analysis.space.mean
    torch.testing.assert_close(instrument.state.latent, slerp(a, b, 0.25, center=center).float())
    morph.slider.setValue(0)
    torch.testing.assert_close(instrument.state.latent, a)
    assert [source for _, source in seen] == ["morph"] * 3
    distances = [float((latent - a).norm()) for latent, _ in seen]
    assert distances[0] > distances[1] > distances[2] == 0.0


def test_a_broken_dropped_file_is_reported_and_the_slot_keeps_its_sound(qtbot, tmp_path, morph):
    good = write_audio(tmp_path / "tone.wav", synth.harmonic(220, 1.0))
    broken = tmp_path / "notes.wav"
    broken.write_text("not a sound, just notes\n" * 20)
    drop(morph.slots["a"], good)
    qtbot.waitUntil(lambda: morph.names.get("a") == "tone.wav", timeout=ENCODE_MS)
    kept = morph.instrument.state.morph_a.clone()

    with qtbot.waitSignal(morph.message, timeout=ENCODE_MS) as said:
        drop(morph.slots["a"], broken)
    assert said.args[0].startswith("notes.wav could not be used")
    assert "not a readable audio file" in said.args[0]
    assert "notes.wav" in morph.status.text()
    assert morph.slots["a"].name_label.text() == "tone.wav"
    torch.testing.assert_close(morph.instrument.state.morph_a, kept)


def test_ends_from_the_dataset_and_from_the_current_point(morph, instrument):
    analysis = instrument.renderer.analysis
    assert morph.slots["a"].files.count() == len(analysis.files)
    morph.slots["a"].files.activated.emit(1)
    expected = analysis.clip_latents[analysis.clip_files == 1].mean(dim=0)
    torch.testing.assert_close(instrument.state.morph_a, expected)
    assert morph.names["a"] == analysis.files[1]

    instrument.go_to_clip(0)
    morph.slots["b"].current_button.click()
    torch.testing.assert_close(instrument.state.morph_b, analysis.clip_latents[0])
    assert morph.names["b"] == "current point" and morph.slider.isEnabled()
    morph.slider.setValue(STEPS)
    torch.testing.assert_close(instrument.state.latent, analysis.clip_latents[0])
