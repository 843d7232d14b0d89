"""Train/validation split of a cached dataset: by file when there are enough files.

Splitting by file keeps every clip of a validation file unseen, so validation measures
generalisation to new recordings. With few files that would leave too little to train
on, so the clips are split instead (overlapping clips of one file then sit on both
sides, which flatters the validation loss; the mode is reported so training can say so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from distill.errors import DatasetError

SplitMode = Literal["file", "clip"]


@dataclass(frozen=True)
class DatasetSplit:
    """Global clip ids (file-major order, see ``clip_table``) of each side of the split.

    Attributes
    ----------
    train, validation
        Sorted ``int64`` clip ids; ``validation`` may be empty.
    mode
        ``"file"`` (whole files held out) or ``"clip"`` (individual clips held out).
    validation_files
        File indices held out (file mode only).
    """

    train: np.ndarray
    validation: np.ndarray
    mode: SplitMode
    validation_files: tuple[int, ...] = ()


def clip_table(clips_per_file: Sequence[int]) -> np.ndarray:
    """``[N, 2]`` int64 rows of (file index, clip index within the file), file-major."""
    counts = np.asarray(clips_per_file, dtype=np.int64)
    files = np.repeat(np.arange(len(counts)), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else np.zeros(0, np.int64)
    within = np.arange(int(counts.sum())) - np.repeat(starts, counts)
    return np.stack([files, within], axis=1).astype(np.int64)


def split_clips(clips_per_file: Sequence[int], validation_fraction: float,
                min_files_for_file_split: int, seed: int = 0) -> DatasetSplit:
    """Split clips into training and validation sets, reproducibly from ``seed``.

    Parameters
    ----------
    clips_per_file
        Clip count of each usable file (``[e.clips for e in cache.files]``).
    validation_fraction
        Share of files (file mode) or clips (clip mode) held out; 0 holds out nothing.
    min_files_for_file_split
        Split by file from this many files on, by clip below it.
    seed
        Seed of the shuffle.

    Raises
    ------
    DatasetError
        There is no clip at all.
    """
    counts = np.asarray(clips_per_file, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        raise DatasetError("the dataset has no usable clips (see the scan report for why each "
                           "file was skipped)")
    rng = np.random.default_rng(seed)
    table = clip_table(counts)
    num_files = len(counts)
    if num_files >= max(2, min_files_for_file_split):
        n_val = _held_out(num_files, validation_fraction)
        held = np.sort(rng.permutation(num_files)[:n_val])
        is_val = np.isin(table[:, 0], held)
        ids = np.arange(total)
        return DatasetSplit(ids[~is_val], ids[is_val], "file", tuple(int(f) for f in held))
    n_val = _held_out(total, validation_fraction)
    order = rng.permutation(total)
    return DatasetSplit(np.sort(order[n_val:]), np.sort(order[:n_val]), "clip")


def _held_out(n: int, fraction: float) -> int:
    """At least one item held out when asked for any, never all of them."""
    if fraction <= 0 or n < 2:
        return 0
    return min(n - 1, max(1, round(fraction * n)))
