"""Gathering dropped paths into a dataset folder: links, copies, name clashes, user errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from distill.data import gather
from distill.data.gather import DatasetImported, gather_files, managed_datasets_root, resolve_dataset_folder
from distill.errors import DatasetError
from tests.conftest import write_audio


def _resolve(paths, root=None):
    events = []
    folder = resolve_dataset_folder(paths, events.append, threading.Event(), root)
    return folder, events


def test_a_single_folder_is_the_dataset_itself(audio_folder):
    folder, events = _resolve([audio_folder])
    assert folder == audio_folder and events == []


def test_files_and_folders_are_linked_into_a_managed_folder(audio_folder, tmp_path, isolated_user_dirs):
    folder, events = _resolve([audio_folder / "tone_a.wav", audio_folder / "sub", tmp_path / "gone.wav"])
    assert folder.parent == managed_datasets_root()
    assert managed_datasets_root().is_relative_to(isolated_user_dirs)
    [event] = events
    assert isinstance(event, DatasetImported) and event.folder == folder
    assert event.linked == 3 and event.copied == 0 and event.missing == 1
    assert (folder / "tone_a.wav").is_symlink() and (folder / "sub" / "bell.ogg").is_symlink()
    assert "1 dropped item not found" in event.describe()


@pytest.mark.parametrize("paths", [[], ["nowhere.wav", "nothing.flac"]])
def test_nothing_to_gather_is_a_user_error(tmp_path, paths):
    with pytest.raises(DatasetError):
        _resolve([tmp_path / p for p in paths], tmp_path / "datasets")


def test_cancel_stops_between_files(audio_folder, tmp_path):
    cancel = threading.Event()
    cancel.set()
    imported = gather_files([audio_folder / "tone_a.wav"], tmp_path / "datasets", cancel)
    assert imported.linked == imported.copied == 0 and not any(imported.folder.iterdir())


def test_gathering_copies_when_links_are_impossible(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise OSError("symbolic links are not allowed")

    monkeypatch.setattr(gather.os, "symlink", no_links)
    a = write_audio(tmp_path / "a" / "kick.wav", np.zeros(4800, np.float32))
    b = write_audio(tmp_path / "b" / "kick.wav", np.ones(4800, np.float32) * 0.1)
    imported = gather_files([a, b], tmp_path / "datasets")
    assert imported.copied == 2 and imported.linked == 0
    names = sorted(p.name for p in imported.folder.iterdir())
    assert names == ["kick (2).wav", "kick.wav"]  # same names from two folders both kept
    assert not any(p.is_symlink() for p in imported.folder.iterdir())
    assert "copied 2 files" in imported.describe().lower()
