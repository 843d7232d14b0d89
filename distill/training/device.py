"""Where training runs (CUDA, then MPS, then CPU) and the random state that makes it repeatable."""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np
import torch

from distill.errors import TrainingError

log = logging.getLogger(__name__)


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def select_device(name: str = "auto") -> torch.device:
    """``"auto"``: the first CUDA GPU, else Apple's MPS, else the CPU; or the device named.

    Raises
    ------
    TrainingError
        A device was asked for that this machine does not have.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_available() else torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainingError("training on the GPU (cuda) was asked for, but this machine has no "
                                "usable CUDA GPU (or torch was installed without CUDA); use --device "
                                "auto or cpu")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise TrainingError(f"there is no GPU {name} (this machine has "
                                f"{torch.cuda.device_count()})")
        return device
    if name == "mps" and not mps_available():
        raise TrainingError("training on Apple's GPU (mps) was asked for, but it is not available "
                            "here; use --device auto or cpu")
    return torch.device(name)


def training_precision(name: str, device: torch.device) -> torch.dtype | None:
    """The autocast type of ``TrainingConfig.precision`` on ``device``: None = float32.

    "auto" is bfloat16 where it is native: on CPUs with AVX512-BF16 or AMX a batch-32 step
    took 637-713 ms instead of 803-1,096 on 2 threads (``benchmarks/train.py``'s docstring);
    elsewhere a CPU emulates it, slower than float32. On CUDA, GPUs that support bfloat16.
    MPS trains in float32.
    """
    if name == "float32" or device.type not in ("cpu", "cuda"):
        return None
    if name == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    from distill.models.inference import native_bfloat16  # the same probe as the real-time decoder

    return torch.bfloat16 if native_bfloat16() else None


def describe_device(device: torch.device) -> str:
    """``"cuda:0 (NVIDIA H100)"``, ``"mps"``, ``"cpu (2 threads)"``."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'' if n == 1 else 's'})"
    return str(device)


def seed_everything(seed: int) -> None:
    """Seed torch (every device), numpy's and Python's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    """The state of every global random generator (stored in checkpoints)."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(legacy=False),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if mps_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Undo ``capture_rng``; generators of devices this machine lacks are skipped."""
    random.setstate(_as_tuples(state["python"]))
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = list(state["cuda"])[:torch.cuda.device_count()]
        for index, value in enumerate(cuda):
            torch.cuda.set_rng_state(value, index)
    if "mps" in state and mps_available():
        torch.mps.set_rng_state(state["mps"])


def _as_tuples(value: Any) -> Any:
    """``random.setstate`` insists on tuples all the way down."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
