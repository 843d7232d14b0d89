"""DatasetPanel: loading, the report table, cancel, the preview and playback."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.dataset import dataset_panel
from app.dataset.dataset_panel import DatasetPanel
from app.dataset.file_table import DURATION, STATUS
from app.services.audio_controller import AudioController
from app.workers import DatasetWorker
from distill.audio.playback import PlaybackEngine
from distill.data import FileProcessed
from tests.app.conftest import BROKEN_FILES, GOOD_FILES

TIMEOUT_MS = 30_000


@pytest.fixture
def make_panel(qtbot, settings, silent_audio, tmp_path):
    panels: list[DatasetPanel] = []

    def make(audio: AudioController | None = None) -> DatasetPanel:
        panel = DatasetPanel(settings, audio or silent_audio, cache_dir=tmp_path / "cache")
        qtbot.addWidget(panel)
        panel.resize(1000, 700)
        panel.show()
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        panel.shutdown()


@pytest.fixture
def panel(make_panel) -> DatasetPanel:
    return make_panel()


def load(qtbot, panel: DatasetPanel, paths) -> object:
    """Load and wait for ``datasetLoaded``; returns the cache."""
    with qtbot.waitSignal(panel.datasetLoaded, timeout=TIMEOUT_MS) as blocker:
        panel.load_paths(paths)
    assert not panel.is_busy
    return blocker.args[0]


def shown(panel: DatasetPanel) -> dict[str, tuple[str, ...]]:
    """relpath -> the row's texts, read through the view's (sorted) model."""
    proxy = panel.table.proxy
    rows = {}
    for row in range(proxy.rowCount()):
        texts = tuple(proxy.index(row, c).data() for c in range(proxy.columnCount()))
        rows[texts[0]] = texts
    return rows


def test_starts_empty_with_a_hint_and_the_demo(panel):
    assert panel.pages.currentWidget() is panel.empty_page
    assert "Drop a folder of sounds here" in panel.empty_label.text()
    assert panel.cache is None and not panel.is_busy
    assert panel.recent_title.isHidden() and not panel.recent_buttons and panel.notice_label.isHidden()
    assert panel.demo_button.isEnabled()


def test_the_empty_page_lists_recent_datasets_that_still_exist(qtbot, panel, settings, sound_folder,
                                                               tmp_path):
    settings.add_recent("datasets", tmp_path / "deleted long ago")
    settings.add_recent("datasets", sound_folder)
    panel.show_empty("The dataset open last time is gone: /nowhere")
    assert [b.toolTip() for b in panel.recent_buttons] == [
        f"Load {sound_folder.resolve()} again (its cache makes this quick)"]
    assert not panel.notice_label.isHidden() and "/nowhere" in panel.notice_label.text()
    with qtbot.waitSignal(panel.openRequested) as chosen:
        panel.recent_buttons[0].click()
    assert chosen.args == [sound_folder.resolve()]
    with qtbot.waitSignal(panel.demoRequested):
        panel.demo_button.click()


def test_loads_good_and_broken_files(qtbot, panel, sound_folder):
    busy = []
    panel.busyChanged.connect(busy.append)
    cache = load(qtbot, panel, [sound_folder])
    assert busy == [True, False]
    assert panel.cache is cache and panel.pages.currentWidget() is panel.splitter
    assert {e.relpath for e in cache.files} == set(GOOD_FILES)  # usable = exactly the good ones

    rows = shown(panel)
    assert set(rows) == set(GOOD_FILES) | set(BROKEN_FILES)
    for name, clips in GOOD_FILES.items():
        assert rows[name][STATUS] == "ok" and rows[name][4] == str(clips)
    assert rows["tone.wav"][1:4] == ("2.00 s", "48 kHz", "1")
    for name, phrase in BROKEN_FILES.items():
        assert rows[name][STATUS].startswith("skipped: ") and phrase in rows[name][STATUS], rows[name]

    summary = cache.report.summary
    assert (summary.files, summary.ok, summary.skipped, summary.clips) == (8, 3, 5, 5)
    text = panel.summary_label.text()
    assert summary.describe() in text and "8 files: 3 ok, 5 skipped" in text and "5 clips" in text


def test_skipped_rows_are_marked_and_explained(qtbot, panel, sound_folder):
    load(qtbot, panel, [sound_folder])
    proxy = panel.table.proxy
    by_name = {proxy.index(r, 0).data(): r for r in range(proxy.rowCount())}
    skipped, ok = by_name["zero_bytes.wav"], by_name["tone.wav"]
    assert proxy.index(skipped, 0).data(Qt.ItemDataRole.DecorationRole) is not None  # warning icon
    assert proxy.index(ok, 0).data(Qt.ItemDataRole.DecorationRole) is None
    assert proxy.index(skipped, 2).data(Qt.ItemDataRole.ForegroundRole) is not None  # muted text
    tip = proxy.index(skipped, STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert str(sound_folder / "zero_bytes.wav") in tip and "empty (0 bytes)" in tip


def test_table_sorts_by_duration_as_numbers(qtbot, panel, sound_folder):
    load(qtbot, panel, [sound_folder])
    panel.table.sortByColumn(DURATION, Qt.SortOrder.DescendingOrder)
    first = panel.table.visible_entries()[0]
    assert first.relpath == "tone.wav"  # 2 s is the longest, whatever the text sorts like


def test_dropped_files_are_gathered_into_a_managed_folder(qtbot, panel, sound_folder,
                                                          isolated_user_dirs):
    messages = []
    panel.message.connect(messages.append)
    files = [sound_folder / "tone.wav", sound_folder / "pluck.flac", sound_folder / "zero_bytes.wav"]
    cache = load(qtbot, panel, files)
    folder = cache.report.folder
    assert folder.parent == isolated_user_dirs / "xdg_data_home" / "distill-studio" / "datasets"
    assert folder.name.startswith("sounds-")
    assert all((folder / f.name).is_symlink() for f in files)
    assert {e.relpath for e in cache.files} == {"tone.wav", "pluck.flac"}
    assert set(shown(panel)) == {"tone.wav", "pluck.flac", "zero_bytes.wav"}
    assert any("Linked 3 files into" in m and str(folder) in m for m in messages)


def test_cancel_keeps_partial_results_and_a_new_load_works(qtbot, panel, many_sounds, monkeypatch):
    loaded = []
    panel.datasetLoaded.connect(loaded.append)
    gate = threading.Event()

    class GatedWorker(DatasetWorker):
        """Holds the build on its first file until Cancel was clicked, so exactly one file is
        done whatever the machine's speed. Connected in ``start``: after the panel's own
        (queued) slots, before the thread runs; direct, so it blocks the worker thread."""

        def start(self) -> None:
            self.progress.connect(lambda e: isinstance(e, FileProcessed) and gate.wait(10),
                                  Qt.ConnectionType.DirectConnection)
            super().start()

    with monkeypatch.context() as patch:  # only this load is gated, not the second one below
        patch.setattr(dataset_panel, "DatasetWorker", GatedWorker)
        panel.load_paths([many_sounds])
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=TIMEOUT_MS)
    assert panel.cancel_button.isVisible() and panel.progress.isVisible()
    with qtbot.waitSignal(panel.busyChanged, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert blocker.args == [False]
    assert list(shown(panel)) == ["tone_00.wav"] and shown(panel)["tone_00.wav"][STATUS] == "ok"
    assert panel.cache is None and not loaded
    assert panel.summary_label.text().startswith("Cancelled: 1 file")
    assert not panel.cancel_button.isVisible()

    cache = load(qtbot, panel, [many_sounds])
    assert len(cache.files) == 15 and not cache.report.cancelled
    assert not cache.files[0].built  # the cancelled run's work was kept and reused
    assert len(shown(panel)) == 15


def test_loading_while_loading_replaces_the_running_load(qtbot, panel, many_sounds, sound_folder):
    busy = []
    panel.busyChanged.connect(busy.append)
    panel.load_paths([many_sounds])
    cache = load(qtbot, panel, [sound_folder])
    assert cache.report.folder == sound_folder.resolve()
    assert set(shown(panel)) == set(GOOD_FILES) | set(BROKEN_FILES)
    assert busy == [True, False]


def test_a_folder_without_usable_sounds_is_not_a_dataset(qtbot, panel, sound_folder):
    for name in GOOD_FILES:
        (sound_folder / name).unlink()
    loaded = []
    panel.datasetLoaded.connect(loaded.append)
    with qtbot.waitSignal(panel.busyChanged, timeout=TIMEOUT_MS, check_params_cb=lambda busy: not busy):
        panel.load_paths([sound_folder])
    assert not loaded and panel.cache is None
    assert set(shown(panel)) == set(BROKEN_FILES)
    assert "no usable sounds" in panel.summary_label.text()


def test_a_missing_folder_is_an_error_for_a_dialog(qtbot, panel, tmp_path):
    with qtbot.waitSignal(panel.errorOccurred, timeout=TIMEOUT_MS) as blocker:
        panel.load_paths([tmp_path / "gone"])
    assert "not found" in blocker.args[0] and str(tmp_path / "gone") in blocker.args[0]
    assert not panel.is_busy and panel.cache is None


def wait_for_preview(qtbot, panel: DatasetPanel, relpath: str) -> None:
    qtbot.waitUntil(lambda: panel.preview.spectrogram.title.startswith(f"{relpath} — ")
                    and not panel.preview.spectrogram.is_empty, timeout=TIMEOUT_MS)


def test_selecting_a_row_shows_its_spectrogram(qtbot, panel, sound_folder):
    load(qtbot, panel, [sound_folder])
    assert panel.table.select_row_of("pluck.flac")
    wait_for_preview(qtbot, panel, "pluck.flac")
    item = panel.preview.spectrogram.magnitude_item
    assert item.image.shape == (128, 1 + 48_000 // 512) and item.image.dtype == np.float32
    levels = tuple(item.levels)
    assert levels[0] == 0.0 and levels[1] == pytest.approx(float(item.image.max()))
    assert tuple(panel.preview.spectrogram.if_item.levels) == (-1.0, 1.0)
    assert "1.00 s" in panel.preview.spectrogram.title
    assert panel.preview.play_button.isEnabled()


def test_selecting_a_broken_file_says_why(qtbot, panel, sound_folder):
    load(qtbot, panel, [sound_folder])
    assert panel.table.select_row_of("nan_samples.wav")
    qtbot.waitUntil(lambda: "nan_samples.wav" in panel.preview.notice_label.text()
                    and "NaN" in panel.preview.notice_label.text(), timeout=TIMEOUT_MS)
    assert panel.preview.spectrogram.is_empty and panel.preview.spectrogram.title.endswith("no preview")
    assert not panel.preview.play_button.isEnabled()


def test_space_without_audio_output_says_so(qtbot, panel, sound_folder):
    load(qtbot, panel, [sound_folder])
    panel.table.select_row_of("tone.wav")
    wait_for_preview(qtbot, panel, "tone.wav")
    panel.table.setFocus()
    with qtbot.waitSignal(panel.message, timeout=TIMEOUT_MS) as blocker:
        qtbot.keyClick(panel.table, Qt.Key.Key_Space)
    assert blocker.args[0].startswith("No audio output — ")
    assert panel.preview.notice_label.text() == blocker.args[0]
    assert panel.preview.play_button.text() == "Play"


@pytest.mark.audio
def test_space_plays_the_selected_file_through_a_real_device(qtbot, jack_server, make_panel,
                                                             sound_folder):
    engine = PlaybackEngine()
    assert engine.start(rescan=True), engine.error
    audio = AudioController(engine=engine)
    try:
        panel = make_panel(audio)
        load(qtbot, panel, [sound_folder])
        panel.table.select_row_of("tone.wav")
        wait_for_preview(qtbot, panel, "tone.wav")
        qtbot.keyClick(panel.table, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: engine.telemetry().playing and engine.telemetry().peak > 0.01,
                        timeout=5000)
        assert panel.preview.play_button.text() == "Stop" and not panel.preview.notice_label.text()
        qtbot.keyClick(panel.table, Qt.Key.Key_Space)  # Space again stops
        qtbot.waitUntil(lambda: not engine.telemetry().playing, timeout=5000)
        assert panel.preview.play_button.text() == "Play"
        qtbot.keyClick(panel.table, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: engine.telemetry().playing, timeout=5000)
        qtbot.keyClick(panel.table, Qt.Key.Key_Escape)  # Escape stops too
        qtbot.waitUntil(lambda: not engine.telemetry().playing, timeout=5000)
        panel.shutdown()
    finally:
        audio.close()


def test_shutdown_joins_workers_and_is_idempotent(qtbot, panel, many_sounds):
    panel.load_paths([many_sounds])
    panel.shutdown()
    panel.shutdown()
    assert not panel.preview._worker.is_running
    panel.load_paths([many_sounds])  # ignored after shutdown
    assert panel._worker is None or not panel._worker.is_running
