"""Model files: full round trip, and every way a file can be unusable."""

from __future__ import annotations

import io
import json
import pickle
import pickletools

import numpy as np
import pytest
import torch

from distill.constants import MODEL_FORMAT, MODEL_FORMAT_VERSION, SUPPORTED_MODEL_VERSIONS
from distill.data.config import DataConfig
from distill.errors import ModelFileError
from distill.models import ConvVAE, LoadedModel, load_model, read_tensor_file, save_model, write_tensor_file
from distill.training.config import TrainingConfig

from .conftest import with_trained_batchnorm


@pytest.fixture
def model(tiny_configs):
    torch.manual_seed(0)
    return with_trained_batchnorm(ConvVAE.from_config(*tiny_configs))


@pytest.fixture
def saved(tmp_path, model, tiny_configs, normalization):
    _, spectrogram, data = tiny_configs
    return save_model(
        tmp_path / "sounds.distill", model, spectrogram=spectrogram, data=data,
        normalization=normalization, training=TrainingConfig(epochs=7, batch_size=4),
        history=[{"epoch": 1, "train": {"total": 1.5}}, {"epoch": 2, "train": {"total": 0.9}}],
        extra_tensors={"latent.mean": torch.randn(6), "latent.basis": torch.randn(3, 6)},
        extra_metadata={"latent": {"axes": [{"label": "Brightness", "correlation": 0.91}]}})


def _rewrite(path, edit_document=None, edit_tensors=None, metadata=None):
    """Re-save ``path`` with its JSON document and/or tensors changed."""
    tensors, meta = read_tensor_file(path)
    doc = json.loads(meta["distill"])
    if edit_document:
        edit_document(doc)
    if edit_tensors:
        edit_tensors(tensors)
    meta = metadata if metadata is not None else {**meta, "distill": json.dumps(doc)}
    write_tensor_file(path, tensors, meta)
    return path


def test_round_trip(saved, model, tiny_configs, normalization):
    model_cfg, spectrogram, data = tiny_configs
    loaded = load_model(saved)
    assert isinstance(loaded, LoadedModel)
    assert not loaded.model.training
    assert loaded.model_config == model_cfg and loaded.model.config == model_cfg
    assert loaded.spectrogram == spectrogram and loaded.data == data
    assert loaded.normalization == normalization
    assert TrainingConfig.from_dict(loaded.training) == TrainingConfig(epochs=7, batch_size=4)
    assert loaded.history == [{"epoch": 1, "train": {"total": 1.5}}, {"epoch": 2, "train": {"total": 0.9}}]
    assert loaded.extra_metadata == {"latent": {"axes": [{"label": "Brightness", "correlation": 0.91}]}}
    assert set(loaded.extra_tensors) == {"latent.mean", "latent.basis"}
    assert loaded.format_version == MODEL_FORMAT_VERSION
    assert loaded.created and loaded.distill_version and loaded.path == saved
    x = torch.rand(3, 2, spectrogram.n_mels, data.clip_frames)
    z = torch.randn(3, model_cfg.latent_dim)
    with torch.no_grad():
        assert torch.equal(loaded.model(x)[0], model(x)[0])
        assert torch.equal(loaded.model.decode(z), model.decode(z))
    original, restored = model.state_dict(), loaded.model.state_dict()
    assert list(original) == list(restored)
    assert all(torch.equal(original[k], restored[k]) for k in original)


def test_extra_tensors_are_preserved(tmp_path, model, tiny_configs, normalization):
    _, spectrogram, data = tiny_configs
    extra = {"basis": torch.randn(4, 6), "labels": torch.tensor([3, 1, 2])}
    path = save_model(tmp_path / "m.distill", model, spectrogram=spectrogram, data=data,
                      normalization=normalization, extra_tensors=extra)
    loaded = load_model(path)
    assert loaded.training is None and loaded.history == [] and loaded.extra_metadata == {}
    for name, t in extra.items():
        assert torch.equal(loaded.extra_tensors[name], t)


def test_history_scalars_from_numpy_and_torch_become_numbers(tmp_path, model, tiny_configs, normalization):
    _, spectrogram, data = tiny_configs
    history = [{"epoch": 1, "total": torch.tensor(0.5), "kl": np.float32(0.25), "steps": np.int64(3)}]
    path = save_model(tmp_path / "m.distill", model, spectrogram=spectrogram, data=data,
                      normalization=normalization, history=history)
    assert load_model(path).history == [{"epoch": 1, "total": 0.5, "kl": 0.25, "steps": 3}]
    with pytest.raises(TypeError, match="not JSON serialisable"):
        save_model(path, model, spectrogram=spectrogram, data=data, normalization=normalization,
                   extra_metadata={"bad": torch.ones(2)})


