"""Folder scan: every file judged from header and bytes, hidden files ignored, duplicates once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from distill.audio import synth
from distill.data import list_dataset_files, scan_dataset
from distill.data import scan as scan_module
from distill.errors import DatasetError
from tests.conftest import write_audio

# Problems found from the header or bytes alone; the rest need decoding (see test_cache).
HEADER_REASONS = {
    "zero_bytes.wav": "empty (0 bytes)",
    "text_renamed.wav": "not a readable audio file",
    "truncated_header.wav": "not a readable audio file",
    "notes.txt": "not an audio file (.txt)",
    "zz_backup/tone copy.wav": "duplicate of tone.wav",
}


def test_scan_reports_every_file_with_its_reason(mixed_folder):
    report = scan_dataset(mixed_folder)
    by_name = {e.relpath: e for e in report.entries}
    for name, phrase in HEADER_REASONS.items():
        assert by_name[name].status == "skipped", name
        assert phrase in by_name[name].reason, (name, by_name[name].reason)
    # Files whose header is fine stay ok until decoding says otherwise.
    for name in ("tone.wav", "pluck.flac", "sub/bell.ogg", "nan_samples.wav", "all_silent.wav"):
        assert by_name[name].ok, (name, by_name[name].reason)
        assert by_name[name].reason is None


def test_scan_ignores_hidden_files_and_folders(mixed_folder):
    names = [e.relpath for e in scan_dataset(mixed_folder).entries]
    assert not any(part.startswith(".") for name in names for part in name.split("/"))
    assert names == sorted(names)
    assert len(names) == 14


def test_scan_entry_carries_header_facts(mixed_folder):
    report = scan_dataset(mixed_folder)
    eight = report.entry("eight_channels.wav")
    assert (eight.channels, eight.sample_rate) == (8, 48_000)
    assert eight.duration == pytest.approx(1.0)
    assert eight.size == (mixed_folder / "eight_channels.wav").stat().st_size
    assert report.entry("low_8k.wav").sample_rate == 8000
    assert report.entry("high_192k.wav").sample_rate == 192_000
    assert report.entry("high_192k.wav").duration == pytest.approx(0.5)
    assert report.entry("sub/bell.ogg").path == mixed_folder.resolve() / "sub" / "bell.ogg"
    assert len(eight.content_hash) == 32


def test_duplicates_are_reported_once_against_the_first_copy(tmp_path):
    folder = tmp_path / "dups"
    write_audio(folder / "a.wav", synth.sine(440, 0.5))
    write_audio(folder / "other.wav", synth.sine(550, 0.5))
    for copy in ("b.wav", "c/d.wav"):
        (folder / copy).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / "a.wav", folder / copy)
    report = scan_dataset(folder)
    assert [e.relpath for e in report.ok_entries] == ["a.wav", "other.wav"]
    assert {e.relpath: e.reason for e in report.skipped_entries} == {
        "b.wav": "duplicate of a.wav", "c/d.wav": "duplicate of a.wav"}
    assert report.entry("b.wav").content_hash == report.entry("a.wav").content_hash


def test_summary_counts(mixed_folder):
    summary = scan_dataset(mixed_folder).summary
    assert summary.files == 14
    assert summary.ok + summary.skipped == 14
    assert summary.skipped == len(HEADER_REASONS)
    assert "14 files" in summary.describe()


def test_known_hashes_spare_rehashing_unchanged_files(mixed_folder, monkeypatch):
    first = scan_dataset(mixed_folder)
    known = {e.relpath: (e.size, e.mtime_ns, e.content_hash) for e in first.entries if e.content_hash}
    hashed = []
    real = scan_module.hash_file
    monkeypatch.setattr(scan_module, "hash_file", lambda p: hashed.append(p.name) or real(p))
    os.utime(mixed_folder / "pluck.flac", ns=(1, 1))  # "touched": must be hashed again
    second = scan_dataset(mixed_folder, known_hashes=known)
    assert hashed == ["pluck.flac"]
    assert [e.content_hash for e in second.entries] == [e.content_hash for e in first.entries]


def test_missing_folder_is_a_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        scan_dataset(tmp_path / "nope")


def test_a_file_is_not_a_folder(tmp_path):
    path = write_audio(tmp_path / "x.wav", synth.sine(440, 0.1))
    with pytest.raises(DatasetError, match="not a folder"):
        list_dataset_files(path)


def test_unreadable_folder_and_subfolder(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    write_audio(folder / "ok.wav", synth.sine(440, 0.5))
    write_audio(folder / "private" / "x.wav", synth.sine(440, 0.5))
    locked = {folder / "private"}
    real_scandir = os.scandir

    # Permissions cannot lock out root (the CI user), so the OS's refusal is simulated.
    def scandir(path="."):
        if Path(path) in locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = scan_dataset(folder)
    assert report.entry("ok.wav").ok
    assert report.entry("private").reason == "the folder cannot be read"
    locked.add(folder)
    with pytest.raises(DatasetError, match=r"cannot read the dataset folder .*Permission denied"):
        scan_dataset(folder)


def test_empty_folder_gives_an_empty_report(tmp_path):
    report = scan_dataset(tmp_path)
    assert report.entries == ()
    assert report.summary.files == 0
