"""Preprocessing cache: reports, incremental rebuilds, cancel, failures, cache keys."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import distill.data.cache as cache_module
from distill.audio import synth
from distill.audio.config import ComplexSpectrogramConfig
from distill.data import (
    CacheFinished,
    FileProcessed,
    FileSkipped,
    ScanStarted,
    build_cache,
)
from distill.data.config import DataConfig
from distill.errors import DatasetError
from tests.conftest import write_audio
from tests.data.conftest import BROKEN_REASONS, GOOD_CLIPS

#: Files of ``mixed_folder`` that pass the scan and so must be decoded once.
DECODED = {*GOOD_CLIPS, "nan_samples.wav", "short_30ms.wav", "all_silent.wav"}


@pytest.fixture
def decodes(monkeypatch):
    """Relative names (file names) of every file ``build_cache`` decodes, in order."""
    names: list[str] = []
    real = cache_module.load_audio

    def counting(path, **kwargs):
        names.append(Path(path).name)
        return real(path, **kwargs)

    monkeypatch.setattr(cache_module, "load_audio", counting)
    return names


def names(paths):
    return sorted(Path(p).name for p in paths)


def test_every_broken_file_is_reported_by_name_and_reason(mixed_cache):
    report = mixed_cache.report
    for name, phrase in BROKEN_REASONS.items():
        entry = report.entry(name)
        assert entry.status == "skipped", name
        assert phrase in entry.reason, (name, entry.reason)
        assert entry.clips == 0
    assert report.entry("short_30ms.wav").reason == "too short: 30 ms (at least 43 ms needed)"


def test_valid_files_are_cached_with_their_clip_counts(mixed_cache):
    report = mixed_cache.report
    assert {e.relpath: e.clips for e in report.usable_entries} == GOOD_CLIPS
    for entry in report.usable_entries:
        clips = mixed_cache.load_clips(entry)
        assert isinstance(clips, np.memmap)
        assert clips.shape == (GOOD_CLIPS[entry.relpath], 2, 128, 94)
        assert clips.dtype == np.float16
        assert entry.max_magnitude == float(clips[:, 0].max())
        assert clips[:, 0].min() >= 0 and np.abs(clips[:, 1]).max() <= 1
    assert report.summary.ok == len(GOOD_CLIPS)
    assert report.summary.clips == sum(GOOD_CLIPS.values())
    assert report.summary.duration == pytest.approx(2.0 + 1 + 1 + 1 + 1 + 0.5)


def test_unusual_formats_keep_their_facts(mixed_cache):
    report = mixed_cache.report
    assert (report.entry("eight_channels.wav").channels, report.entry("low_8k.wav").sample_rate,
            report.entry("high_192k.wav").sample_rate) == (8, 8000, 192_000)
    assert report.entry("sub/bell.ogg").ok


def test_normalisation_stats_come_from_the_loudest_file(mixed_cache):
    stats = mixed_cache.normalization_stats()
    assert stats.magnitude_scale == max(e.max_magnitude for e in mixed_cache.files)


def test_events_report_every_file_in_order(mixed_folder, cache_dir):
    events = []
    cache = build_cache(mixed_folder, cache_dir=cache_dir, on_event=events.append)
    assert events[0] == ScanStarted(mixed_folder.resolve(), 14)
    assert isinstance(events[-1], CacheFinished) and events[-1].report == cache.report
    per_file = events[1:-1]
    assert [e.index for e in per_file] == list(range(14))
    assert {e.total for e in per_file} == {14}
    assert {e.entry.relpath for e in per_file if isinstance(e, FileProcessed)} == set(GOOD_CLIPS)
    assert all(isinstance(e, FileSkipped) for e in per_file if e.entry.relpath in BROKEN_REASONS)


def test_only_new_or_changed_files_are_processed(mixed_folder, cache_dir, decodes):
    first = build_cache(mixed_folder, cache_dir=cache_dir)
    assert names(decodes) == names(DECODED)
    assert {e.relpath for e in first.report.entries if e.built} == DECODED

    decodes.clear()
    again = build_cache(mixed_folder, cache_dir=cache_dir)
    assert decodes == []
    assert not any(e.built for e in again.report.entries)
    # Decoding failures are remembered too, with their reasons.
    assert [(e.relpath, e.status, e.reason, e.clips, e.max_magnitude) for e in again.report.entries] == [
        (e.relpath, e.status, e.reason, e.clips, e.max_magnitude) for e in first.report.entries]

    write_audio(mixed_folder / "new.wav", synth.drum(80, 0.5))
    build_cache(mixed_folder, cache_dir=cache_dir)
    assert decodes == ["new.wav"]

    decodes.clear()
    write_audio(mixed_folder / "pluck.flac", synth.pluck(220, 2.0, seed=9))  # edited: now 2 s
    edited = build_cache(mixed_folder, cache_dir=cache_dir)
    assert decodes == ["pluck.flac"]
    assert edited.report.entry("pluck.flac").clips == 3
    assert edited.load_clips(edited.report.entry("pluck.flac")).shape[0] == 3

    decodes.clear()
    (mixed_folder / "tone.wav").unlink()
    removed = build_cache(mixed_folder, cache_dir=cache_dir)
    assert decodes == []
    with pytest.raises(KeyError):
        removed.report.entry("tone.wav")
    # The former duplicate is now the only copy; its clips were already cached.
    copy = removed.report.entry("zz_backup/tone copy.wav")
    assert copy.ok and copy.clips == 3 and not copy.built


def test_cancel_mid_build_keeps_what_was_done(mixed_folder, cache_dir, decodes):
    cancel = threading.Event()

    def on_event(event):
        if isinstance(event, FileProcessed) and event.index >= 2:
            cancel.set()

    partial = build_cache(mixed_folder, cache_dir=cache_dir, on_event=on_event, cancel=cancel)
    assert partial.report.cancelled
    done = [e.relpath for e in partial.report.entries]
    # Sorted order: all_silent, eight_channels, high_192k (the second usable file) -> stop.
    assert done == ["all_silent.wav", "eight_channels.wav", "high_192k.wav"]
    assert all(partial.clip_path(e).is_file() for e in partial.report.usable_entries)

    decodes.clear()
    full = build_cache(mixed_folder, cache_dir=cache_dir, cancel=lambda: False)
    assert not full.report.cancelled
    assert len(full.report.entries) == 14
    assert not set(done) & set(decodes)
    assert names(decodes) == names(DECODED - set(done))


def test_interrupted_build_loses_nothing(mixed_folder, cache_dir, decodes, monkeypatch):
    real = cache_module.load_audio

    def interrupting(path, **kwargs):
        if Path(path).name == "pluck.flac":
            raise KeyboardInterrupt
        return real(path, **kwargs)

    monkeypatch.setattr(cache_module, "load_audio", interrupting)
    with pytest.raises(KeyboardInterrupt):
        build_cache(mixed_folder, cache_dir=cache_dir)
    monkeypatch.undo()

    names_seen: list[str] = []
    real = cache_module.load_audio
    monkeypatch.setattr(cache_module, "load_audio",
                        lambda path, **kw: names_seen.append(Path(path).name) or real(path, **kw))
    build_cache(mixed_folder, cache_dir=cache_dir)
    # Everything sorted before pluck.flac was kept (manifest saved on the way out).
    assert names(names_seen) == names(["pluck.flac", "short_30ms.wav", "bell.ogg", "tone.wav"])


def test_unexpected_failure_skips_one_file_and_is_retried(mixed_folder, cache_dir, monkeypatch):
    real = cache_module.load_audio

    def failing(path, **kwargs):
        if Path(path).name == "pluck.flac":
            raise RuntimeError("decoder crashed")
        return real(path, **kwargs)

    monkeypatch.setattr(cache_module, "load_audio", failing)
    broken = build_cache(mixed_folder, cache_dir=cache_dir)
    assert broken.report.entry("pluck.flac").reason == (
        "could not be processed (RuntimeError: decoder crashed)")
    assert len(broken.report.usable_entries) == len(GOOD_CLIPS) - 1
    monkeypatch.undo()
    fixed = build_cache(mixed_folder, cache_dir=cache_dir)
    assert fixed.report.entry("pluck.flac").usable and fixed.report.entry("pluck.flac").built


def test_damaged_manifest_costs_no_decoding(mixed_folder, cache_dir, decodes):
    first = build_cache(mixed_folder, cache_dir=cache_dir)
    manifest = next(first.directory.glob("datasets/*.json"))
    manifest.write_text("{ not json")
    decodes.clear()
    again = build_cache(mixed_folder, cache_dir=cache_dir)
    # Arrays are named by content: they are adopted; only files without one are decoded.
    assert names(decodes) == names(["nan_samples.wav", "short_30ms.wav", "all_silent.wav"])
    assert [(e.relpath, e.clips, e.max_magnitude) for e in again.report.entries] == [
        (e.relpath, e.clips, e.max_magnitude) for e in first.report.entries]


def test_representation_settings_get_their_own_cache(mixed_folder, cache_dir, decodes):
    default = build_cache(mixed_folder, cache_dir=cache_dir)
    small = build_cache(mixed_folder, ComplexSpectrogramConfig(n_mels=64),
                        DataConfig(clip_frames=32, clip_hop_frames=16), cache_dir=cache_dir)
    assert small.directory != default.directory
    assert small.directory.parent == default.directory.parent == cache_dir
    assert small.load_clips(small.report.entry("tone.wav")).shape[1:] == (2, 64, 32)
    assert len(decodes) == 2 * len(DECODED)
    decodes.clear()
    build_cache(mixed_folder, cache_dir=cache_dir)
    assert decodes == []


def test_default_cache_is_in_the_user_cache_folder(mixed_folder, isolated_user_dirs):
    cache = build_cache(mixed_folder)
    expected = isolated_user_dirs / "xdg_cache_home" / "distill-studio" / "spectrograms"
    assert cache.directory.parent == expected
    assert (cache.directory / "key.json").is_file()


def test_long_files_are_cut_with_a_note(tmp_path, cache_dir):
    write_audio(tmp_path / "songs" / "long.wav", synth.harmonic(220, 3.0))
    cache = build_cache(tmp_path / "songs", data_config=DataConfig(max_file_seconds=1.0),
                        cache_dir=cache_dir)
    entry = cache.report.entry("long.wav")
    assert entry.ok and entry.clips == 1
    assert entry.duration == pytest.approx(3.0)
    assert entry.note == "only the first 1.0 s is used (the file lasts 3.0 s)"


def test_quiet_file_with_no_loud_clip_is_skipped(tmp_path, cache_dir):
    write_audio(tmp_path / "quiet" / "whisper.wav", synth.sine(440, 1.0, amp=10 ** (-70 / 20)))
    entry = build_cache(tmp_path / "quiet", cache_dir=cache_dir).report.entry("whisper.wav")
    assert entry.status == "skipped"
    assert entry.reason == "every clip is quieter than -60 dBFS"


def test_missing_folder_and_unwritable_cache_are_dataset_errors(tmp_path, mixed_folder):
    with pytest.raises(DatasetError, match="dataset folder not found"):
        build_cache(tmp_path / "missing", cache_dir=tmp_path / "cache")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(DatasetError, match="cannot create the cache folder"):
        build_cache(mixed_folder, cache_dir=blocker)
