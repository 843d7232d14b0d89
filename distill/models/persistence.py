"""Model files (``.distill``): one self-describing safetensors file per trained model.

Layout: tensors ``model.<state-dict key>`` (the weights) and ``extra.<name>`` (anything
else the caller stores, e.g. the latent analysis' PCA basis); the safetensors metadata
holds ``format`` = ``MODEL_FORMAT`` and ``distill`` = one JSON document::

    {"format": "distill-model", "format_version": 1, "created": "...", "distill_version": "...",
     "sample_rate": 48000, "model": {ModelConfig}, "spectrogram": {ComplexSpectrogramConfig},
     "data": {DataConfig}, "normalization": {NormalizationStats}, "training": {...} | null,
     "history": [{...}, ...], "extra_metadata": {...}}

``load_model`` reads the header first and checks the geometry the document declares
against the shapes the header lists, on a model built on the ``meta`` device (shapes
only, no memory): a forged file declaring ``latent_dim`` 1e9 is refused in milliseconds
instead of asking for terabytes. Only then does it rebuild the model from the stored
hyper-parameters (``ConvVAE.from_config``), load the weights strictly and refuse
non-finite weights or statistics (a NaN model would render digital silence without a
word); nothing is ever unpickled. The
training settings are stored and returned as a plain mapping: rebuilding and rendering do
not need them, and this layer does not import ``distill.training``
(``TrainingConfig.from_dict(loaded.training)`` reads them back).
"""

from __future__ import annotations

import json
import logging
import math
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
from distill.constants import MODEL_FORMAT, MODEL_FORMAT_VERSION, SAMPLE_RATE, SUPPORTED_MODEL_VERSIONS
from distill.data.config import DataConfig
from distill.errors import ModelFileError
from distill.models.config import ModelConfig
from distill.models.safetensors_io import (
    TensorHeader,
    read_tensor_file,
    read_tensor_header,
    write_tensor_file,
)
from distill.models.vae import ConvVAE

log = logging.getLogger(__name__)

WEIGHTS_PREFIX = "model."
EXTRA_PREFIX = "extra."
#: Safetensors metadata keys: the format name (readable without parsing JSON) and the document.
FORMAT_KEY = "format"
DOCUMENT_KEY = "distill"


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


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Read a model file and rebuild its model.

    Parameters
    ----------
    path
        A file written by ``save_model``.
    device
        Where the model and the extra tensors go.

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
    header = read_tensor_header(path)
    doc = _document(path, header.metadata)
    try:
        model_config = ModelConfig.from_dict(doc["model"])
        spectrogram = ComplexSpectrogramConfig.from_dict(doc["spectrogram"])
        data = DataConfig.from_dict(doc["data"])
        normalization = NormalizationStats.from_dict(doc["normalization"])
    except KeyError as exc:
        raise ModelFileError(path, f"the file is incomplete (no {exc.args[0]!r} settings)") from None
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"the file holds invalid settings ({exc})") from None
    history, extra_metadata = doc.get("history") or [], doc.get("extra_metadata") or {}
    training = doc.get("training")
    if training is not None and not isinstance(training, dict):
        raise ModelFileError(path, "the file is corrupt (its training settings are not a map)")
    if not isinstance(history, list) or not all(isinstance(h, dict) for h in history):
        raise ModelFileError(path, "the file is corrupt (its training history is not a list of records)")
    if not isinstance(extra_metadata, dict):
        raise ModelFileError(path, "the file is corrupt (extra metadata is not a map)")

    _check_declared_shapes(path, header, model_config, spectrogram, data)
    _check_finite_statistics(path, normalization)
    tensors, _ = read_tensor_file(path)
    model = ConvVAE.from_config(model_config, spectrogram, data)
    weights = {k[len(WEIGHTS_PREFIX):]: v for k, v in tensors.items() if k.startswith(WEIGHTS_PREFIX)}
    _check_finite_tensors(path, tensors)
    model.load_state_dict(weights, strict=True)
    model.to(device).eval()
    extra = {k[len(EXTRA_PREFIX):]: v.to(device) for k, v in tensors.items() if k.startswith(EXTRA_PREFIX)}
    return LoadedModel(model=model, model_config=model_config, spectrogram=spectrogram, data=data,
                       normalization=normalization, training=training, history=history,
                       extra_tensors=extra, extra_metadata=extra_metadata,
                       format_version=doc["format_version"], created=str(doc.get("created", "")),
                       distill_version=str(doc.get("distill_version", "")), path=path)


