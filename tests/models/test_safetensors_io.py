"""Safe tensor files: round trip, atomic writes, and every refusal with its message."""

from __future__ import annotations

import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
import soundfile as sf
import torch

from distill.errors import ModelFileError
from distill.models import read_tensor_file, write_tensor_file
from distill.models.safetensors_io import looks_like_tensor_file


class _Payload:
    """Unpickling this creates ``marker``: the side effect a malicious checkpoint would have."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def tensors():
    return {"a": torch.arange(6, dtype=torch.float32).view(2, 3),
            "b": torch.tensor([1, 2], dtype=torch.int64), "c.d": torch.zeros(0)}


def test_round_trip(tmp_path, tensors):
    path = write_tensor_file(tmp_path / "t.safetensors", tensors, {"k": "v", "json": '{"x": 1}'})
    loaded, metadata = read_tensor_file(path)
    assert metadata == {"k": "v", "json": '{"x": 1}'}
    assert set(loaded) == set(tensors)
    for name, t in tensors.items():
        assert torch.equal(loaded[name], t) and loaded[name].dtype == t.dtype
    assert looks_like_tensor_file(path)
    assert [p.name for p in tmp_path.iterdir()] == ["t.safetensors"]  # no temporary left behind


def test_views_of_one_buffer_and_non_contiguous_tensors_are_stored(tmp_path):
    base = torch.arange(12.0).view(3, 4)
    path = write_tensor_file(tmp_path / "t", {"row": base[0], "col": base[:, 1], "all": base.t()}, {})
    loaded, metadata = read_tensor_file(path)
    assert metadata == {}
    assert torch.equal(loaded["col"], base[:, 1]) and torch.equal(loaded["all"], base.t())


def test_metadata_must_be_strings(tmp_path, tensors):
    with pytest.raises(TypeError, match="str to str"):
        write_tensor_file(tmp_path / "t", tensors, {"n": 1})


def test_a_failed_write_keeps_the_previous_file(tmp_path, tensors, monkeypatch):
    path = write_tensor_file(tmp_path / "t", tensors, {"v": "1"})

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        write_tensor_file(path, {"x": torch.ones(3)}, {"v": "2"})
    monkeypatch.undo()
    assert read_tensor_file(path)[1] == {"v": "1"}
    assert [p.name for p in tmp_path.iterdir()] == ["t"]


def _assert_refused(path, match):
    with pytest.raises(ModelFileError, match=match) as info:
        read_tensor_file(path)
    assert info.value.path == path
    assert str(path) in str(info.value)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_pickle_is_refused_without_being_unpickled(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.distill"
    path.write_bytes(pickle.dumps(_Payload(str(marker)), protocol=protocol))
    _assert_refused(path, "pickle-based.*refuses it for safety")
    assert not marker.exists()


def test_a_torch_zip_checkpoint_is_refused_without_being_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"state": _Payload(str(marker))}, path)
    assert zipfile.is_zipfile(path) and not marker.exists()
    _assert_refused(path, "pickle-based.*zip archive.*torch.save")
    assert not marker.exists()


def test_truncated_files_are_reported_as_truncated(tmp_path, tensors):
    path = write_tensor_file(tmp_path / "t", {"w": torch.randn(64, 64)}, {"k": "v"})
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 20):
        path.write_bytes(data[:cut])
        _assert_refused(path, "truncated")


def test_trailing_bytes_are_corrupt(tmp_path):
    path = write_tensor_file(tmp_path / "t", {"w": torch.randn(4)}, {})
    path.write_bytes(path.read_bytes() + b"junk")
    _assert_refused(path, "corrupt")


def test_foreign_files_are_named(tmp_path):
    rng = np.random.default_rng(0)
    random = tmp_path / "random.distill"
    random.write_bytes(rng.bytes(4096))
    _assert_refused(random, "not a distill model file")
    text = tmp_path / "notes.distill"
    text.write_text("these are not weights\n" * 10)
    _assert_refused(text, "not a distill model file")
    wav = tmp_path / "sound.distill"
    sf.write(str(wav), np.zeros(100, dtype=np.float32), 48_000, format="WAV")
    _assert_refused(wav, "WAV")
    tiny = tmp_path / "tiny.distill"
    tiny.write_bytes(b"\x01\x02")
    _assert_refused(tiny, "not a distill model file")
    assert not looks_like_tensor_file(random) and not looks_like_tensor_file(text)


def test_a_header_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "bad"
    header = b"{not json at all}"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    _assert_refused(path, "not valid JSON")


def test_bad_tensor_entries_are_corrupt(tmp_path):
    path = tmp_path / "bad"
    header = b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}'
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    _assert_refused(path, "corrupt")


def test_missing_empty_and_folder(tmp_path):
    _assert_refused(tmp_path / "nope", "file not found")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    _assert_refused(empty, "empty")
    _assert_refused(tmp_path, "not a file")