def test_the_file_is_one_safetensors_file_with_a_json_document(saved):
    tensors, metadata = read_tensor_file(saved)
    assert metadata["format"] == MODEL_FORMAT
    doc = json.loads(metadata["distill"])
    assert doc["format"] == MODEL_FORMAT and doc["format_version"] == MODEL_FORMAT_VERSION
    assert {"model", "spectrogram", "data", "normalization", "training", "history", "extra_metadata",
            "created", "distill_version"} <= set(doc)
    assert all(k.startswith(("model.", "extra.")) for k in tensors)
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_loading_never_unpickles(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    load_model(saved)


def test_a_malicious_pickle_named_like_a_model_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.distill"
    # GLOBAL builtins.open + REDUCE: unpickling this creates ``marker``.
    payload = (b"\x80\x02cbuiltins\nopen\nq\x00X" + len(str(marker)).to_bytes(4, "little")
               + str(marker).encode() + b"X\x01\x00\x00\x00w\x86R.")
    pickletools.dis(payload, out=io.StringIO())  # a well-formed pickle, not random bytes
    path.write_bytes(payload)
    with pytest.raises(ModelFileError, match="pickle-based"):
        load_model(path)
    assert not marker.exists()


def test_a_safetensors_file_without_distill_metadata(tmp_path, model):
    path = write_tensor_file(tmp_path / "weights.safetensors", model.state_dict(), {})
    with pytest.raises(ModelFileError, match="without distill metadata"):
        load_model(path)


def test_a_newer_format_version_is_refused(saved):
    def newer(doc):
        doc["format_version"] = max(SUPPORTED_MODEL_VERSIONS) + 1
        doc["distill_version"] = "9.0.0"

    _rewrite(saved, newer)
    with pytest.raises(ModelFileError, match=r"made by a newer distill \(9.0.0.*supports versions 1"):
        load_model(saved)


@pytest.mark.parametrize(("field", "value", "match"), [
    ("format_version", 0, "no longer supported"),
    ("format_version", "1", "corrupt"),
    ("sample_rate", 44_100, "44100 Hz"),
    ("format", "something-else", "corrupt"),
])
def test_bad_document_fields(saved, field, value, match):
    _rewrite(saved, lambda doc: doc.__setitem__(field, value))
    with pytest.raises(ModelFileError, match=match):
        load_model(saved)


def test_invalid_or_missing_settings(saved, tmp_path):
    _rewrite(saved, lambda doc: doc["model"].__setitem__("latent_dim", -1))
    with pytest.raises(ModelFileError, match=r"invalid settings.*latent_dim"):
        load_model(saved)
    _rewrite(saved, lambda doc: (doc["model"].__setitem__("latent_dim", 6), doc.pop("data")))
    with pytest.raises(ModelFileError, match=r"incomplete.*'data'"):
        load_model(saved)


def test_a_document_that_is_not_json(saved):
    tensors, meta = read_tensor_file(saved)
    write_tensor_file(saved, tensors, {**meta, "distill": "{oops"})
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(saved)


def test_missing_weights(saved):
    _rewrite(saved, edit_tensors=lambda t: t.pop("model.decoder.fc.weight"))
    with pytest.raises(ModelFileError, match=r"do not match.*missing: decoder\.fc\.weight"):
        load_model(saved)


def test_mismatched_weights(saved):
    def shrink(doc):
        doc["model"]["latent_dim"] = 5  # the stored weights are for latent_dim 6

    _rewrite(saved, shrink)
    with pytest.raises(ModelFileError, match=r"wrong shape: .*file \[6, .*model \[5, "):
        load_model(saved)


def test_unexpected_tensors(saved):
    _rewrite(saved, edit_tensors=lambda t: t.update({"stray": torch.ones(1), "model.extra.w": torch.ones(1)}))
    with pytest.raises(ModelFileError, match=r"unexpected: extra\.w, stray"):
        load_model(saved)


def test_truncated_model_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ModelFileError, match="truncated"):
        load_model(saved)


def test_save_refuses_configs_that_do_not_describe_the_model(tmp_path, model, tiny_configs, normalization):
    _, spectrogram, _ = tiny_configs
    with pytest.raises(ValueError, match="configs say"):
        save_model(tmp_path / "m.distill", model, spectrogram=spectrogram,
                   data=DataConfig(clip_frames=13, clip_hop_frames=6), normalization=normalization)
    assert not list(tmp_path.iterdir())


def test_loads_onto_the_requested_device(saved):
    loaded = load_model(saved, device="cpu")
    assert all(p.device.type == "cpu" for p in loaded.model.parameters())


def test_a_loaded_model_can_train_on(saved):
    """The arrays read from the file become the parameters (no copy): still trainable."""
    loaded = load_model(saved)
    params = list(loaded.model.parameters())
    assert params and all(p.requires_grad and not p.is_meta for p in params)
    before = [p.detach().clone() for p in params]
    loaded.model.train()
    g = loaded.model.geometry
    recon, _, _ = loaded.model(torch.rand(4, 2, g.n_mels, g.n_frames))
    recon.square().mean().backward()
    with torch.no_grad():
        for p in params:
            p -= 0.1 * p.grad
    assert all(not torch.equal(a, p) for a, p in zip(before, params, strict=True) if p.grad.any())
    # Each load reads its own memory: the step did not reach a second load.
    again = list(load_model(saved).model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, again, strict=True))


def test_decoder_only_reads_the_decoder_and_decodes_the_same(saved, model, tiny_configs):
    loaded = load_model(saved, decoder_only=True)
    assert all(p.is_meta for p in loaded.model.encoder.parameters())
    assert not any(p.is_meta for p in loaded.model.decoder.parameters())
    assert set(loaded.extra_tensors) == {"latent.mean", "latent.basis"}
    original, restored = model.decoder.state_dict(), loaded.model.decoder.state_dict()
    assert list(original) == list(restored) and all(torch.equal(original[k], restored[k]) for k in original)
    z = torch.randn(3, tiny_configs[0].latent_dim)
    with torch.no_grad():
        assert torch.equal(loaded.model.decode(z), model.decode(z))
