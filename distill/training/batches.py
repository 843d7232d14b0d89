"""Batches of a training run, reproducible from (seed, epoch) alone.

The order of an epoch is a permutation drawn from a generator seeded with the run's
seed and the epoch number, so it needs no saved state: a run resumed mid-epoch redraws
the same order and skips the batches already trained. Loading goes through a plain
``DataLoader`` that is rebuilt every epoch (never persistent workers), so the dataset's
``set_epoch`` reaches every worker's copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from distill.data import ClipDataset
from distill.errors import DatasetError


def epoch_batches(num_items: int, batch_size: int, seed: int, epoch: int,
                  min_batch: int = 2) -> list[list[int]]:
    """Shuffled index batches of one epoch.

    A last batch of a single clip is merged into the one before it: BatchNorm cannot
    normalise one sample in training mode (the bottleneck of a small model is 1 x 1),
    and dropping it would leave that clip out whenever the order puts it last. A
    distributed run of N > 2 processes passes ``min_batch`` N, so that every process gets
    a clip of every batch.

    Raises
    ------
    DatasetError
        Fewer than two clips to train on.
    """
    if num_items < 2:
        raise DatasetError(f"{num_items} clip(s) to train on; at least 2 are needed (add more or "
                           "longer files, or hold out fewer for validation)")
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    generator = torch.Generator().manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)
    order = torch.randperm(num_items, generator=generator).tolist()
    batches = [order[i:i + batch_size] for i in range(0, num_items, batch_size)]
    if len(batches) > 1 and len(batches[-1]) < min_batch:
        batches[-2].extend(batches.pop())
    return batches


def steps_per_epoch(num_items: int, batch_size: int, min_batch: int = 2) -> int:
    """Number of batches ``epoch_batches`` yields (the same every epoch)."""
    full, rest = divmod(num_items, batch_size)
    return full + (1 if rest >= min_batch or (rest > 0 and full == 0) else 0)


def load_batches(dataset: ClipDataset, batches: Sequence[Sequence[int]], device: torch.device,
                 num_workers: int = 0) -> Iterator[torch.Tensor]:
    """Normalised spectrogram batches ``[B, 2, M, T]`` on ``device``, in the order given."""
    if not batches:
        return
    # Its own generator: a DataLoader otherwise draws its workers' base seed from the
    # global torch generator, so a run resumed mid-epoch (one more loader) would draw
    # different reparameterisation noise than the run it continues.
    loader = DataLoader(dataset, batch_sampler=[list(b) for b in batches], num_workers=num_workers,
                        pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(0))
    for item in loader:
        yield item.spectrogram.to(device, non_blocking=True)


def sequential_batches(num_items: int, batch_size: int) -> list[list[int]]:
    """Index batches in order (validation)."""
    return [list(range(i, min(i + batch_size, num_items))) for i in range(0, num_items, batch_size)]
