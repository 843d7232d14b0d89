"""The main window: first start, drops, models, closing mid-training, remembered state, and a
second start reopening what was in use (or offering the recent datasets and the demo)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app.main_window import TAB_DATASET, TAB_EXPLORE, TAB_TRAIN, MainWindow
from app.services.settings import AppSettings
from distill.models import load_model
from distill.training.config import ModelConfig
from distill.training.events import EpochEnd, StepProgress
from tests.app.conftest import BROKEN_FILES, GOOD_FILES


@pytest.fixture
def make_window(qtbot, tmp_path, silent_audio):
    windows = []

    def make(settings: AppSettings | None = None, load_demo: bool | None = False) -> MainWindow:
        window = MainWindow(settings=settings or AppSettings(tmp_path / "settings.ini"),
                            audio=silent_audio, cache_dir=tmp_path / "cache",
                            models_dir=tmp_path / "models", checkpoint_dir=tmp_path / "checkpoints",
                            load_demo=load_demo)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.train_panel.shutdown()
        window.dataset_panel.shutdown()
        window.explore_panel.shutdown()


def drop(window: MainWindow, *paths: Path) -> None:
    """What a file manager's drag does: enter (the window must accept it), then drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    where = QPoint(window.width() // 2, window.height() // 2)
    rest = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(where, *rest)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted(), "the window refused the drag"
    QApplication.sendEvent(window, QDropEvent(QPointF(where), *rest))


def test_first_start_loads_the_demo_dataset(qtbot, make_window, tmp_path):
    settings = AppSettings(tmp_path / "first.ini")
    window = make_window(settings, load_demo=None)
    with qtbot.waitSignal(window.dataset_panel.datasetLoaded, timeout=120_000) as blocker:
        pass
    cache = blocker.args[0]
    assert len(cache.files) == 24 and not cache.report.summary.skipped
    assert window.tabs.isTabEnabled(TAB_TRAIN)
    assert "demo" in window.subject_label.text()
    settings.clear_last_session()  # a later start with nothing to reopen opens nothing
    again = make_window(settings, load_demo=None)
    qtbot.wait(200)
    assert again.dataset_panel.cache is None and not again.dataset_panel.is_busy


def test_dropping_a_folder_loads_it_and_reports_broken_files(qtbot, make_window, sound_folder):
    window = make_window()
    assert not window.tabs.isTabEnabled(TAB_TRAIN)
    with qtbot.waitSignal(window.dataset_panel.datasetLoaded, timeout=60_000) as blocker:
        drop(window, sound_folder)
    cache = blocker.args[0]
    assert sorted(e.relpath for e in cache.files) == sorted(GOOD_FILES)
    skipped = {e.relpath: e.reason for e in cache.report.entries if not e.ok}
    assert set(skipped) == set(BROKEN_FILES)
    assert window.dataset_panel.model.rowCount() == len(GOOD_FILES) + len(BROKEN_FILES)
    assert window.tabs.isTabEnabled(TAB_TRAIN)
    assert window.settings.recent("datasets") == [str(sound_folder.resolve())]
    assert f"{len(GOOD_FILES)} files" in window.subject_label.text()


def test_dropping_a_model_opens_it_in_explore(qtbot, make_window, tiny_model):
    window = make_window()
    assert not window.tabs.isTabEnabled(TAB_EXPLORE)
    with qtbot.waitSignal(window.modelOpened, timeout=30_000):
        drop(window, tiny_model)
    assert window.tabs.currentIndex() == TAB_EXPLORE
    assert window.explore_panel.summary_widget.title.text() == tiny_model.stem
    assert window.settings.recent("models") == [str(tiny_model.resolve())]


