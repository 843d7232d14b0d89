"""The torch-free model-file header (``distill.models.model_header``): its state-dict
layout is the model's own, and reading a file through it never imports torch."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from distill.audio.config import ComplexSpectrogramConfig
from distill.data.config import DataConfig
from distill.models import ConvVAE, load_model, read_tensor_file, write_tensor_file
from distill.models.config import ModelConfig
from distill.models.geometry import conv_geometry
from distill.models.model_header import read_model_header, weight_shapes
from distill.models.safetensors_io import read_tensor_arrays

STORED_MODEL = Path(__file__).parent / "data" / "model_v1.distill"
REPO = Path(__file__).parents[2]


@pytest.mark.parametrize(("latent", "channels", "kernel", "n_mels", "frames"), [
    (128, (64, 128, 256, 512, 1024), 3, 128, 94),  # the spec's model
    (6, (4, 8, 8), 3, 16, 12),
    (8, (4,), 2, 5, 3),
    (3, (2, 4, 6, 8, 10, 12), 5, 33, 70),
    (16, (8, 8), 4, 64, 2),
    (1, (3, 5, 7, 9), 7, 17, 200),
])
def test_weight_shapes_are_the_models_state_dict(latent, channels, kernel, n_mels, frames):
    config = ModelConfig(latent_dim=latent, channels=channels, kernel_size=kernel)
    spectrogram = ComplexSpectrogramConfig(n_mels=n_mels)
    data = DataConfig(clip_frames=frames, clip_hop_frames=1)
    with torch.device("meta"):
        model = ConvVAE.from_config(config, spectrogram, data)
    parameters = {name for name, _ in model.named_parameters()}
    expected = {name: (tuple(t.shape), name in parameters) for name, t in model.state_dict().items()}
    assert weight_shapes(config, conv_geometry(n_mels, frames, channels)) == expected


def test_the_header_describes_the_stored_model():
    head = read_model_header(STORED_MODEL)
    loaded = load_model(STORED_MODEL)
    assert head.parameters == loaded.model.num_parameters() == 4522
    assert head.geometry == loaded.model.geometry
    assert (head.model_config, head.spectrogram, head.data) == (
        loaded.model_config, loaded.spectrogram, loaded.data)
    assert head.history == loaded.history and head.training == loaded.training


def test_info_on_a_model_file_never_imports_torch():
    probe = ("import sys\nfrom distill.cli import main\n"
             f"code = main(['info', {str(STORED_MODEL)!r}])\n"
             "print(code, 'torch' in sys.modules, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=REPO)
    assert "parameters    4,522" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "0 False False"


def test_arrays_are_the_tensors_and_a_subset_reads_only_those(tmp_path):
    tensors = {"a": torch.arange(7, dtype=torch.float32), "b": torch.tensor([1, 2, 3], dtype=torch.int64),
               "c": torch.randn(3, 5, dtype=torch.float64), "h": torch.randn(3).to(torch.bfloat16),
               "s": torch.tensor(2.5), "e": torch.zeros(0, 4)}
    path = write_tensor_file(tmp_path / "t.safetensors", tensors, {})
    whole, _ = read_tensor_file(path)
    for name, t in tensors.items():
        assert whole[name].dtype == t.dtype and torch.equal(whole[name], t)
    some = read_tensor_arrays(path, names=["c", "a", "h"])
    assert list(some) == ["c", "a", "h"]
    assert np.array_equal(some["a"], tensors["a"].numpy()) and np.array_equal(some["c"], tensors["c"].numpy())
    assert np.array_equal(some["h"], tensors["h"].view(torch.int16).numpy().view(np.uint16))
    assert all(a.flags.aligned for a in some.values())


@pytest.mark.parametrize("package", ["distill.models", "distill.data"])
def test_lazy_package_exports_resolve(package):
    """The packages import their names on first use: each one listed resolves to its module's."""
    module = importlib.import_module(package)
    assert sorted(module._EXPORTS) == sorted(module.__all__)
    for name, where in module._EXPORTS.items():
        assert getattr(module, name) is getattr(importlib.import_module(f"{package}.{where}"), name)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        module.nonexistent  # noqa: B018
