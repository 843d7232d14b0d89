"""Nested training state (optimizer and scheduler state dicts, RNG states) as tensors + JSON.

Checkpoints must never be pickles, so a state dict is split in two: every tensor (and
numpy array) goes to the safetensors file under a generated name, and the structure
around them becomes JSON in which each tensor is a reference. Containers JSON cannot
express are tagged so they come back as they were: tuples (Adam's ``betas``), dicts with
non-string keys (the optimizer's per-parameter state is keyed by int) and numpy arrays
(numpy's generator state).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

TENSOR_TAG = "__tensor__"
ARRAY_TAG = "__ndarray__"
TUPLE_TAG = "__tuple__"
ITEMS_TAG = "__items__"


def encode_state(state: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-ready copy of ``state`` whose tensors/arrays are moved into ``tensors``.

    Parameters
    ----------
    state
        Nested dicts, lists, tuples, tensors, numpy arrays and JSON scalars.
    prefix
        Prefix of the generated tensor names (``"<prefix>.<n>"``), unique per call.
    tensors
        Receives name -> tensor (CPU); names already there are not reused.
    """
    counter = [0]

    def walk(value: Any) -> Any:
        if isinstance(value, (torch.Tensor, np.ndarray)):
            name = f"{prefix}.{counter[0]}"
            counter[0] += 1
            if name in tensors:
                raise ValueError(f"tensor name {name!r} is already used")
            if isinstance(value, np.ndarray):
                tensors[name] = torch.from_numpy(np.ascontiguousarray(value))
                return {ARRAY_TAG: name}
            tensors[name] = value.detach().cpu()
            return {TENSOR_TAG: name}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {k: walk(v) for k, v in value.items()}
            return {ITEMS_TAG: [[k, walk(v)] for k, v in value.items()]}
        if isinstance(value, tuple):
            return {TUPLE_TAG: [walk(v) for v in value]}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, (np.generic,)):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot store a {type(value).__name__} in a checkpoint")

    return walk(state)


def decode_state(document: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of ``encode_state``: the nested structure with its tensors put back."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (tag, inner), = value.items()
                if tag == TENSOR_TAG:
                    return _lookup(tensors, inner)
                if tag == ARRAY_TAG:
                    return _lookup(tensors, inner).numpy()
                if tag == TUPLE_TAG:
                    return tuple(walk(v) for v in inner)
                if tag == ITEMS_TAG:
                    return {_key(k): walk(v) for k, v in inner}
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(document)


def _lookup(tensors: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    try:
        return tensors[name]
    except KeyError:
        raise ValueError(f"the checkpoint refers to a tensor {name!r} it does not hold") from None


def _key(key: Any) -> Any:
    """Keys come back from JSON as they went in (ints stay ints); lists were tuples."""
    return tuple(key) if isinstance(key, list) else key
