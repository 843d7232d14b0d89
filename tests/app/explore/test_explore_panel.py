"""Explore: a trained model's summary, measured axes, and its clickable dataset map."""

from __future__ import annotations

import numpy as np
import pytest

from app.explore.explore_panel import ExplorePanel
from distill.errors import ModelFileError
from distill.latent import LatentAnalysis
from distill.models import load_model, save_model


@pytest.fixture
def panel(qtbot, silent_audio):
    widget = ExplorePanel(silent_audio)
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def test_open_model_shows_summary_axes_and_map(panel, tiny_model):
    panel.open_model(tiny_model)
    loaded = load_model(tiny_model)
    analysis = LatentAnalysis.from_model_extras(loaded.extra_tensors, loaded.extra_metadata)
    assert panel.has_model
    assert panel.summary_widget.title.text() == "tones"
    assert panel.summary_widget.axes_table.rowCount() == len(analysis.axes) > 0
    assert panel.summary_widget.axes_table.item(0, 0).text() == analysis.axes[0].label
    x, y = panel.map_widget.scatter.getData()
    np.testing.assert_allclose(np.c_[x, y], analysis.map_points().numpy(), rtol=1e-6)
    form = panel.summary_widget.summary
    summary = {form.itemAt(r, form.ItemRole.LabelRole).widget().text():
               form.itemAt(r, form.ItemRole.FieldRole).widget().text()
               for r in range(form.rowCount())}
    assert summary["Epochs trained"] == "3"
    assert summary["Latent size"] == "8"


def test_clicking_a_point_renders_that_clip(qtbot, panel, tiny_model):
    panel.open_model(tiny_model)
    with qtbot.waitSignal(panel._worker.finished, timeout=20_000):
        scatter = panel.map_widget.scatter
        scatter.sigClicked.emit(scatter, [scatter.points()[2]], None)
    qtbot.waitUntil(lambda: panel.last_rendered is not None)
    assert panel.last_rendered.wave.shape == (panel.renderer.clip_samples,)
    assert np.isfinite(panel.last_rendered.wave).all() and np.abs(panel.last_rendered.wave).max() > 0
    assert panel.last_rendered.tag[0].startswith("tone")
    assert "No audio output" in panel.map_widget.now_playing.text()  # this controller has no device


def test_a_foreign_file_is_refused_and_the_open_model_stays(panel, tiny_model, tmp_path):
    panel.open_model(tiny_model)
    bogus = tmp_path / "bogus.distill"
    bogus.write_text("not a model")
    with pytest.raises(ModelFileError):
        panel.open_model(bogus)
    assert panel.has_model and panel.summary_widget.title.text() == "tones"


def test_model_without_analysis_says_there_is_no_map(panel, tiny_model, tmp_path):
    loaded = load_model(tiny_model)
    bare = save_model(tmp_path / "bare.distill", loaded.model, spectrogram=loaded.spectrogram,
                      data=loaded.data, normalization=loaded.normalization)
    panel.open_model(bare)
    assert panel.summary_widget.axes_table.rowCount() == 0
    assert "without latent analysis" in panel.map_widget.map_caption.text()
    assert len(panel.map_widget.scatter.points()) == 0


@pytest.mark.audio
def test_audition_plays_through_a_real_stream(qtbot, jack_server, tiny_model):
    from app.services.audio_controller import AudioController
    from distill.audio.playback import PlaybackEngine

    engine = PlaybackEngine()
    assert engine.start(rescan=True), engine.error
    audio = AudioController(engine=engine)
    panel = ExplorePanel(audio)
    qtbot.addWidget(panel)
    try:
        panel.open_model(tiny_model)
        panel.audition(0)
        qtbot.waitUntil(lambda: engine.telemetry().peak > 0, timeout=20_000)
        assert panel.map_widget.now_playing.text().startswith("playing tone")
    finally:
        panel.shutdown()
        audio.close()
