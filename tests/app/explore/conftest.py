"""Explore fixtures: a panel with a small analysed model open and its instrument warm."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.explore.explore_panel import ExplorePanel

#: A small model file with a latent analysis (3 axes, 92 clips from 4 tones; 8-d latent).
SMALL_MODEL = Path(__file__).resolve().parents[2] / "models" / "data" / "model_v1.distill"
#: Warm-up (first decode, numba) and a model load on a shared 2-core machine.
READY_MS = 60_000


def open_and_wait(qtbot, panel: ExplorePanel, path: Path = SMALL_MODEL) -> None:
    """Open ``path`` the way the window does and wait until the controls are enabled."""
    with qtbot.waitSignal(panel.modelOpened, timeout=READY_MS):
        panel.open_model(path)
    qtbot.waitUntil(lambda: panel.instrument.ready, timeout=READY_MS)


@pytest.fixture
def panel(qtbot, silent_audio):
    widget = ExplorePanel(silent_audio)
    qtbot.addWidget(widget)
    widget.resize(1280, 760)
    yield widget
    widget.shutdown()


@pytest.fixture
def open_panel(qtbot, panel):
    open_and_wait(qtbot, panel)
    return panel
