"""distill-studio's command line: paths a file manager passes open as a model or a dataset."""

from __future__ import annotations

from pathlib import Path

from app.main import parse_args, start_window
from app.workers import close_all

MODEL_V1 = Path(__file__).resolve().parents[1] / "models" / "data" / "model_v1.distill"


def test_a_model_path_opens_in_explore_and_sound_paths_load_as_a_dataset(qtbot, audio_folder):
    args = parse_args([str(MODEL_V1), str(audio_folder)])
    assert args.paths == [MODEL_V1, audio_folder]
    window = start_window(args)
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: window.explore_panel.has_model, timeout=60_000)
        qtbot.waitUntil(lambda: window.dataset_panel.cache is not None, timeout=60_000)
        assert window.explore_panel.model_path == MODEL_V1
        assert Path(window.dataset_panel.cache.report.folder) == audio_folder
    finally:
        window.close()
        close_all()