def _json_scalar(value: Any) -> Any:
    """numpy scalars and 0-d tensors (typical in loss histories) as plain numbers."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _document(path: Path, metadata: Mapping[str, str]) -> dict[str, Any]:
    """The JSON document of a model file, its format and version checked."""
    if metadata.get(FORMAT_KEY) != MODEL_FORMAT or DOCUMENT_KEY not in metadata:
        raise ModelFileError(path, "not a distill model file (a safetensors file without distill "
                                   "metadata: weights alone cannot be used)")
    try:
        doc = json.loads(metadata[DOCUMENT_KEY])
    except json.JSONDecodeError:
        raise ModelFileError(path, "the file is corrupt (its distill metadata is not valid JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        raise ModelFileError(path, "the file is corrupt (its distill metadata has no format name)")
    version = doc.get("format_version")
    supported = ", ".join(str(v) for v in SUPPORTED_MODEL_VERSIONS)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(path, f"the file is corrupt (format version {version!r})")
    if version > max(SUPPORTED_MODEL_VERSIONS):
        raise ModelFileError(path, f"made by a newer distill ({doc.get('distill_version', '?')}, model "
                                   f"format version {version}); this distill ({__version__}) supports "
                                   f"versions {supported}. Update distill to open it")
    if version not in SUPPORTED_MODEL_VERSIONS:
        raise ModelFileError(path, f"model format version {version} is no longer supported "
                                   f"(this distill supports versions {supported})")
    sample_rate = doc.get("sample_rate", SAMPLE_RATE)
    if sample_rate != SAMPLE_RATE:
        raise ModelFileError(path, f"the model was trained at {sample_rate} Hz; this distill works at "
                                   f"{SAMPLE_RATE} Hz")
    return doc


def _check_declared_shapes(path: Path, header: TensorHeader, model_config: ModelConfig,
                           spectrogram: ComplexSpectrogramConfig, data: DataConfig) -> None:
    """Explain, in one message, how the stored weights differ from the model the document
    describes. The model is built on the ``meta`` device: its shapes come from the one
    geometry function, and nothing is allocated however large the declared sizes."""
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in
                        ConvVAE.from_config(model_config, spectrogram, data).state_dict().items()}
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(path, f"the file holds invalid settings ({exc})") from None
    weights = {k[len(WEIGHTS_PREFIX):]: v for k, v in header.shapes.items() if k.startswith(WEIGHTS_PREFIX)}
    unknown = [k for k in header.shapes if not k.startswith((WEIGHTS_PREFIX, EXTRA_PREFIX))]
    problems = []
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected)) + sorted(unknown)
    wrong = [f"{k} (file {list(weights[k])}, model {list(v)})"
             for k, v in expected.items() if k in weights and weights[k] != v]
    for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if names:
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            problems.append(f"{label}: {', '.join(names[:3])}{more}")
    if problems:
        raise ModelFileError(path, "the weights do not match the model the file describes ("
                                   + "; ".join(problems) + ")")


def _check_finite_statistics(path: Path, normalization: NormalizationStats) -> None:
    """Refuse NaN or infinite normalisation scales (they turn every render into NaN)."""
    bad = [f"{k}={v}" for k, v in normalization.to_dict().items()
           if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise ModelFileError(path, f"the file is damaged: its normalisation statistics are not "
                                   f"finite ({', '.join(bad)})")


def _check_finite_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> None:
    """Refuse weights (or stored analysis tensors) holding NaN or infinity: such a model
    renders silence or noise, and saying so beats a silent file."""
    bad = [name for name, t in tensors.items()
           if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        what = "weights" if any(n.startswith(WEIGHTS_PREFIX) for n in bad) else "latent statistics"
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ModelFileError(path, f"the file is damaged: its {what} hold NaN or infinite values "
                                   f"({', '.join(bad[:3])}{more}); it cannot make sound. Use an "
                                   "earlier model or a checkpoint")