def test_a_broken_model_file_is_reported_and_changes_nothing(qtbot, make_window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    window = make_window()
    bogus = tmp_path / "truncated.distill"
    bogus.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    drop(window, bogus)
    assert window.explore_panel.is_loading  # in the worker: the window is not blocked
    qtbot.waitUntil(lambda: len(shown) > 0, timeout=30_000)
    assert len(shown) == 1 and "truncated.distill" in shown[0]
    assert not window.tabs.isTabEnabled(TAB_EXPLORE)
    assert window.tabs.currentIndex() == TAB_DATASET


def test_save_model_as_copies_the_open_model(qtbot, make_window, tiny_model, tmp_path, monkeypatch):
    window = make_window()
    with qtbot.waitSignal(window.modelOpened, timeout=30_000):
        window.open_model(tiny_model)
    target = tmp_path / "kept" / "my sound"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.save_model_dialog()
    saved = target.with_suffix(".distill")
    assert saved.read_bytes() == tiny_model.read_bytes()
    assert str(saved.resolve()) in window.settings.recent("models")


def _start_tiny_training(qtbot, window: MainWindow, folder: Path) -> None:
    with qtbot.waitSignal(window.dataset_panel.datasetLoaded, timeout=60_000):
        window.load_paths([folder])
    window.train_panel.set_model_config(ModelConfig(channels=(8, 16, 32, 64, 128), latent_dim=8))
    with qtbot.waitSignal(window.train_panel.trainingEvent, timeout=60_000,
                          check_params_cb=lambda e: isinstance(e, StepProgress)):
        assert window.train_panel.start()


def test_closing_during_training_asks_stops_and_saves(qtbot, make_window, sound_folder,
                                                      tmp_path, monkeypatch):
    window = make_window()
    _start_tiny_training(qtbot, window, sound_folder)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    assert not window.close()
    assert window.train_panel.is_busy
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert window.close()
    assert not window.train_panel.is_busy
    models = list((tmp_path / "models").glob("*.distill"))
    assert len(models) == 1
    assert load_model(models[0]).model.latent_dim == 8
    assert not list((tmp_path / "models").glob(".*part"))  # nothing half-written


def test_training_finishes_and_the_model_opens_for_exploration(qtbot, make_window, sound_folder):
    window = make_window()
    with qtbot.waitSignal(window.dataset_panel.datasetLoaded, timeout=60_000):
        window.load_paths([sound_folder])
    panel = window.train_panel
    panel.set_model_config(ModelConfig(channels=(8, 16, 32, 64, 128), latent_dim=8))
    panel.settings_widget.set_value("epochs", 2)
    epochs = []
    panel.trainingEvent.connect(lambda e: epochs.append(e.epoch) if isinstance(e, EpochEnd) else None)
    with qtbot.waitSignal(window.modelOpened, timeout=120_000) as blocker:
        panel.start()
    assert epochs == [1, 2]
    assert window.tabs.currentIndex() == TAB_EXPLORE
    assert window.explore_panel.has_model and blocker.args[0].exists()


def test_window_geometry_is_remembered(qtbot, make_window, tmp_path):
    settings = AppSettings(tmp_path / "geometry.ini")
    window = make_window(settings)
    window.resize(701, 533)  # inside the offscreen screen (800x600): restore clamps to it
    window.close()
    again = make_window(AppSettings(tmp_path / "geometry.ini"))
    assert (again.width(), again.height()) == (701, 533)


@pytest.mark.audio
def test_space_plays_the_instrument_only_on_the_explore_tab(qtbot, jack_server, tmp_path):
    from app.services.audio_controller import AudioController
    from distill.audio.playback import PlaybackEngine
    from tests.app.explore.conftest import READY_MS, SMALL_MODEL

    engine = PlaybackEngine()
    assert engine.start(rescan=True), engine.error
    audio = AudioController(engine=engine)
    window = MainWindow(settings=AppSettings(tmp_path / "settings.ini"), audio=audio,
                        cache_dir=tmp_path / "cache", models_dir=tmp_path / "models",
                        checkpoint_dir=tmp_path / "checkpoints", load_demo=False)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        with qtbot.waitSignal(window.modelOpened, timeout=READY_MS):
            window.open_model(SMALL_MODEL)
        instrument = window.explore_panel.instrument
        qtbot.waitUntil(lambda: instrument.ready, timeout=READY_MS)
        assert window.tabs.currentIndex() == TAB_EXPLORE
        QTest.keyClick(window.explore_panel.sliders.sliders[0], Qt.Key.Key_Space)
        assert instrument.playing
        window.tabs.setCurrentIndex(TAB_DATASET)
        QTest.keyClick(window.dataset_panel, Qt.Key.Key_Space)  # the Dataset panel's key there
        assert instrument.playing
        window.tabs.setCurrentIndex(TAB_EXPLORE)
        QTest.keyClick(window.explore_panel.sliders.sliders[0], Qt.Key.Key_Space)
        assert not instrument.playing
    finally:
        window.train_panel.shutdown()
        window.dataset_panel.shutdown()
        window.explore_panel.shutdown()
        audio.close()


def test_audio_menu_lists_the_default_and_reopens(qtbot, make_window):
    window = make_window()
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles.index("&Audio") < titles.index("&Help")
    menu = window.audio_menu
    scan = menu.fill_devices()
    texts = [a.text() for a in menu.device_menu.actions() if not a.isSeparator()]
    assert texts[0] == "System default" and texts[-1] == "&Rescan devices"
    assert [a.text() for a in menu.device_menu.actions() if a.isChecked()] == ["System default"]
    assert texts[1:1 + len(scan.devices)] == [d.label for d in scan.devices]
    menu.reopen_action.trigger()
    assert window.audio_label.text() == window.audio.state != "audio: not started"


@pytest.mark.audio
def test_choosing_an_output_device_in_the_audio_menu(qtbot, jack_server, tmp_path):
    from app.services.audio_controller import AudioController

    settings = AppSettings(tmp_path / "settings.ini")
    audio = AudioController(settings=settings)
    window = MainWindow(settings=settings, audio=audio, cache_dir=tmp_path / "cache",
                        models_dir=tmp_path / "models", checkpoint_dir=tmp_path / "checkpoints",
                        load_demo=False)
    qtbot.addWidget(window)
    try:
        menu = window.audio_menu
        menu.rescan()
        jack = next(a for a in menu.device_menu.actions() if a.text().startswith("system ("))
        label = jack.text()
        jack.trigger()
        assert audio.available and settings.audio_device() == "system"
        assert window.audio_label.text().startswith("audio: system, 48 kHz")
        menu.fill_devices()  # as when the menu opens again
        assert [a.text() for a in menu.device_menu.actions() if a.isChecked()] == [label]
    finally:
        window.train_panel.shutdown()
        window.dataset_panel.shutdown()
        window.explore_panel.shutdown()
        audio.close()


# ---------------------------------------------------------------------- the last session
def returning(tmp_path, name: str = "settings.ini") -> AppSettings:
    settings = AppSettings(tmp_path / name)
    settings.set_value("app/first_start_done", True)
    return settings


def test_a_second_start_reopens_the_last_dataset_from_its_cache(qtbot, make_window, sound_folder,
                                                                tmp_path):
    first = make_window(returning(tmp_path))
    with qtbot.waitSignal(first.dataset_panel.datasetLoaded, timeout=60_000) as loaded:
        first.load_paths([sound_folder])
    first_cache = loaded.args[0]
    assert first.close()
    second = make_window(AppSettings(tmp_path / "settings.ini"), load_demo=None)
    with qtbot.waitSignal(second.dataset_panel.datasetLoaded, timeout=60_000) as reloaded:
        pass
    cache = reloaded.args[0]
    assert cache.report.folder.resolve() == sound_folder.resolve()
    assert [e.relpath for e in cache.files] == [e.relpath for e in first_cache.files]
    panel = second.dataset_panel
    assert panel.pages.currentWidget() is panel.splitter
    assert panel.summary_label.text().startswith("sounds — ")
    assert "dataset: sounds" in second.subject_label.text()


def test_a_second_start_reopens_the_model_in_use(qtbot, make_window, sound_folder, tiny_model, tmp_path):
    first = make_window(returning(tmp_path))
    with qtbot.waitSignal(first.dataset_panel.datasetLoaded, timeout=60_000):
        first.load_paths([sound_folder])
    with qtbot.waitSignal(first.modelOpened, timeout=30_000):
        first.open_model(tiny_model)
    assert first.tabs.currentIndex() == TAB_EXPLORE  # the model is what was in use
    assert first.close()
    second = make_window(AppSettings(tmp_path / "settings.ini"), load_demo=None)
    with qtbot.waitSignal(second.modelOpened, timeout=30_000) as opened:
        pass
    assert opened.args[0].resolve() == tiny_model.resolve()
    assert second.tabs.currentIndex() == TAB_EXPLORE
    assert second.dataset_panel.cache is None and not second.dataset_panel.is_busy
    # Back on the Dataset tab with a dataset loaded, the dataset is what was in use.
    with qtbot.waitSignal(second.dataset_panel.datasetLoaded, timeout=60_000):
        second.load_paths([sound_folder])
    second.tabs.setCurrentIndex(TAB_DATASET)
    assert second.close()
    assert AppSettings(tmp_path / "settings.ini").last_session() == ("dataset", sound_folder.resolve())


def test_when_the_last_dataset_is_gone_the_empty_page_offers_recent_ones_and_the_demo(
        qtbot, make_window, sound_folder, many_sounds, tmp_path):
    settings = returning(tmp_path)
    gone = tmp_path / "moved away"
    shutil.copytree(many_sounds, gone)
    settings.add_recent("datasets", sound_folder)
    settings.add_recent("datasets", gone)
    settings.set_last_session("dataset", gone)
    shutil.rmtree(gone)
    window = make_window(settings, load_demo=None)
    panel = window.dataset_panel
    qtbot.waitUntil(lambda: panel.notice_label.text() != "", timeout=5_000)
    assert str(gone.resolve()) in panel.notice_label.text() and "gone" in panel.notice_label.text()
    assert not panel.is_busy and panel.pages.currentWidget() is panel.empty_page
    assert panel.summary_label.text() == "No dataset loaded"
    assert [b.text().split("  —  ")[0] for b in panel.recent_buttons] == ["sounds"]  # the gone one left out
    assert panel.demo_button.isEnabled()
    with qtbot.waitSignal(panel.datasetLoaded, timeout=60_000) as loaded:
        panel.recent_buttons[0].click()
    assert loaded.args[0].report.folder.resolve() == sound_folder.resolve()
    # The gone dataset stays remembered until something else is in use (a drive may come back).
    assert window.settings.last_session() == ("dataset", sound_folder.resolve())


def test_the_empty_page_loads_the_demo(qtbot, make_window, tmp_path):
    window = make_window(returning(tmp_path))
    panel = window.dataset_panel
    assert panel.pages.currentWidget() is panel.empty_page and panel.recent_title.isHidden()
    with qtbot.waitSignal(panel.datasetLoaded, timeout=120_000) as loaded:
        panel.demo_button.click()
    assert len(loaded.args[0].files) == 24 and "demo" in window.subject_label.text()


def test_files_named_at_start_win_over_the_last_session(qtbot, make_window, sound_folder, many_sounds,
                                                        tmp_path):
    settings = returning(tmp_path)
    settings.set_last_session("dataset", many_sounds)
    window = make_window(settings, load_demo=None)
    with qtbot.waitSignal(window.dataset_panel.datasetLoaded, timeout=60_000) as loaded:
        window.load_paths([sound_folder])  # what ``distill-studio DATASET`` does before the loop runs
    qtbot.wait(200)
    assert loaded.args[0].report.folder.resolve() == sound_folder.resolve()
    assert not window.dataset_panel.is_busy
