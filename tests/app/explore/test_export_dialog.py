"""Record and Export: a take is recorded; each format and source is written and reads back
with the right duration; Cancel leaves no file."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app.explore.export_dialog import ExportDialog
from app.explore.export_widget import ExportWidget
from distill.render.export import EXPORT_CHOICES
from tests.app.explore.instrument_setup import open_instrument

EXPORT_MS = 60_000
#: Lossy codecs may pad or trim a little at the ends (an MP3 frame is 1152 samples).
LOSSY_SLACK = 2 * 1152


@pytest.fixture
def instrument(qtbot, silent_audio):
    instrument = open_instrument(silent_audio)
    yield instrument
    instrument.close()


def make_dialog(qtbot, instrument, take=None) -> ExportDialog:
    dialog = ExportDialog(instrument, take)
    qtbot.addWidget(dialog)
    return dialog


def export(qtbot, dialog: ExportDialog):
    with qtbot.waitSignal(dialog.exported, timeout=EXPORT_MS) as done:
        dialog.export_button.click()
    return done.args[0]


def frames_of(path) -> int:
    return sf.info(path).frames


@pytest.mark.parametrize("choice", EXPORT_CHOICES)
def test_each_format_is_written_with_the_right_duration(qtbot, instrument, tmp_path, choice):
    fmt, subtype, _label = EXPORT_CHOICES[choice]
    instrument.go_to_clip(5)
    dialog = make_dialog(qtbot, instrument)
    assert dialog.source == "point"
    assert not dialog.source_buttons["morph"].isEnabled()
    assert not dialog.source_buttons["performance"].isEnabled()
    dialog.path_edit.setText(str(tmp_path / "point.wav"))
    dialog.set_format(choice)
    assert dialog.path_edit.text() == str(tmp_path / f"point.{fmt}")  # the extension follows
    dialog.seconds.setValue(1.5)
    path = export(qtbot, dialog)
    assert path == tmp_path / f"point.{fmt}"
    expected = round(1.5 * instrument.renderer.sample_rate)
    assert abs(frames_of(path) - expected) <= (LOSSY_SLACK if fmt in ("ogg", "mp3") else 0)
    if fmt == "wav":
        assert sf.info(path).subtype == subtype
    data, _ = sf.read(path, dtype="float32")
    assert np.sqrt(np.mean(data ** 2)) > 1e-3
    assert dialog.status.text() == f"Exported to {path}"


def test_the_morph_and_a_recorded_performance(qtbot, instrument, tmp_path):
    latents = instrument.renderer.analysis.clip_latents
    instrument.set_morph_end("a", latents[0])
    instrument.set_morph_end("b", latents[-1])
    widget = ExportWidget(instrument)
    qtbot.addWidget(widget)
    widget.record_button.click()
    assert instrument.recording and widget.take_label.text().startswith("Recording")
    for clip in (10, 40, 70):
        qtbot.wait(150)
        instrument.go_to_clip(clip)
    qtbot.wait(150)
    widget.record_button.click()
    assert not instrument.recording
    assert len(widget.take) == 5  # start, three moves, end
    assert widget.take_label.text() == f"Take: {widget.take_seconds:.1f} s, 3 moves"
    assert widget.take_seconds == widget.take[-1].stamp - widget.take[0].stamp > 0

    dialog = widget.open_dialog()
    assert dialog.source == "performance" and not dialog.seconds.isEnabled()
    dialog.path_edit.setText(str(tmp_path / "take.flac"))
    dialog.set_format("flac")
    messages = []
    widget.message.connect(messages.append)
    path = export(qtbot, dialog)
    assert frames_of(path) == round(widget.take_seconds * instrument.renderer.sample_rate)
    assert messages == [f"Exported to {path}"]

    dialog.source_buttons["morph"].setChecked(True)
    assert dialog.seconds.isEnabled()
    dialog.seconds.setValue(2.0)
    dialog.path_edit.setText(str(tmp_path / "morph.flac"))
    morph = export(qtbot, dialog)
    assert frames_of(morph) == 2 * instrument.renderer.sample_rate
    dialog.close()


def test_cancel_leaves_no_file(qtbot, instrument, tmp_path):
    dialog = make_dialog(qtbot, instrument)
    dialog.path_edit.setText(str(tmp_path / "long.wav"))
    dialog.seconds.setValue(120.0)
    dialog.export_button.click()
    with qtbot.waitSignal(dialog.worker.finished, timeout=EXPORT_MS) as done:
        dialog.cancel_button.click()  # while it renders
    assert done.args == [None]
    qtbot.waitUntil(lambda: dialog.worker is None)
    assert dialog.status.text() == "Export cancelled; no file was written"
    assert list(tmp_path.iterdir()) == []
    assert dialog.export_button.isEnabled()  # ready to try again


def test_a_folder_that_does_not_exist_is_reported(qtbot, instrument, tmp_path):
    dialog = make_dialog(qtbot, instrument)
    dialog.path_edit.setText(str(tmp_path / "nowhere" / "take.wav"))
    dialog.seconds.setValue(1.0)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=EXPORT_MS)
    assert dialog.status.text().startswith("Export failed:")
    assert "does not exist" in dialog.status.text()
    assert not (tmp_path / "nowhere").exists()


def test_a_take_made_without_an_audio_output_is_not_silent(qtbot, instrument):
    # No output device here: the take still records the moves as sounding.
    assert not instrument.audio.available
    widget = ExportWidget(instrument)
    qtbot.addWidget(widget)
    widget.record_button.click()
    instrument.go_to_clip(1)
    instrument.go_to_clip(6)
    widget.record_button.click()
    assert len(widget.take) == 4 and all(state.playing for state in widget.take)


def test_a_take_that_reaches_the_length_limit_is_kept(qtbot, instrument, monkeypatch):
    import app.services.instrument as instrument_module

    monkeypatch.setattr(instrument_module, "MAX_RECORDED_STATES", 5)
    widget = ExportWidget(instrument)
    qtbot.addWidget(widget)
    widget.record_button.click()
    for clip in range(6):
        instrument.go_to_clip(clip)
    assert not instrument.recording and not widget.record_button.isChecked()
    assert len(widget.take) == 6  # 5 states, then the end marker
    assert "No take" not in widget.take_label.text()
