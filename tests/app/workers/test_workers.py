"""Workers: events, results, errors and cancel arrive as signals; threads are always joined."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from app.workers import CallbackWorker, DatasetWorker, FileAnalysisWorker, close_all, live_workers
from app.workers import dataset as dataset_workers
from distill.data import CacheFinished, FileProcessed, ScanStarted
from distill.data.gather import DatasetImported
from distill.errors import AudioFileError
from tests.app.conftest import Recorder
from tests.conftest import write_audio

TIMEOUT_MS = 20_000
#: A cache build on a fresh checkout resamples the 44.1 kHz file and may compile numba's
#: kernels for the first time: tens of seconds on a busy 2-core machine.
BUILD_TIMEOUT_MS = 180_000


def test_callback_worker_re_emits_events_then_the_result(qtbot):
    def count(on_event, cancel):
        for i in range(3):
            on_event(i)
        return "done"

    worker = CallbackWorker(count, "Counting")
    events = Recorder()
    worker.progress.connect(events.add)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as blocker:
        worker.start()
    assert blocker.args == ["done"]
    assert events.items == [0, 1, 2]  # queued before ``finished``, delivered in order
    assert worker.wait(TIMEOUT_MS) and not live_workers()


def test_user_errors_are_shown_verbatim(qtbot):
    def fail(on_event, cancel):
        raise AudioFileError("/x/kick.wav", "the file is silent")

    worker = CallbackWorker(fail, "Loading")
    with qtbot.waitSignal(worker.errored, timeout=TIMEOUT_MS) as blocker:
        worker.start()
    assert blocker.args == ["/x/kick.wav: the file is silent"]
    worker.wait()


def test_unexpected_errors_are_logged_and_summarised(qtbot, caplog):
    def crash(on_event, cancel):
        return {}["missing"]

    worker = CallbackWorker(crash, "Loading drums")
    with caplog.at_level(logging.ERROR, logger="app.workers"), \
            qtbot.waitSignal(worker.errored, timeout=TIMEOUT_MS) as blocker:
        worker.start()
    worker.wait()
    text = blocker.args[0]
    assert text.startswith("Loading drums failed unexpectedly (KeyError") and "log" in text
    assert any(r.exc_info for r in caplog.records), "the traceback goes to the log"


def test_cancel_sets_the_flag_the_function_checks(qtbot):
    running = threading.Event()

    def loop(on_event, cancel):
        running.set()
        while not cancel.wait(0.01):
            pass
        return "stopped"

    worker = CallbackWorker(loop, "Looping")
    worker.start()
    assert running.wait(10)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as blocker:
        worker.cancel()
    assert blocker.args == ["stopped"] and worker.cancelled
    assert worker.wait(TIMEOUT_MS)
    with pytest.raises(RuntimeError):
        worker.start()


def test_close_all_joins_every_live_worker(qtbot):
    woken = []

    def sleepy(on_event, cancel):
        woken.append(cancel.wait(60))  # True: the cancel woke it, not the time-out

    workers = [CallbackWorker(sleepy, f"Sleeping {i}") for i in range(2)]
    for worker in workers:
        worker.start()
    assert len(live_workers()) == 2
    assert close_all(TIMEOUT_MS)
    assert not live_workers() and woken == [True, True]


def test_file_analysis_of_a_missing_file_errors_with_its_name(qtbot, tmp_path):
    worker = FileAnalysisWorker()
    try:
        with qtbot.waitSignal(worker.errored, timeout=TIMEOUT_MS) as blocker:
            worker.request(tmp_path / "ghost_kick.wav")
        assert "ghost_kick.wav" in blocker.args[0] and "not found" in blocker.args[0]
    finally:
        assert worker.close(TIMEOUT_MS)


def test_file_analysis_latest_request_wins(qtbot, tmp_path, monkeypatch):
    first = write_audio(tmp_path / "first.wav", np.sin(np.arange(96_000) * 0.05).astype(np.float32) * 0.3)
    second = write_audio(tmp_path / "second.wav", np.sin(np.arange(48_000) * 0.1).astype(np.float32) * 0.3)
    entered = threading.Event()
    superseded = threading.Event()
    real = dataset_workers.analyse_file

    def analyse(path, *args):
        if path == first:  # hold the worker inside the first file until the second is asked for
            entered.set()
            assert superseded.wait(10)
        return real(path, *args)

    # The name the worker looks up when it runs (imported into app.workers.dataset).
    monkeypatch.setattr(dataset_workers, "analyse_file", analyse)
    worker = FileAnalysisWorker()
    results = Recorder()
    worker.finished.connect(results.add)
    try:
        worker.request(first)
        assert entered.wait(10), "the worker never started on the first file"
        worker.request(second)
        superseded.set()
        qtbot.waitUntil(lambda: bool(results.items), timeout=TIMEOUT_MS)
        # A stale result of the first file would be emitted (and queued) before the second's.
        assert [r.path for r in results.items] == [second]
        wave, spec = results.items[0].waveform, results.items[0].spectrogram
        assert wave.dtype == np.float32 and wave.shape == (48_000,)
        assert spec.dtype == np.float32 and spec.shape == (2, 128, 1 + 48_000 // 512)
        assert spec.flags.c_contiguous and spec[0].min() >= 0 and np.abs(spec[1]).max() <= 1
    finally:
        assert worker.close(TIMEOUT_MS)
    with pytest.raises(RuntimeError):
        worker.request(second)


def test_dataset_worker_builds_a_folder(qtbot, audio_folder, tmp_path):
    worker = DatasetWorker([audio_folder], cache_dir=tmp_path / "cache")
    events = Recorder()
    worker.progress.connect(events.add)
    with qtbot.waitSignal(worker.finished, timeout=BUILD_TIMEOUT_MS) as blocker:
        worker.start()
    worker.wait()
    cache = blocker.args[0]
    assert len(cache.files) == 5 and not cache.report.cancelled
    kinds = [type(e) for e in events.items]
    assert kinds[0] is ScanStarted and kinds[-1] is CacheFinished
    assert kinds.count(FileProcessed) == 5


def test_dataset_worker_gathers_dropped_files(qtbot, audio_folder, tmp_path, isolated_user_dirs):
    files = [audio_folder / "tone_a.wav", audio_folder / "sub" / "bell.ogg"]
    worker = DatasetWorker(files, cache_dir=tmp_path / "cache")
    events = Recorder()
    worker.progress.connect(events.add)
    with qtbot.waitSignal(worker.finished, timeout=TIMEOUT_MS) as blocker:
        worker.start()
    worker.wait()
    imported = next(e for e in events.items if isinstance(e, DatasetImported))
    root = isolated_user_dirs / "xdg_data_home" / "distill-studio" / "datasets"
    assert imported.folder.parent == root and imported.linked == 2
    assert sorted(p.name for p in imported.folder.iterdir()) == ["bell.ogg", "tone_a.wav"]
    assert (imported.folder / "tone_a.wav").is_symlink()
    assert {e.relpath for e in blocker.args[0].files} == {"bell.ogg", "tone_a.wav"}


def test_dataset_worker_reports_a_missing_folder(qtbot, tmp_path):
    worker = DatasetWorker([tmp_path / "nowhere"], cache_dir=tmp_path / "cache")
    with qtbot.waitSignal(worker.errored, timeout=TIMEOUT_MS) as blocker:
        worker.start()
    worker.wait()
    assert "not found" in blocker.args[0] and "nowhere" in blocker.args[0]
