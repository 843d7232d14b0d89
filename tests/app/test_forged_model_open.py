"""``distill-studio --model FORGED``: a model whose metadata declares a huge geometry is
refused with its reason in a dialog (it used to exit 1 with nothing on screen)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from app.main_window import TAB_EXPLORE, MainWindow
from app.services.settings import AppSettings
from tests.models.test_hostile_models import HUGE, forge


def test_a_forged_model_is_refused_in_a_dialog(qtbot, tmp_path, silent_audio, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    window = MainWindow(settings=AppSettings(tmp_path / "settings.ini"), audio=silent_audio,
                        cache_dir=tmp_path / "cache", models_dir=tmp_path / "models",
                        checkpoint_dir=tmp_path / "ckpt", load_demo=False)
    qtbot.addWidget(window)
    try:
        for case in ("latent_1e9", "wide_in_range"):
            shown.clear()
            window.open_model(forge(tmp_path, f"{case}.distill", HUGE[case][0]))
            qtbot.waitUntil(lambda: len(shown) > 0, timeout=30_000)
            assert f"{case}.distill" in shown[0] and HUGE[case][1] in shown[0]
            qtbot.waitUntil(lambda: not window.explore_panel.is_loading, timeout=10_000)
        assert not window.tabs.isTabEnabled(TAB_EXPLORE)
    finally:
        window.train_panel.shutdown()
        window.dataset_panel.shutdown()
        window.explore_panel.shutdown()
