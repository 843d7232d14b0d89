"""The sliders and the XY pad: they move the instrument, follow each other, reset and randomize in range."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.explore.axis_sliders_widget import SHOWN_AXES, STEPS, AxisSlidersWidget, step_to_position
from distill.latent.space import AxisInfo, LatentSpace
from tests.app.explore.conftest import open_and_wait


def _in_range(panel) -> None:
    space = panel.renderer.analysis.space
    values = panel.instrument.state.controls()
    tolerance = 1e-4 * (space.high - space.low)
    assert bool(((values >= space.low - tolerance) & (values <= space.high + tolerance)).all()), values
    shown = panel.sliders.values()
    assert torch.allclose(shown, values, atol=float((space.high - space.low).max()) * 2 / STEPS)


def test_moving_a_slider_moves_only_its_axis(open_panel):
    space = open_panel.renderer.analysis.space
    before = open_panel.instrument.state.controls()
    seen = []
    open_panel.instrument.latentChanged.connect(lambda z, source: seen.append(source))
    QTest.keyClick(open_panel.sliders.sliders[1], Qt.Key.Key_PageUp)
    after = open_panel.instrument.state.controls()
    step = open_panel.sliders.sliders[1].value()
    expected = float(space.positions_to_values(torch.full((3,), step_to_position(step)))[1])
    assert after[1] == pytest.approx(expected, abs=1e-5) and after[1] > before[1]
    torch.testing.assert_close(after[[0, 2]], before[[0, 2]], atol=1e-5, rtol=0)
    assert seen == ["slider"]
    assert open_panel.sliders.value_labels[1].text() == f"{expected:+.2f}"


def test_double_click_resets_a_slider_to_the_mean(open_panel):
    slider = open_panel.sliders.sliders[0]
    slider.setValue(900)
    assert open_panel.instrument.state.controls()[0] > 0.01
    QTest.mouseDClick(slider, Qt.MouseButton.LeftButton, pos=slider.rect().center())
    assert open_panel.instrument.state.controls()[0] == pytest.approx(0.0, abs=1e-5)
    assert open_panel.sliders.value_labels[0].text() in ("+0.00", "-0.00")


def test_reset_all_and_randomize_stay_within_the_datas_range(open_panel):
    sliders = open_panel.sliders
    seen = []
    for _ in range(5):
        QTest.mouseClick(sliders.random_button, Qt.MouseButton.LeftButton)
        _in_range(open_panel)
        seen.append(open_panel.instrument.state.controls())
    assert not torch.equal(seen[0], seen[1])
    QTest.mouseClick(sliders.reset_button, Qt.MouseButton.LeftButton)
    space = open_panel.renderer.analysis.space
    torch.testing.assert_close(open_panel.instrument.state.latent, space.mean.float())
    _in_range(open_panel)


def test_an_xy_drag_moves_axes_one_and_two_and_the_sliders_follow(qtbot, open_panel):
    open_panel.show()
    qtbot.waitExposed(open_panel)
    pad = open_panel.map_widget
    view = pad.view_box
    third = open_panel.instrument.state.controls()[2]
    viewport = pad.map_plot.viewport()
    rect = view.sceneBoundingRect()
    start = pad.map_plot.mapFromScene(rect.center())
    path = [start + QPoint(dx, dy) for dx, dy in ((12, 0), (30, -10), (60, -25), (80, -40))]
    view_range = np.array(view.viewRange())
    moved = []
    open_panel.instrument.latentChanged.connect(lambda z, source: moved.append(source))
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for point in path:
        QTest.mouseMove(viewport, point)
        qtbot.wait(10)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=path[-1])
    assert moved.count("xy") >= 3  # continuously, not only at the release
    assert set(moved) == {"xy"}  # the sliders followed without echoing a move of their own
    target = view.mapSceneToView(pad.map_plot.mapToScene(path[-1]))
    x, y = open_panel.instrument.state.xy()
    assert (x, y) == pytest.approx((target.x(), target.y()), rel=1e-3, abs=1e-4)
    assert pad.cursor_xy() == pytest.approx((x, y), abs=1e-5)
    values = open_panel.instrument.state.controls()
    assert values[2] == pytest.approx(float(third), abs=1e-5)  # the pad moves axes 1–2 only
    space = open_panel.renderer.analysis.space
    width = (space.high - space.low) * 2 / STEPS
    torch.testing.assert_close(open_panel.sliders.values()[:2], values[:2], atol=float(width.max()), rtol=0)
    np.testing.assert_allclose(view.viewRange(), view_range)  # the drag did not pan the view
    # Pan/zoom stay pyqtgraph's with the other buttons; "Fit" shows the whole map again.
    QTest.mouseClick(pad.fit_button, Qt.MouseButton.LeftButton)
    (x0, x1), (y0, y1) = view.viewRange()
    points = open_panel.renderer.analysis.map_points().numpy()
    assert x0 <= points[:, 0].min() and points[:, 0].max() <= x1
    assert y0 <= points[:, 1].min() and points[:, 1].max() <= y1


def test_the_first_eight_axes_show_and_more_axes_shows_the_rest(qtbot, open_panel):
    dim = 12
    axes = tuple(AxisInfo(label=f"Axis {i + 1}", feature=None, correlation=None, direction=1, low=-1.0,
                          high=1.0, variance=1.0, variance_ratio=0.08) for i in range(10))
    space = LatentSpace(mean=torch.zeros(dim), components=torch.eye(dim)[:10], axes=axes)
    widget = AxisSlidersWidget(open_panel.instrument)
    qtbot.addWidget(widget)
    widget.show_space(space)
    hidden = [s.isHidden() for s in widget.sliders]
    assert hidden == [False] * SHOWN_AXES + [True] * 2
    assert widget.more_button.text() == "More axes (2)"
    widget.more_button.click()
    assert not any(s.isHidden() for s in widget.sliders)


@pytest.mark.audio
def test_a_slider_move_reaches_the_engine_with_its_time_stamp(qtbot, jack_server, settings):
    from app.explore.explore_panel import ExplorePanel
    from app.services.audio_controller import AudioController
    from distill.audio.playback import PlaybackEngine

    engine = PlaybackEngine()
    assert engine.start(rescan=True), engine.error
    audio = AudioController(engine=engine)
    panel = ExplorePanel(audio)
    qtbot.addWidget(panel)
    try:
        open_and_wait(qtbot, panel)
        loop = panel.instrument.loop
        submitted = []
        real_submit = loop.submit
        loop.submit = lambda state: (submitted.append(state), real_submit(state))
        assert panel.instrument.play()
        qtbot.waitUntil(lambda: engine.telemetry().latency_count >= 1, timeout=20_000)
        count = engine.telemetry().latency_count
        submitted.clear()
        before = time.perf_counter()
        QTest.keyClick(panel.sliders.sliders[0], Qt.Key.Key_PageUp)
        after = time.perf_counter()
        (state,) = submitted
        assert before <= state.stamp <= after  # stamped in the slider's handler
        assert torch.equal(state.latent, panel.instrument.state.latent) and state.playing
        qtbot.waitUntil(lambda: engine.telemetry().latency_count > count, timeout=20_000)
        telemetry = engine.telemetry()
        assert telemetry.latency_ms is not None and telemetry.latency_ms > 0
        assert np.isfinite(telemetry.latency_p95_ms)
    finally:
        panel.shutdown()
        audio.close()
