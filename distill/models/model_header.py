"""What a model file says about itself, read and checked without torch.

``read_model_header`` parses the safetensors header and the distill JSON document (format
and version, every config, the normalisation), then checks the geometry the document
declares against the tensor shapes the header lists. That is every check ``load_model``
makes before it allocates anything, and everything ``distill info`` prints, which is why
this module imports no torch (its import alone is ~1.3 s): ``info`` answers in a fraction
of a second, and a forged file declaring ``latent_dim`` 1e9 is refused in milliseconds.

``weight_shapes`` lists the state dict ``ConvVAE.from_config`` builds, from the one
geometry function (``conv_geometry``) and the block layout of ``distill.models.vae``
(conv, BatchNorm, LeakyReLU per block; no conv bias before a BatchNorm; a bias on the
decoder's last layer only). tests/models/test_model_header.py holds it equal to the
model's own ``state_dict()`` over many configurations, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distill import __version__
from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.normalization import NormalizationStats
from distill.constants import MODEL_FORMAT, SAMPLE_RATE, SUPPORTED_MODEL_VERSIONS
from distill.data.config import DataConfig
from distill.errors import ModelFileError
from distill.models.config import ModelConfig
from distill.models.geometry import Geometry, conv_geometry
from distill.models.safetensors_io import TensorHeader, nonfinite_tensors, read_tensor_header

WEIGHTS_PREFIX = "model."
EXTRA_PREFIX = "extra."
#: Safetensors metadata keys: the format name (readable without parsing JSON) and the document.
FORMAT_KEY = "format"
DOCUMENT_KEY = "distill"
#: Channels of the 2-channel representation (the encoder's input, the decoder's output).
SPEC_CHANNELS = 2
#: BatchNorm state: two parameters and three buffers per normalised layer.
_BN_PARAMETERS = ("weight", "bias")
_BN_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


@dataclass(frozen=True)
class ModelHeader:
    """A model file's header and document, checked (see the module docstring).

    Attributes
    ----------
    tensors
        The safetensors header (names, shapes, dtypes, byte ranges).
    model_config, spectrogram, data, normalization
        The configs and statistics stored in the file.
    geometry
        ``conv_geometry`` of those configs: the shapes the model is built with.
    training, history, extra_metadata
        The stored training settings (a mapping or None), per-epoch records and extras.
    parameters
        The model's parameter count (``ConvVAE.num_parameters``; BatchNorm buffers excluded).
    """

    path: Path
    tensors: TensorHeader
    model_config: ModelConfig
    spectrogram: ComplexSpectrogramConfig
    data: DataConfig
    normalization: NormalizationStats
    geometry: Geometry
    training: dict[str, Any] | None
    history: list[dict[str, Any]]
    extra_metadata: dict[str, Any]
    format_version: int
    created: str
    distill_version: str
    parameters: int


def read_model_header(path: str | Path) -> ModelHeader:
    """Read and check a model file's header and document; no tensor data is read.

    Raises
    ------
    ModelFileError
        Unsafe (pickle-based), foreign, truncated or corrupt file, a format version this
        distill cannot read, invalid or non-finite settings, or tensor shapes that do not
        match the model the document describes.
    """
    path = Path(path)
    header = read_tensor_header(path)
    doc = _document(path, header.metadata)
    try:
        model_config = ModelConfig.from_dict(doc["model"])
        spectrogram = ComplexSpectrogramConfig.from_dict(doc["spectrogram"])
        data = DataConfig.from_dict(doc["data"])
        normalization = NormalizationStats.from_dict(doc["normalization"])
        geometry = conv_geometry(spectrogram.n_mels, data.clip_frames, model_config.channels)
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
    expected = weight_shapes(model_config, geometry)
    _check_declared_shapes(path, header, expected)
    _check_finite_statistics(path, normalization)
    parameters = sum(math.prod(shape) for name, (shape, is_parameter) in expected.items() if is_parameter)
    return ModelHeader(path=path, tensors=header, model_config=model_config, spectrogram=spectrogram,
                       data=data, normalization=normalization, geometry=geometry, training=training,
                       history=history, extra_metadata=extra_metadata,
                       format_version=doc["format_version"], created=str(doc.get("created", "")),
                       distill_version=str(doc.get("distill_version", "")), parameters=parameters)


def weight_shapes(config: ModelConfig, geometry: Geometry) -> dict[str, tuple[tuple[int, ...], bool]]:
    """The ``ConvVAE`` state dict: key -> (shape, True for a parameter / False for a buffer).

    Parameters
    ----------
    config
        The hyper-parameters (latent size, channel progression, kernel size).
    geometry
        ``conv_geometry`` of the input shape and ``config.channels``.
    """
    k, latent, flat = config.kernel_size, config.latent_dim, geometry.flatten_size
    out: dict[str, tuple[tuple[int, ...], bool]] = {}

    def batch_norm(prefix: str, channels: int) -> None:
        out.update({f"{prefix}.{name}": ((channels,), True) for name in _BN_PARAMETERS})
        out.update({f"{prefix}.{name}": (() if name == "num_batches_tracked" else (channels,), False)
                    for name in _BN_BUFFERS})

    ins = (SPEC_CHANNELS, *config.channels[:-1])
    for n, (c_in, c_out) in enumerate(zip(ins, config.channels, strict=True)):
        out[f"encoder.blocks.{n}.0.weight"] = ((c_out, c_in, k, k), True)  # Conv2d [O, I, kh, kw]
        batch_norm(f"encoder.blocks.{n}.1", c_out)
    for head in ("fc_mu", "fc_logvar"):
        out[f"encoder.{head}.weight"] = ((latent, flat), True)
        out[f"encoder.{head}.bias"] = ((latent,), True)
    out["decoder.fc.weight"] = ((flat, latent), True)
    out["decoder.fc.bias"] = ((flat,), True)
    ups = tuple(reversed(config.channels))
    for n, (c_in, c_out) in enumerate(zip(ups, (*ups[1:], SPEC_CHANNELS), strict=True)):
        out[f"decoder.blocks.{n}.0.weight"] = ((c_in, c_out, k, k), True)  # ConvTranspose2d [I, O, kh, kw]
        if n == len(ups) - 1:
            out[f"decoder.blocks.{n}.0.bias"] = ((c_out,), True)
        else:
            batch_norm(f"decoder.blocks.{n}.1", c_out)
    return out


def check_finite_tensors(path: Path, header: TensorHeader, arrays: Mapping[str, np.ndarray]) -> None:
    """Refuse weights (or stored analysis tensors) holding NaN or infinity: such a model
    renders silence or noise, and saying so beats a silent file."""
    bad = nonfinite_tensors(header, arrays)
    if bad:
        what = "weights" if any(n.startswith(WEIGHTS_PREFIX) for n in bad) else "latent statistics"
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise ModelFileError(path, f"the file is damaged: its {what} hold NaN or infinite values "
                                   f"({', '.join(bad[:3])}{more}); it cannot make sound. Use an "
                                   "earlier model or a checkpoint")


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


def _check_declared_shapes(path: Path, header: TensorHeader,
                           expected: Mapping[str, tuple[tuple[int, ...], bool]]) -> None:
    """Explain, in one message, how the stored weights differ from the model the document
    describes (nothing is allocated, however large the declared sizes)."""
    weights = {k[len(WEIGHTS_PREFIX):]: v for k, v in header.shapes.items() if k.startswith(WEIGHTS_PREFIX)}
    unknown = [k for k in header.shapes if not k.startswith((WEIGHTS_PREFIX, EXTRA_PREFIX))]
    problems = []
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected)) + sorted(unknown)
    wrong = [f"{k} (file {list(weights[k])}, model {list(shape)})"
             for k, (shape, _) in expected.items() if k in weights and weights[k] != shape]
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
