"""``distill dataset``: table, JSON, progress and user errors."""

from __future__ import annotations

import json

from distill.cli import main
from tests.data.conftest import BROKEN_REASONS, GOOD_CLIPS


def test_table_names_every_file_and_reason(mixed_folder, cache_dir, capsys):
    assert main(["dataset", str(mixed_folder), "--cache-dir", str(cache_dir)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["file", "duration", "rate", "ch", "clips", "status"]
    rows = {line.split("  ")[0].strip(): line for line in lines[1:-1]}
    assert set(rows) == set(BROKEN_REASONS) | set(GOOD_CLIPS)
    for name, phrase in BROKEN_REASONS.items():
        assert "skipped: " in rows[name] and phrase in rows[name], rows[name]
    assert rows["eight_channels.wav"].split()[1:] == ["1.00", "s", "48000", "Hz", "8", "1", "ok"]
    assert rows["low_8k.wav"].split()[3] == "8000"
    assert lines[-1].startswith("14 files: 6 ok, 8 skipped, 6.5 s of audio, 8 clips; cache: ")
    assert str(cache_dir) in lines[-1]
    assert "100%" in err  # the progress bar, on stderr
    assert "Traceback" not in out + err


def test_json_report(mixed_folder, cache_dir, capsys):
    assert main(["dataset", str(mixed_folder), "--cache-dir", str(cache_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"] == {"files": 14, "ok": 6, "skipped": 8, "duration": 6.5, "clips": 8}
    entries = {e["relpath"]: e for e in report["entries"]}
    assert entries["zero_bytes.wav"]["status"] == "skipped"
    assert entries["zero_bytes.wav"]["reason"] == "the file is empty (0 bytes)"
    assert entries["tone.wav"]["clips"] == 3 and entries["tone.wav"]["built"] is True
    assert report["cache_dir"].startswith(str(cache_dir))
    assert report["cancelled"] is False


def test_second_run_uses_the_cache(mixed_folder, cache_dir, capsys):
    main(["dataset", str(mixed_folder), "--cache-dir", str(cache_dir), "--json"])
    capsys.readouterr()
    main(["dataset", str(mixed_folder), "--cache-dir", str(cache_dir), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert not any(e["built"] for e in report["entries"])


def test_missing_folder_is_a_message_not_a_traceback(tmp_path, capsys):
    assert main(["dataset", str(tmp_path / "nowhere")]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == f"distill dataset: error: dataset folder not found: {tmp_path / 'nowhere'}"
    assert "Traceback" not in out + err
