"""A damaged settings file never stops the studio: bad values are dropped with a log
line; any start-up failure is logged and shown in a dialog, never a silent exit 1."""

from __future__ import annotations

import json
import logging
import math

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from app import main as app_main
from app.main_window import MainWindow
from app.services.exception_hook import log_file
from app.services.settings import QT_INT_MAX, AppSettings


def write_raw(path, values: dict[str, object]) -> None:
    """Values as a user (or a crash) might leave them in the ini file: JSON text."""
    qs = QSettings(str(path), QSettings.Format.IniFormat)
    for key, value in values.items():
        qs.setValue(key, json.dumps(value))
    qs.sync()


@pytest.mark.parametrize("value", [[99999999999, -5], [2**31, 10], [1, 2, -(2**40)]])
def test_a_list_with_an_out_of_range_number_is_dropped(tmp_path, caplog, value):
    write_raw(tmp_path / "s.ini", {"dataset/splitter": value})
    with caplog.at_level(logging.WARNING, logger="app.services.settings"):
        assert AppSettings(tmp_path / "s.ini").value("dataset/splitter", "default") == "default"
    assert "dataset/splitter" in caplog.text and "out of range" in caplog.text


def test_a_map_loses_only_its_bad_entries(tmp_path, caplog):
    write_raw(tmp_path / "s.ini", {"train/settings": {"latent_dim": 10**12, "preset": "tiny",
                                                      "explicit": {"epochs": 1e300}}})
    with caplog.at_level(logging.WARNING, logger="app.services.settings"):
        value = AppSettings(tmp_path / "s.ini").value("train/settings")
    assert value == {"preset": "tiny", "explicit": {}}
    assert "train/settings/latent_dim" in caplog.text and "train/settings/explicit/epochs" in caplog.text


def test_non_finite_numbers_are_dropped(tmp_path):
    settings = AppSettings(tmp_path / "s.ini")
    for value in (math.nan, math.inf, -math.inf):
        settings.set_value("x", value)
        assert settings.value("x", 7) == 7


def test_typed_readers_clamp(tmp_path):
    settings = AppSettings(tmp_path / "s.ini")
    settings.set_value("n", 5000)
    settings.set_value("sizes", [-5, 300, 10**6])
    settings.set_value("text", "many")
    assert settings.int_value("n", 3, 1, 1024) == 1024
    assert settings.int_value("text", 3, 1, 1024) == 3
    assert settings.int_value("missing", 3, 1, 1024) == 3
    assert settings.int_list("sizes", 3, 0, 10_000) == [0, 300, 10_000]
    assert settings.int_list("sizes", 2, 0, 10_000) is None
    settings.set_value("big", QT_INT_MAX)
    assert settings.value("big") == QT_INT_MAX  # the largest a Qt int takes is kept


@pytest.mark.parametrize("value", [["model", "/x.distill"], {"kind": "sketch", "path": "/x"},
                                   {"kind": "model", "path": 7}, {"kind": "dataset", "path": "  "}, "x"])
def test_a_malformed_last_session_is_ignored(tmp_path, caplog, value):
    write_raw(tmp_path / "s.ini", {"session/last": value})
    with caplog.at_level(logging.WARNING, logger="app.services.settings"):
        assert AppSettings(tmp_path / "s.ini").last_session() is None
    assert "session/last" in caplog.text


def test_the_last_session_round_trips(tmp_path):
    settings = AppSettings(tmp_path / "s.ini")
    settings.set_last_session("model", tmp_path / "a.distill")
    assert AppSettings(tmp_path / "s.ini").last_session() == ("model", (tmp_path / "a.distill").resolve())
    with pytest.raises(ValueError, match="kind"):
        settings.set_last_session("sketch", tmp_path)


def test_the_window_starts_with_hostile_settings(qtbot, tmp_path, silent_audio, caplog):
    """Each of these values made every launch fail with OverflowError until the file was deleted."""
    path = tmp_path / "settings.ini"
    write_raw(path, {"dataset/splitter": [99999999999, -5],
                     "train/settings": {"latent_dim": 10**12, "preset": "small", "advanced_open": True}})
    with caplog.at_level(logging.WARNING, logger="app.services.settings"):
        window = MainWindow(settings=AppSettings(path), audio=silent_audio, cache_dir=tmp_path / "cache",
                            models_dir=tmp_path / "models", checkpoint_dir=tmp_path / "ckpt",
                            load_demo=False)
    qtbot.addWidget(window)
    try:
        widget = window.train_panel.settings_widget
        assert 1 <= widget.latent_dim <= 1024
        assert widget.preset == "small"  # the good entries of the same map survive
        sizes = window.dataset_panel.splitter.sizes()
        assert len(sizes) == 2 and all(0 <= s < 10**6 for s in sizes)
        assert "dataset/splitter" in caplog.text and "train/settings/latent_dim" in caplog.text
    finally:
        window.train_panel.shutdown()
        window.dataset_panel.shutdown()
        window.explore_panel.shutdown()


def test_a_start_up_failure_is_logged_and_shown(qtbot, monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(
        (self.windowTitle(), self.informativeText(), self.detailedText())) or 0)

    def broken_start(args):
        raise RuntimeError("the window could not be built")

    monkeypatch.setattr(app_main, "start_window", broken_start)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # a log file of this test's own, not an earlier one's
    assert app_main.main([]) == 1
    [(title, summary, details)] = shown
    assert "could not start" in title and summary == "RuntimeError: the window could not be built"
    assert "Traceback" in details
    for handler in root.handlers:
        handler.close()
    assert "RuntimeError: the window could not be built" in log_file().read_text()
    assert "could not start" in capsys.readouterr().err
