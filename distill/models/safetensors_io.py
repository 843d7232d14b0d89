"""Safe tensor files: safetensors written atomically, read with checks and clear messages.

Model files and training checkpoints are both safetensors files: an 8-byte little-endian
header length, a JSON header (tensor names, dtypes, shapes, offsets, plus a string ->
string ``__metadata__`` map), then raw tensor bytes. Reading one never unpickles
anything, so a file from the internet cannot run code. Before handing a file to the
safetensors library, ``read_tensor_file`` recognises what it is, so the user reads
"this is a pickle-based PyTorch checkpoint, refused for safety" or "the file is
truncated" instead of a parser error.

Reading needs no torch: the header is JSON and the data are little-endian arrays, read
with numpy straight into each tensor's memory (``read_tensor_arrays``: no copy, no memory
map whose pages would count twice in the resident size). ``distill info`` uses this path and
so never imports torch (~1.3 s); torch and the safetensors library are imported only by
the two functions that make or write tensors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from distill.errors import ModelFileError
from distill.fileio import write_atomically, write_in_chunks

if TYPE_CHECKING:
    import torch

#: Largest JSON header accepted (the safetensors library's own limit).
MAX_HEADER_BYTES = 100_000_000
#: Key of the header's metadata map in the safetensors format.
METADATA_KEY = "__metadata__"

#: Bytes per element of each safetensors dtype (the sizes a header's offsets must match).
DTYPE_SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
               "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
#: numpy dtype of each safetensors dtype (little-endian). numpy has no bfloat16 or float8:
#: those arrive as their raw bits (uint16 / uint8) and ``read_tensor_file`` reinterprets them.
NUMPY_DTYPES = {"BOOL": "?", "U8": "u1", "I8": "i1", "F8_E5M2": "u1", "F8_E4M3": "u1", "I16": "<i2",
                "U16": "<u2", "F16": "<f2", "BF16": "<u2", "I32": "<i4", "U32": "<u4", "F32": "<f4",
                "I64": "<i8", "U64": "<u8", "F64": "<f8"}

#: torch dtypes of the safetensors dtypes numpy reads as raw bits.
_TORCH_BITS = {"BF16": "bfloat16", "F8_E5M2": "float8_e5m2", "F8_E4M3": "float8_e4m3fn"}

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
    offsets
        Tensor name -> ``(start, end)`` byte range in the data section (checked to tile it).
    data_start, data_size
        Where the data section starts in the file, and its length in bytes.
    """

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    metadata: dict[str, str]
    offsets: dict[str, tuple[int, int]] = field(default_factory=dict)
    data_start: int = 0
    data_size: int = 0


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
    from safetensors.torch import save as safetensors_bytes  # torch: only when writing

    path = Path(path)
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"metadata must map str to str, got {key!r}: {type(value).__name__}")
    # clone(): safetensors refuses tensors that share storage (views of one buffer).
    prepared = {str(name): t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    data = safetensors_bytes(prepared, metadata=dict(metadata))
    write_atomically(path, lambda f: write_in_chunks(f, data))
    return path


def read_tensor_file(path: str | Path, device: str | torch.device = "cpu"
                     ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file written by ``write_tensor_file`` (or any safetensors file).

    Parameters
    ----------
    path
        The file.
    device
        Where the tensors are placed (on the CPU: the arrays read, never copied).

    Returns
    -------
    tensors, metadata
        Name -> tensor, and the header's string metadata (empty when it has none).

    Raises
    ------
    ModelFileError
        Missing, empty, pickle-based (refused unread), foreign, truncated or corrupt file.
    """
    import torch  # only here: reading headers and arrays needs no torch

    header = read_tensor_header(path)
    arrays = read_tensor_arrays(path, header)
    tensors = {}
    for name, array in arrays.items():
        tensor = torch.from_numpy(array)
        if header.dtypes[name] in _TORCH_BITS:
            tensor = tensor.view(getattr(torch, _TORCH_BITS[header.dtypes[name]]))
        tensors[name] = tensor.to(device)
    return tensors, header.metadata


def read_tensor_arrays(path: str | Path, header: TensorHeader | None = None,
                       names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The file's tensors as numpy arrays (``NUMPY_DTYPES``), read straight into place; no torch.

    Each tensor gets its own buffer (aligned, read once, never copied), so dropping one
    frees its memory: a caller keeping a few tensors of a checkpoint does not hold the rest.

    Parameters
    ----------
    path
        The file.
    header
        Its ``read_tensor_header`` when the caller already has it (saves parsing it twice).
    names
        Only these tensors (e.g. a decoder without its encoder): only their bytes are
        read. Default: all, in file order.

    Raises
    ------
    ModelFileError
        As ``read_tensor_header``, and when the file shrank since its header was read.
    """
    path = Path(path)
    header = header or read_tensor_header(path)
    chosen = sorted(header.offsets, key=lambda n: header.offsets[n]) if names is None else list(names)
    arrays = {}
    try:
        with open(path, "rb") as f:
            for name in chosen:
                start, end = header.offsets[name]
                raw = np.empty(end - start, dtype=np.uint8)
                f.seek(header.data_start + start)
                if f.readinto(memoryview(raw)) != end - start:
                    raise ModelFileError(path, "the file is truncated (it shrank while it was read)")
                arrays[name] = raw.view(NUMPY_DTYPES[header.dtypes[name]]).reshape(header.shapes[name])
    except OSError as exc:
        raise ModelFileError(path, f"the tensor data cannot be read ({exc})") from None
    return arrays


def nonfinite_tensors(header: TensorHeader, arrays: Mapping[str, np.ndarray]) -> list[str]:
    """Names of the floating-point tensors holding NaN or infinity (in file order)."""
    bad = []
    for name, array in arrays.items():
        dtype = header.dtypes[name]
        if dtype in ("F16", "F32", "F64"):
            finite = bool(np.isfinite(array).all())
        elif dtype == "BF16":  # the raw bits: exponent all ones = inf or NaN
            finite = not bool(((array & 0x7F80) == 0x7F80).any())
        else:
            continue
        if not finite:
            bad.append(name)
    return bad


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
    header, data_start, data_size = _read_header(path)
    metadata = header.pop(METADATA_KEY, None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ModelFileError(path, "the file is corrupt (its metadata is not a map of strings)")
    return TensorHeader(shapes={name: tuple(entry["shape"]) for name, entry in header.items()},
                        dtypes={name: entry["dtype"] for name, entry in header.items()},
                        metadata=dict(metadata),
                        offsets={name: tuple(entry["data_offsets"]) for name, entry in header.items()},
                        data_start=data_start, data_size=data_size)


def looks_like_tensor_file(path: str | Path) -> bool:
    """Whether ``path`` starts like a safetensors file (cheap: reads 9 bytes, never raises)."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < MAX_HEADER_BYTES


def _read_header(path: Path) -> tuple[dict, int, int]:
    """The parsed JSON header, where its data section starts and the size it announces;
    checks the file's size against it."""
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
    return header, 8 + n, data_size


def _data_size(path: Path, header: dict) -> int:
    """Bytes of the data section; every entry checked, and the byte ranges must tile it
    (the safetensors rule: no gaps, no overlaps, so no two tensors share bytes)."""
    ranges = []
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
        ranges.append((offsets[0], offsets[1], name))
    end = 0
    for start, stop, name in sorted(ranges):
        if start != end:
            raise ModelFileError(path, f"the file is corrupt (tensor {name!r} "
                                       f"{'overlaps another' if start < end else 'leaves a gap'})")
        end = stop
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
