"""Transport, meter and live view: Play/Stop and Space, mode, volume, the figures, what plays."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.explore.explore_panel import ExplorePanel
from app.explore.level_meter_widget import FLOOR_DB, LevelMeterWidget, to_db
from tests.app.explore.conftest import open_and_wait


def test_mode_and_volume_reach_the_instrument(open_panel):
    transport = open_panel.transport
    transport.mode_buttons["loop"].click()
    assert open_panel.instrument.mode == "loop"
    open_panel.instrument.set_mode("stream")  # from elsewhere (a preset): the buttons follow
    assert transport.mode_buttons["stream"].isChecked()
    transport.volume.setValue(35)
    assert open_panel.instrument.gain == pytest.approx(0.35)


def test_the_readout_shows_the_engines_figures(qtbot, open_panel):
    with qtbot.waitSignal(open_panel.instrument.statsChanged, timeout=5000) as blocker:
        pass
    stats = blocker.args[1]
    text = open_panel.transport.readout.text()
    assert text.startswith("dropped 0")  # no device: no latency, no underruns to show yet
    tip = open_panel.transport.readout.toolTip()
    assert "Control states dropped" in tip
    assert f"Decoder: {stats.decode_precision}; render thread: " in tip
    assert ("real-time (fifo" in tip) == stats.scheduling.startswith("fifo")


def test_the_meter_rises_at_once_and_falls_on_its_timer(qtbot):
    meter = LevelMeterWidget()
    qtbot.addWidget(meter)
    meter.show()
    qtbot.waitExposed(meter)
    meter.set_levels(peak=0.5, rms=0.25)
    qtbot.waitUntil(lambda: meter.rms_db == pytest.approx(to_db(0.25)), timeout=2000)
    assert meter.peak_db == pytest.approx(-6.02, abs=0.01)
    meter.set_levels(peak=0.0, rms=0.0)
    qtbot.wait(100)
    assert FLOOR_DB < meter.rms_db < to_db(0.25)  # falling, not dropped
    qtbot.waitUntil(lambda: meter.peak_db == FLOOR_DB and not meter._timer.isActive(), timeout=5000)


@pytest.mark.audio
def test_space_plays_and_stops_and_the_live_view_follows(qtbot, jack_server):
    from app.services.audio_controller import AudioController
    from distill.audio.playback import PlaybackEngine

    engine = PlaybackEngine()
    assert engine.start(rescan=True), engine.error
    audio = AudioController(engine=engine)
    panel = ExplorePanel(audio)
    qtbot.addWidget(panel)
    try:
        panel.show()
        qtbot.waitExposed(panel)
        open_and_wait(qtbot, panel)
        panel.activateWindow()
        panel.sliders.sliders[0].setFocus()
        assert not panel.live_view.running
        QTest.keyClick(panel.sliders.sliders[0], Qt.Key.Key_Space)
        assert panel.instrument.playing and panel.transport.play_button.text() == "Stop"
        assert panel.live_view.running
        qtbot.waitUntil(lambda: panel.transport.meter.rms_db > FLOOR_DB, timeout=20_000)
        qtbot.waitUntil(lambda: panel.live_view.updates > 0, timeout=20_000)
        image = panel.live_view.spectrogram.magnitude_item.image
        assert image.shape == (panel.renderer.spectrogram.config.n_mels, panel.live_view._frames)
        assert image.max() > 0
        qtbot.waitUntil(lambda: "latency" in panel.transport.readout.text(), timeout=20_000)
        QTest.keyClick(panel.transport.play_button, Qt.Key.Key_Space)  # one toggle, not two
        assert not panel.instrument.playing and panel.transport.play_button.text() == "Play"
        assert not panel.live_view.running
    finally:
        panel.shutdown()
        audio.close()
