"""Data-parallel training under ``torchrun``: who this process is, its process group, and
the few collective steps the ``Trainer`` takes (all of them no-ops in a single process).

``torchrun --nproc_per_node N -m distill train ...`` starts N processes and gives each
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE`` and ``MASTER_ADDR``/``PORT``;
``Distributed.from_environment`` reads them. Backend: NCCL on CUDA (one GPU per local
rank), gloo on the CPU. What a distributed run computes:

- ``batch_size`` is the GLOBAL batch. Every process draws the same epoch order
  (``batches.epoch_batches``: seed and epoch) and trains clips ``batch[rank::N]`` of each
  batch (``shard_batches``: the equivalent of a ``DistributedSampler`` whose global
  batches are a single process's); DDP averages the gradients. Steps per epoch, the
  learning-rate schedule and the checkpoints are those of one process with the same
  settings, so a checkpoint resumes with any number of processes.
- BatchNorm normalises over the global batch: torch's ``SyncBatchNorm`` on CUDA,
  ``GlobalBatchNorm2d`` on the CPU (where ``SyncBatchNorm`` refuses to run).
- What still differs from one process (``tests/training/test_distributed.py`` removes
  these and finds the weights equal within float tolerance): each process draws its own
  reparameterisation noise (seed + rank: shares of one batch must not share noise); the
  IF-loss weights normalise loudness over a process's share, not the whole batch; the
  waveform term runs on ``stft_loss_clips`` clips of every share (N times as many clips:
  the same expected gradient, less variance); a batch that N does not divide weighs its
  clips by share (each process's loss is a mean over its share).
- Decisions that end or change the run are agreed, so no process waits for one that
  left: before each step (``agree``) the stop requests (cancel, finish, a failed
  checkpoint) and any clip holding NaN; step losses are averaged before the divergence
  checks (``mean_losses``), so every process logs the same numbers; validation sums are
  reduced (``validation_means``); a rollback broadcasts rank 0's checkpoint (``share``).
- Rank 0 alone writes checkpoints, previews and the model file, and runs the analysis.

A collective that waits longer than ``timeout_s`` raises (another process hung); one whose
peer died raises at once; ``PeerFailureError`` turns either into a message. Waiting for rank 0
to build the dataset cache is not bounded by it (that can take hours).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from distill.errors import TrainingError
from distill.models import LossTerms
from distill.threads import available_cores

T = TypeVar("T")

#: Seconds a process waits in a collective for the others (a hung peer) before giving up.
DEFAULT_TIMEOUT_S = 300.0
#: Seconds the other processes wait for rank 0 to build the dataset cache.
CACHE_TIMEOUT_S = 7 * 24 * 3600.0
#: Loss names in the order they travel in a reduction.
LOSS_NAMES = tuple(f.name for f in fields(LossTerms))
#: Stop requests, by precedence (the agreement keeps the largest).
GO_ON, FINISH, CANCEL, FAILED = 0, 1, 2, 3
_CLIP_STRIDE = 2**31  # encodes (file, clip) in one int64 for a MAX reduction


class PeerFailureError(TrainingError):
    """Another process of the run died or stopped answering."""


class Distributed:
    """This process's place in a data-parallel run (rank 0 of 1 when not under torchrun).

    Parameters
    ----------
    rank, world_size
        Global rank and number of processes.
    local_rank, local_world_size
        Rank and number of processes on this machine (GPU index, CPU share).
    timeout_s
        How long a collective waits for the others.
    """

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0,
                 local_world_size: int = 1, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if not 0 <= rank < world_size:
            raise TrainingError(f"rank {rank} is outside a world of {world_size} process(es)")
        self.rank, self.world_size = rank, world_size
        self.local_rank, self.local_world_size = local_rank, local_world_size
        self.timeout_s = timeout_s
        self._device = torch.device("cpu")  # where collective tensors live (NCCL: the GPU)

    @classmethod
    def from_environment(cls, timeout_s: float = DEFAULT_TIMEOUT_S) -> Distributed:
        """The process torchrun started (its environment variables), or a single process."""
        env = os.environ
        world = int(env.get("WORLD_SIZE", "1"))
        if world > 1 and not env.get("MASTER_ADDR"):
            raise TrainingError("WORLD_SIZE is set but MASTER_ADDR is not: start distributed "
                                "training with torchrun (see the README)")
        return cls(int(env.get("RANK", "0")), world, int(env.get("LOCAL_RANK", "0")),
                   int(env.get("LOCAL_WORLD_SIZE", str(world))), timeout_s)

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        return (f" x {self.world_size} processes ({dist.get_backend()})"
                if self.active and dist.is_initialized() else "")

    # ------------------------------------------------------------------ set-up
    def start(self, device: torch.device) -> torch.device:
        """Join the process group for ``device`` (NCCL on CUDA, else gloo); the device this
        process trains on (CUDA: the GPU of its local rank)."""
        if not self.active:
            return device
        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        self._device = device if device.type == "cuda" else torch.device("cpu")
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                    timeout=timedelta(seconds=self.timeout_s))
        return device

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()

    def leave_together(self) -> None:
        """After a run that ended well: wait until every process is done with its
        collectives (rank 0 may still be saving and analysing), so no process tears its
        gloo/NCCL threads down while a peer's last operation is in flight (that aborted a
        process once: "terminate called without an active exception")."""
        if self.active and dist.is_initialized():
            dist.barrier()

    def threads(self, requested: int) -> int:
        """CPU threads of this process: as requested, or (0) its share of the cores."""
        return requested if requested > 0 else max(1, available_cores() // self.local_world_size)

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the body (building the cache) before the others do."""
        if not self.active:
            yield
            return
        waiting = dist.new_group(backend="gloo", timeout=timedelta(seconds=CACHE_TIMEOUT_S))
        try:
            if not self.is_main:
                dist.barrier(group=waiting)
            yield
            if self.is_main:
                dist.barrier(group=waiting)
        finally:
            dist.destroy_process_group(waiting)

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` with global-batch BatchNorm (in place), wrapped in DDP; itself alone."""
        if not self.active:
            return model
        if self._device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return DistributedDataParallel(model, device_ids=[self._device.index],
                                           broadcast_buffers=False)
        global_batch_norm(model)
        # Statistics are global, so the buffers agree without a broadcast per forward.
        return DistributedDataParallel(model, broadcast_buffers=False)

    # ------------------------------------------------------------------ data
    def shard_batches(self, batches: Sequence[Sequence[int]]) -> list[list[int]]:
        """This process's share ``batch[rank::N]`` of each global batch."""
        return [list(b[self.rank::self.world_size]) for b in batches]

    def shard_items(self, num_items: int) -> list[int]:
        """This process's share of ``range(num_items)`` (validation)."""
        return list(range(self.rank, num_items, self.world_size))

    # ------------------------------------------------------------------ agreement
    def agree(self, stop: int, bad_clip: tuple[int, int] | None) -> tuple[int, tuple[int, int] | None]:
        """The strongest stop request (``GO_ON`` < ``FINISH`` < ``CANCEL`` < ``FAILED``) and a
        clip holding NaN (``(file, clip)``) of any process; every process gets the same."""
        if not self.active:
            return stop, bad_clip
        code = 0 if bad_clip is None else 1 + bad_clip[0] * _CLIP_STRIDE + bad_clip[1]
        values = self._reduce(torch.tensor([stop, code], dtype=torch.int64), dist.ReduceOp.MAX)
        stop, code = (int(v) for v in values.tolist())
        return stop, None if code == 0 else divmod(code - 1, _CLIP_STRIDE)

    def mean_losses(self, losses: dict[str, float]) -> dict[str, float]:
        """Mean of every loss term over the processes (each a mean over its share)."""
        if not self.active:
            return losses
        values = self._reduce(torch.tensor([losses[n] for n in LOSS_NAMES], dtype=torch.float64))
        return {name: float(v) / self.world_size for name, v in zip(LOSS_NAMES, values.tolist(), strict=True)}

    def validation_means(self, means: dict[str, float], count: int) -> dict[str, float]:
        """Means over every process's validation clips from each one's means over ``count``
        clips; ``{}`` when no process has any."""
        if not self.active:
            return means
        local = [means.get(n, 0.0) * count for n in LOSS_NAMES] + [float(count)]
        *sums, total = self._reduce(torch.tensor(local, dtype=torch.float64)).tolist()
        return {n: s / total for n, s in zip(LOSS_NAMES, sums, strict=True)} if total else {}

    def share(self, value: T | None) -> T:
        """Rank 0's ``value`` on every process (pickled over the group: our own processes)."""
        if not self.active:
            assert value is not None
            return value
        box = [value]
        try:
            dist.broadcast_object_list(box, src=0)
        except RuntimeError as exc:
            raise peer_failure(exc) from None
        return box[0]

    def decorrelate_rng(self, seed: int, step: int) -> None:
        """Give processes other than rank 0 their own noise (after a common seed or restore)."""
        if self.rank > 0:
            torch.manual_seed((seed * 1_000_003 + self.rank * 7_919 + step) % 2**63)

    def _reduce(self, tensor: torch.Tensor, op: dist.ReduceOp = dist.ReduceOp.SUM) -> torch.Tensor:
        tensor = tensor.to(self._device)
        try:
            dist.all_reduce(tensor, op=op)
        except RuntimeError as exc:
            raise peer_failure(exc) from None
        return tensor.cpu()


def peer_failure(exc: BaseException) -> PeerFailureError:
    """The message for a collective that failed: a process died, hung or lost the network."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return PeerFailureError("another process of this distributed run stopped or stopped answering "
                       f"({detail}); the launcher's log names the one that failed first. The "
                       "last checkpoint is intact: continue with --resume")


def is_collective_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed collective (gloo/NCCL), e.g. raised in DDP's backward."""
    if isinstance(exc, dist.DistError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        word in text for word in ("gloo", "Gloo", "NCCL", "Connection closed", "Timed out"))


class _SumOverProcesses(torch.autograd.Function):
    """All-reduce (sum) with a gradient: d(sum)/d(each share) sums the gradients of every
    process (the DDP-averaged loss is the mean of all processes' losses)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


def differentiable_all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    return _SumOverProcesses.apply(tensor)


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training statistics are those of the global batch (every
    process's share), on any device: torch's ``SyncBatchNorm`` runs on GPUs only.

    Two differentiable all-reduces per forward (sum and count, then the squared deviations
    from the global mean): a two-pass variance, as exact as a single process's. In eval
    mode, or outside a process group, it is a plain ``BatchNorm2d``. Input ``[B, C, H, W]``
    (float32 or, under autocast, bfloat16: the output has the input's type).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        # Statistics in float32 under bfloat16 autocast (as torch's own batch norm keeps
        # them): sums over a whole global batch need more than bfloat16's 8 mantissa bits.
        dtype, x = x.dtype, x.float()
        channels = x.shape[1]
        shape = (1, channels, 1, 1)
        count = x.new_tensor([x.numel() / channels])
        totals = differentiable_all_reduce(torch.cat([x.sum(dim=(0, 2, 3)), count]))
        n = totals[-1]
        mean = totals[:channels] / n
        centred = x - mean.view(shape)
        var = differentiable_all_reduce(centred.square().sum(dim=(0, 2, 3))) / n
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = (self.momentum if self.momentum is not None
                            else 1.0 / float(self.num_batches_tracked))
                unbiased = var * (n / (n - 1).clamp_min(1))
                self.running_mean.lerp_(mean, momentum)
                self.running_var.lerp_(unbiased, momentum)
        return y.to(dtype)


def global_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every ``BatchNorm2d`` of ``module`` (in place) by a ``GlobalBatchNorm2d`` that
    holds the same parameters and buffers (so an optimizer built before still applies)."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            replacement = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum,
                                            child.affine, child.track_running_stats,
                                            device=child.weight.device if child.affine else None)
            for attr in ("weight", "bias"):
                setattr(replacement, attr, getattr(child, attr))
            for attr in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(replacement, attr, getattr(child, attr))
            replacement.train(child.training)
            setattr(module, name, replacement)
        else:
            global_batch_norm(child)
    return module
