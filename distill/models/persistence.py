"""Model files (``.distill``): one self-describing safetensors file per trained model.

Layout: tensors ``model.<state-dict key>`` (the weights) and ``extra.<name>`` (anything
else the caller stores, e.g. the latent analysis' PCA basis); the safetensors metadata
holds ``format`` = ``MODEL_FORMAT`` and ``distill`` = one JSON document::

    {"format": "distill-model", "format_version": 1, "created": "...", "distill_version": "...",
     "sample_rate": 48000, "model": {ModelConfig}, "spectrogram": {ComplexSpectrogramConfig},
     "data": {DataConfig}, "normalization": {NormalizationStats}, "training": {...} | null,
     "history": [{...}, ...], "extra_metadata": {...}}

``load_model`` reads and checks the header first (``distill.models.model_header``, no
torch): the geometry the document declares is checked against the shapes the header
lists, so a forged file declaring ``latent_dim`` 1e9 is refused in milliseconds instead
of asking for terabytes. Only then does it read the data (straight into each tensor's
memory), refuse non-finite weights or statistics (a NaN model would
render digital silence without a word), and rebuild the model from the stored
hyper-parameters (``ConvVAE.from_config``) on the ``meta`` device, taking the file's
tensors as its weights: no random initialisation of 17 M parameters that the file then
overwrites, and no second copy. Nothing is ever unpickled. The training settings are
stored and returned as a plain mapping: rebuilding and rendering do not need them, and
this layer does not import ``distill.training``
(``TrainingConfig.from_dict(loaded.training)`` reads them back).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from distill import __version__
from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.normalization import NormalizationStats
from distill.config_base import ConfigBase
from distill.constants import MODEL_FORMAT, MODEL_FORMAT_VERSION, SAMPLE_RATE
from distill.data.config import DataConfig
from distill.errors import ModelFileError
from distill.models.config import ModelConfig
from distill.models.model_header import (
    DOCUMENT_KEY,
    EXTRA_PREFIX,
    FORMAT_KEY,
    WEIGHTS_PREFIX,
    check_finite_tensors,
    read_model_header,
)
from distill.models.safetensors_io import read_tensor_arrays, write_tensor_file
from distill.models.vae import ConvVAE

log = logging.getLogger(__name__)

__all__ = ["DOCUMENT_KEY", "EXTRA_PREFIX", "FORMAT_KEY", "WEIGHTS_PREFIX", "LoadedModel", "load_model",
           "save_model"]


@dataclass
class LoadedModel:
    """Everything a model file holds. ``model`` is in eval mode on the requested device.

    ``training`` is the run's ``TrainingConfig`` as stored (its ``to_dict()``), or None.
    """

    model: ConvVAE
    model_config: ModelConfig
    spectrogram: ComplexSpectrogramConfig
    data: DataConfig
    normalization: NormalizationStats
    training: dict[str, Any] | None
    history: list[dict[str, Any]]
    extra_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    extra_metadata: dict[str, Any] = field(default_factory=dict)
    format_version: int = MODEL_FORMAT_VERSION
    created: str = ""
    distill_version: str = ""
    path: Path | None = None


def save_model(path: str | Path, model: ConvVAE, *, spectrogram: ComplexSpectrogramConfig,
               data: DataConfig, normalization: NormalizationStats,
               training: ConfigBase | None = None,
               history: Sequence[Mapping[str, Any]] | None = None,
               extra_tensors: Mapping[str, torch.Tensor] | None = None,
               extra_metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a model file atomically (temporary file, fsync, rename).

    Parameters
    ----------
    path
        Destination, conventionally with the ``MODEL_SUFFIX`` extension.
    model
        The VAE; its geometry must match ``spectrogram.n_mels`` and ``data.clip_frames``.
    spectrogram, data, normalization
        The configs and statistics the model was trained with (all stored).
    training
        The run's ``TrainingConfig`` (stored as a mapping), or None.
    history
        Per-epoch records (JSON-serialisable mappings), e.g. the epoch losses.
    extra_tensors
        Name -> tensor, stored under ``extra.<name>`` (e.g. the latent analysis).
    extra_metadata
        JSON-serialisable mapping stored beside the configs (e.g. ``{"latent": {...}}``).

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    if model.geometry.input_shape != (spectrogram.n_mels, data.clip_frames):
        raise ValueError(f"the model takes {list(model.geometry.input_shape)} spectrograms but the "
                         f"configs say {[spectrogram.n_mels, data.clip_frames]}")
    document = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "distill_version": __version__,
        "sample_rate": SAMPLE_RATE,
        "model": model.config.to_dict(),
        "spectrogram": spectrogram.to_dict(),
        "data": data.to_dict(),
        "normalization": normalization.to_dict(),
        "training": None if training is None else training.to_dict(),
        "history": [dict(h) for h in history or ()],
        "extra_metadata": dict(extra_metadata or {}),
    }
    tensors = {WEIGHTS_PREFIX + k: v for k, v in model.state_dict().items()}
    tensors.update({EXTRA_PREFIX + k: v for k, v in (extra_tensors or {}).items()})
    metadata = {FORMAT_KEY: MODEL_FORMAT, DOCUMENT_KEY: json.dumps(document, default=_json_scalar)}
    write_tensor_file(path, tensors, metadata)
    log.info("saved model %s (%d tensors)", path, len(tensors))
    return path


def load_model(path: str | Path, device: str | torch.device = "cpu", *,
               decoder_only: bool = False) -> LoadedModel:
    """Read a model file and rebuild its model.

    Parameters
    ----------
    path
        A file written by ``save_model``.
    device
        Where the model and the extra tensors go.
    decoder_only
        Read the decoder's weights (and the extras) only, for a process that renders and
        never encodes (``distill generate``): the encoder, about half the file, stays
        on the ``meta`` device (shapes, no memory) and cannot run.

    Returns
    -------
    LoadedModel
        The model (eval mode), its configs, normalisation, history and extras.

    Raises
    ------
    ModelFileError
        Unsafe (pickle-based), foreign, truncated or corrupt file, a format version this
        distill cannot read, or weights that do not match the stored hyper-parameters.
    """
    path = Path(path)
    head = read_model_header(path)
    skipped = WEIGHTS_PREFIX + "encoder."
    names = [n for n in head.tensors.shapes if not n.startswith(skipped)] if decoder_only else None
    arrays = read_tensor_arrays(path, head.tensors, names)
    check_finite_tensors(path, head.tensors, arrays)
    tensors = {name: torch.from_numpy(array) for name, array in arrays.items()}
    with torch.device("meta"):  # shapes only: the weights come from the file
        model = ConvVAE.from_config(head.model_config, head.spectrogram, head.data)
    part, prefix = (model.decoder, WEIGHTS_PREFIX + "decoder.") if decoder_only else (model, WEIGHTS_PREFIX)
    weights = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        part.load_state_dict(weights, strict=True, assign=True)
    except RuntimeError as exc:  # dtypes the header check does not cover
        raise ModelFileError(path, f"the weights do not match the model the file describes ({exc})") from None
    part.to(device)
    model.eval()
    extra = {k[len(EXTRA_PREFIX):]: v.to(device) for k, v in tensors.items() if k.startswith(EXTRA_PREFIX)}
    return LoadedModel(model=model, model_config=head.model_config, spectrogram=head.spectrogram,
                       data=head.data, normalization=head.normalization, training=head.training,
                       history=head.history, extra_tensors=extra, extra_metadata=head.extra_metadata,
                       format_version=head.format_version, created=head.created,
                       distill_version=head.distill_version, path=path)


def _json_scalar(value: Any) -> Any:
    """numpy scalars and 0-d tensors (typical in loss histories) as plain numbers."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
