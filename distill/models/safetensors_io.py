"""Safe tensor files: safetensors written atomically, read with checks and clear messages.

Model files and training checkpoints are both safetensors files: an 8-byte little-endian
header length, a JSON header (tensor names, dtypes, shapes, offsets, plus a string ->
string ``__metadata__`` map), then raw tensor bytes. Reading one never unpickles
anything, so a file from the internet cannot run code. Before handing a file to the
safetensors library, ``read_tensor_file`` recognises what it is, so the user reads
"this is a pickle-based PyTorch checkpoint, refused for safety" or "the file is
truncated" instead of a parser error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from distill.errors import ModelFileError
from distill.fileio import write_atomically

#: Largest JSON header accepted (the safetensors library's own limit).
MAX_HEADER_BYTES = 100_000_000
#: Key of the header's metadata map in the safetensors format.
METADATA_KEY = "__metadata__"

#: Bytes per element of each safetensors dtype (the sizes a header's offsets must match).
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}

_PICKLE_REASON = (
    "this is a pickle-based PyTorch file ({kind}); loading it could run arbitrary code, so "
    "distill refuses it for safety. Only distill model files (safetensors) can be opened")
# Magic numbers of files people drop on us by mistake, to say what they are.
_FOREIGN_MAGIC = {
    b"RIFF": "a WAV/RIFF audio file", b"fLaC": "a FLAC audio file", b"OggS": "an Ogg audio file",
    b"ID3": "an MP3 audio file", b"FORM": "an AIFF audio file", b"\x89HDF": "an HDF5 file",
}


@dataclass(frozen=True)
class TensorHeader:
    """What a safetensors header declares, read without touching the tensor data.

    Attributes
    ----------
    shapes
        Tensor name -> shape, as the header lists them (each checked against its byte size).
    dtypes
        Tensor name -> safetensors dtype name (``"F32"``, ...).
    metadata
        The header's string -> string metadata (empty when it has none).
    """

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    metadata: dict[str, str]


def write_tensor_file(path: str | Path, tensors: Mapping[str, torch.Tensor],
                      metadata: Mapping[str, str]) -> Path:
    """Write ``tensors`` and string ``metadata`` as one safetensors file, atomically.

    Parameters
    ----------
    path
        Destination; a temporary file beside it is fsynced and renamed over it, so the
        final name never holds a half-written file.
    tensors
        Name -> tensor (any device; copied to the CPU, made contiguous).
    metadata
        Name -> string, stored in the header's ``__metadata__`` map.

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"metadata must map str to str, got {key!r}: {type(value).__name__}")
    # clone(): safetensors refuses tensors that share storage (views of one buffer).
    prepared = {str(name): t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    data = safetensors_bytes(prepared, metadata=dict(metadata))
    write_atomically(path, lambda f: f.write(data))
    return path


def read_tensor_file(path: str | Path, device: str | torch.device = "cpu"
                     ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file written by ``write_tensor_file`` (or any safetensors file).

    Parameters
    ----------
    path
        The file.
    device
        Where the tensors are placed.

    Returns
    -------
    tensors, metadata
        Name -> tensor, and the header's string metadata (empty when it has none).

    Raises
    ------
    ModelFileError
        Missing, empty, pickle-based (refused unread), foreign, truncated or corrupt file.
    """
    path = Path(path)
    header = read_tensor_header(path)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            tensors = {name: f.get_tensor(name) for name in header.shapes}
    except Exception as exc:  # safetensors raises SafetensorError/OSError/RuntimeError
        raise ModelFileError(path, f"the tensor data cannot be read ({exc})") from None
    return tensors, header.metadata


def read_tensor_header(path: str | Path) -> TensorHeader:
    """The names, shapes and dtypes of a file's tensors and its metadata; no data is read.

    Cheap (the header only), so a caller can check what a file declares against what
    it expects before allocating anything for it.

    Raises
    ------
    ModelFileError
        As ``read_tensor_file``, and when a tensor's shape and byte range disagree.
    """
    path = Path(path)
    header, _ = _read_header(path)
    metadata = header.pop(METADATA_KEY, None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ModelFileError(path, "the file is corrupt (its metadata is not a map of strings)")
    return TensorHeader(shapes={name: tuple(entry["shape"]) for name, entry in header.items()},
                        dtypes={name: entry["dtype"] for name, entry in header.items()},
                        metadata=dict(metadata))


def looks_like_tensor_file(path: str | Path) -> bool:
    """Whether ``path`` starts like a safetensors file (cheap: reads 9 bytes, never raises)."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < MAX_HEADER_BYTES


def _read_header(path: Path) -> tuple[dict, int]:
    """The parsed JSON header and the data size it announces; checks the file's size against it."""
    if not path.exists():
        raise ModelFileError(path, "file not found")
    if not path.is_file():
        raise ModelFileError(path, "not a file")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(path, "the file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(9)
        _refuse_known_formats(path, head)
        if len(head) < 9:
            raise ModelFileError(path, f"not a distill model file (only {size} bytes)")
        n = int.from_bytes(head[:8], "little")
        if head[8:9] != b"{" or n > MAX_HEADER_BYTES or n < 2:
            raise ModelFileError(path, "not a distill model file (unrecognised content)")
        if 8 + n > size:
            raise ModelFileError(path, f"the file is truncated ({size} bytes, its header alone "
                                       f"needs {8 + n}); it was probably not copied completely")
        f.seek(8)
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(path, "not a distill model file (its header is not valid JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, "not a distill model file (unexpected header)")
    data_size = _data_size(path, header)
    expected = 8 + n + data_size
    if size < expected:
        raise ModelFileError(path, f"the file is truncated ({size} of {expected} bytes); it was "
                                   "probably not copied or saved completely")
    if size > expected:
        raise ModelFileError(path, f"the file is corrupt ({size - expected} unexpected bytes at the end)")
    return header, data_size


def _data_size(path: Path, header: dict) -> int:
    end = 0
    for name, entry in header.items():
        if name == METADATA_KEY:
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and o >= 0 for o in offsets) or offsets[0] > offsets[1]):
            raise ModelFileError(path, f"the file is corrupt (bad entry for tensor {name!r})")
        shape, dtype = entry.get("shape"), entry.get("dtype")
        if (dtype not in DTYPE_SIZES or not isinstance(shape, list)
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
                or math.prod(shape) * DTYPE_SIZES[dtype] != offsets[1] - offsets[0]):
            raise ModelFileError(path, f"the file is corrupt (tensor {name!r}: its shape, dtype and "
                                       "size disagree)")
        end = max(end, offsets[1])
    return end


def _refuse_known_formats(path: Path, head: bytes) -> None:
    if head.startswith(b"PK\x03\x04"):
        raise ModelFileError(path, _PICKLE_REASON.format(kind="a zip archive of pickles, as "
                                                              "written by torch.save"))
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        raise ModelFileError(path, _PICKLE_REASON.format(kind=f"pickle protocol {head[1]}"))
    for magic, what in _FOREIGN_MAGIC.items():
        if head.startswith(magic) and not (len(head) >= 9 and head[8:9] == b"{"):
            raise ModelFileError(path, f"not a distill model file (this looks like {what})")
