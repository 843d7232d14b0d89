"""``distill info`` on a file holding NaN samples: says so, never "silent"."""

from __future__ import annotations

import json

import numpy as np

from distill.cli import main

from ..conftest import write_audio


def test_nan_samples_are_reported_not_called_silent(tmp_path, capsys):
    wave = np.full(4800, 0.1, dtype=np.float32)  # -20 dBFS
    wave[1000:1480] = np.nan  # 480 NaN samples
    path = write_audio(tmp_path / "damaged.wav", wave, subtype="FLOAT")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "silent" not in out
    assert "peak          -20.0 dBFS" in out
    assert "480 NaN or infinite sample(s)" in out and "damaged" in out
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["invalid_samples"] == 480 and round(info["peak_dbfs"], 1) == -20.0


def test_an_all_nan_file_is_not_silent_either(tmp_path, capsys):
    path = write_audio(tmp_path / "nan.wav", np.full(480, np.nan, dtype=np.float32), subtype="FLOAT")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "(silent)" not in out and "no finite sample" in out and "480 NaN" in out


def test_a_clean_file_reports_no_invalid_samples(tmp_path, capsys):
    path = write_audio(tmp_path / "ok.wav", np.full(480, 0.5, dtype=np.float32))
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["invalid_samples"] == 0
    assert main(["info", str(path)]) == 0
    assert "invalid" not in capsys.readouterr().out
