"""Explore: opening a model off the GUI thread, its summary, axes and map, and what a failure leaves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.explore.explore_panel import ExplorePanel
from distill.latent import LatentAnalysis
from distill.models import load_model, save_model
from tests.app.explore.conftest import READY_MS, SMALL_MODEL, open_and_wait


def test_open_model_returns_at_once_and_enables_the_controls_when_warm(qtbot, panel):
    ready = []
    panel.instrument.readyChanged.connect(ready.append)
    panel.open_model(SMALL_MODEL)
    # Loading runs in the worker: nothing is shown yet and the controls stay off.
    assert panel.is_loading and not panel.has_model
    assert panel.status.text() == f"Opening {SMALL_MODEL.name}…"
    assert not panel.sliders.isEnabled() and not panel.transport.volume.isEnabled()
    with qtbot.waitSignal(panel.modelOpened, timeout=READY_MS) as opened:
        pass
    assert opened.args == [SMALL_MODEL] and panel.has_model and not panel.is_loading
    qtbot.waitUntil(lambda: ready == [True], timeout=READY_MS)
    assert panel.sliders.isEnabled() and panel.transport.volume.isEnabled()
    assert panel.map_widget.view_box.pad_enabled
    assert len(panel.sliders.sliders) == 3 and "ready" in panel.status.text()


def test_open_model_shows_summary_axes_and_map(qtbot, panel, tiny_model):
    open_and_wait(qtbot, panel, tiny_model)
    loaded = load_model(tiny_model)
    analysis = LatentAnalysis.from_model_extras(loaded.extra_tensors, loaded.extra_metadata)
    assert panel.summary_widget.title.text() == "tones"
    assert panel.summary_widget.axes_table.rowCount() == len(analysis.axes) > 0
    assert panel.summary_widget.axes_table.item(0, 0).text() == analysis.axes[0].label
    assert [label.text() for label in panel.sliders.labels] == [a.label for a in analysis.axes]
    x, y = panel.map_widget.scatter.getData()
    np.testing.assert_allclose(np.c_[x, y], analysis.map_points().numpy(), rtol=1e-6)
    form = panel.summary_widget.summary
    summary = {form.itemAt(r, form.ItemRole.LabelRole).widget().text():
               form.itemAt(r, form.ItemRole.FieldRole).widget().text()
               for r in range(form.rowCount())}
    assert summary["Epochs trained"] == "3"
    assert summary["Latent size"] == "8"
    # The instrument starts at the dataset's mean: every slider at value 0, the cursor at the origin.
    np.testing.assert_allclose(panel.sliders.values().numpy(), 0.0, atol=2e-3 * max(
        a.high - a.low for a in analysis.axes))
    assert panel.map_widget.cursor_xy() == pytest.approx((0.0, 0.0), abs=1e-5)


def test_a_foreign_file_is_refused_and_the_open_model_stays(qtbot, open_panel, tmp_path):
    bogus = tmp_path / "bogus.distill"
    bogus.write_text("not a model")
    latent = open_panel.instrument.state.latent
    with qtbot.waitSignal(open_panel.modelFailed, timeout=READY_MS) as failed:
        open_panel.open_model(bogus)
    assert "bogus.distill" in failed.args[0]
    assert open_panel.has_model and open_panel.summary_widget.title.text() == SMALL_MODEL.stem
    assert open_panel.instrument.ready and torch.equal(open_panel.instrument.state.latent, latent)
    assert failed.args[0] in open_panel.status.text() and SMALL_MODEL.name in open_panel.status.text()


def test_a_model_asked_for_while_one_loads_opens_after_it(qtbot, panel, tiny_model):
    opened = []
    panel.modelOpened.connect(opened.append)
    panel.open_model(SMALL_MODEL)
    panel.open_model(tiny_model)
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=READY_MS)
    assert opened == [SMALL_MODEL, tiny_model]
    assert panel.summary_widget.title.text() == "tones"
    qtbot.waitUntil(lambda: panel.instrument.ready, timeout=READY_MS)


def test_model_without_analysis_has_no_map_and_no_sliders(qtbot, panel, tmp_path):
    loaded = load_model(SMALL_MODEL)
    bare = save_model(tmp_path / "bare.distill", loaded.model, spectrogram=loaded.spectrogram,
                      data=loaded.data, normalization=loaded.normalization)
    open_and_wait(qtbot, panel, bare)
    assert panel.summary_widget.axes_table.rowCount() == 0
    assert "without latent analysis" in panel.map_widget.map_caption.text()
    assert len(panel.map_widget.scatter.points()) == 0 and panel.map_widget.cursor_xy() is None
    assert panel.sliders.sliders == [] and not panel.sliders.isEnabled()
    assert not panel.map_widget.view_box.pad_enabled
    assert panel.transport.volume.isEnabled()  # the instrument still plays the prior's origin


def test_clicking_a_point_goes_to_that_clip(qtbot, open_panel):
    analysis = open_panel.renderer.analysis
    scatter = open_panel.map_widget.scatter
    scatter.sigClicked.emit(scatter, [scatter.points()[2]], None)
    assert torch.allclose(open_panel.instrument.state.latent, analysis.clip_latents[2])
    expected = analysis.map_points()[2].tolist()
    assert open_panel.map_widget.cursor_xy() == pytest.approx(expected, abs=1e-5)
    values = analysis.space.latent_to_controls(analysis.clip_latents[2])
    shown = open_panel.sliders.values()
    for i, axis in enumerate(analysis.axes):  # a slider step is 2/1000 of its data range
        if axis.low + (-0.5) * (axis.high - axis.low) <= values[i] <= axis.low + 1.5 * (axis.high - axis.low):
            assert shown[i] == pytest.approx(float(values[i]), abs=2e-3 * (axis.high - axis.low))
    file, index = analysis.clip_source(2)
    # This controller has no device: the instrument moved, Play could not start, and it says why.
    assert not open_panel.instrument.playing
    assert open_panel.map_widget.now_playing.text().startswith(f"{file} ({index + 1}) — No audio output")


def test_without_a_device_play_is_disabled_and_says_why(qtbot, open_panel):
    transport = open_panel.transport
    reason = open_panel.audio.no_audio_message()
    assert not transport.play_button.isEnabled()
    assert transport.play_button.toolTip() == reason
    assert transport.no_audio.text() == reason and not transport.no_audio.isHidden()
    open_panel.show()
    qtbot.waitExposed(open_panel)
    open_panel.activateWindow()
    QTest.keyClick(open_panel.sliders.sliders[0], Qt.Key.Key_Space)
    assert not open_panel.instrument.playing
    # The instrument still moves and renders: only the output is missing.
    open_panel.sliders.sliders[0].setValue(700)
    assert open_panel.instrument.state.controls()[0] == pytest.approx(float(open_panel.sliders.values()[0]))


def test_tools_take_pages(panel):
    from PySide6.QtWidgets import QLabel

    assert [panel.tools.tabText(i) for i in range(panel.tools.count())] == ["Morph", "Presets", "Export",
                                                                            "Control"]
    page = QLabel("extra")
    assert panel.add_tool(page, "Extra") == 4
    assert panel.tool_page(4) is page and panel.tools.tabText(4) == "Extra"


def test_the_panel_fits_a_laptop_screen(panel, qtbot):
    # Labels wrap and tool pages scroll: nothing forces the window wider than 1280 px.
    assert panel.minimumSizeHint().width() <= 1100


@pytest.mark.audio
def test_clicking_a_point_plays_through_a_real_stream(qtbot, jack_server):
    from app.services.audio_controller import AudioController
    from distill.audio.playback import PlaybackEngine

    engine = PlaybackEngine()
    assert engine.start(rescan=True), engine.error
    audio = AudioController(engine=engine)
    panel = ExplorePanel(audio)
    qtbot.addWidget(panel)
    try:
        open_and_wait(qtbot, panel)
        assert panel.transport.play_button.isEnabled()
        panel.audition(0)
        assert panel.instrument.playing and panel.transport.play_button.text() == "Stop"
        qtbot.waitUntil(lambda: engine.telemetry().peak > 0, timeout=20_000)
        assert panel.map_widget.now_playing.text().startswith("playing tone")
    finally:
        panel.shutdown()
        audio.close()
