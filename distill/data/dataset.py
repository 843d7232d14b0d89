"""torch Datasets over the preprocessing cache.

Clips are read from memory-mapped float16 arrays, so a dataset of hundreds of files
costs no RAM beyond the page cache. Arrays are opened lazily, in the process that reads
them: a Dataset pickled or forked into DataLoader workers carries only paths.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from distill.audio.normalization import NormalizationStats
from distill.data.augment import augment_clip, item_generator, mix_clips, mix_weight
from distill.data.cache import DatasetCache
from distill.data.config import AugmentationConfig
from distill.data.split import DatasetSplit, clip_table, split_clips

#: Memory maps kept open per process (each holds a file descriptor).
MAX_OPEN_FILES = 64


class SplitSettings(Protocol):
    """What ``make_datasets`` reads from a run's settings (``distill.training.config.
    TrainingConfig`` has these fields; the data layer does not import training)."""

    @property
    def validation_fraction(self) -> float: ...

    @property
    def min_files_for_file_split(self) -> int: ...

    @property
    def seed(self) -> int: ...

    @property
    def augmentation(self) -> AugmentationConfig: ...


class ClipItem(NamedTuple):
    """One clip as the DataLoader delivers it (batched: ``[B, 2, M, F]``, ``[B]``, ``[B]``)."""

    spectrogram: torch.Tensor
    file_index: int
    clip_index: int


class ClipDataset(Dataset):
    """Normalised clips ``[2, n_mels, clip_frames]`` float32 of a cached dataset.

    Parameters
    ----------
    cache
        A built cache (``build_cache``); its usable files are the file indices.
    stats
        Normalisation; default ``cache.normalization_stats()``.
    clip_ids
        Global clip ids (see ``clip_table``) this dataset serves; default all.
    augmentation
        Applied to every item when given and enabled (training split only).
    seed
        Seed of the augmentation; with ``set_epoch`` it makes every draw reproducible.
    """

    def __init__(self, cache: DatasetCache, stats: NormalizationStats | None = None,
                 clip_ids: Sequence[int] | np.ndarray | None = None,
                 augmentation: AugmentationConfig | None = None, seed: int = 0) -> None:
        self.paths = [str(cache.clip_path(e)) for e in cache.files]
        self.table = clip_table([e.clips for e in cache.files])
        self.clip_ids = (np.arange(len(self.table)) if clip_ids is None
                         else np.asarray(clip_ids, dtype=np.int64))
        self.stats = stats or cache.normalization_stats()
        self.augmentation = augmentation if augmentation is not None and augmentation.enabled else None
        self.hop_frames = min(cache.data_config.clip_hop_frames, cache.clip_shape[-1])
        self._member = np.zeros(len(self.table), dtype=bool)  # clip id -> served here
        self._member[self.clip_ids] = True
        self.seed = seed
        self.epoch = 0
        self._maps: OrderedDict[int, np.ndarray] = OrderedDict()
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.clip_ids)

    def __getitem__(self, index: int) -> ClipItem:
        clip_id = int(self.clip_ids[index])
        file_index, clip_index = (int(v) for v in self.table[clip_id])
        spec = self._normalized(file_index, clip_index)
        if self.augmentation is not None:
            generator = item_generator(self.seed, self.epoch, clip_id)
            if self.augmentation.crop_offsets:
                spec = self._cropped(spec, clip_id, generator)
            mix = self.augmentation.mix_probability
            if mix > 0 and float(torch.rand((), generator=generator)) < mix:
                spec = mix_clips(spec, self._partner(generator), mix_weight(generator), self.stats)
            spec = augment_clip(spec, self.augmentation, self.stats, generator)
        return ClipItem(spec, file_index, clip_index)

    def _normalized(self, file_index: int, clip_index: int) -> torch.Tensor:
        raw = np.array(self._clips(file_index)[clip_index], dtype=np.float32)
        return self.stats.normalize(torch.from_numpy(raw))

    def _cropped(self, spec: torch.Tensor, clip_id: int, generator: torch.Generator) -> torch.Tensor:
        """``spec`` (clip ``clip_id``, normalised) moved later in its file by a random number
        of frames in ``[0, hop)``, its end taken from the next cached clip: consecutive clips
        are windows of one frame sequence ``hop`` apart. Unchanged when that next clip is
        not this dataset's (another file, the other side of the split) or not adjacent in
        the file (a silent clip between them was dropped: their shared frames differ, and
        without shared frames, ``hop >= frames``, adjacency cannot be told)."""
        hop, frames = self.hop_frames, spec.shape[-1]
        offset = int(torch.randint(hop, (), generator=generator))
        following = clip_id + 1
        if (offset == 0 or hop >= frames or following >= len(self.table) or not self._member[following]
                or self.table[following][0] != self.table[clip_id][0]):
            return spec
        after = self._normalized(*(int(v) for v in self.table[following]))
        if not torch.equal(spec[0, :, hop:], after[0, :, :frames - hop]):
            return spec
        return torch.cat([spec[:, :, offset:], after[:, :, frames - offset:]], dim=-1)

    def _partner(self, generator: torch.Generator) -> torch.Tensor:
        """A clip of this dataset drawn with ``generator``, normalised (to mix with another)."""
        clip_id = int(self.clip_ids[int(torch.randint(len(self.clip_ids), (), generator=generator))])
        return self._normalized(*(int(v) for v in self.table[clip_id]))

    def set_epoch(self, epoch: int) -> None:
        """Vary the augmentation per epoch (call in every worker's copy, e.g. before iterating)."""
        self.epoch = epoch

    def _clips(self, file_index: int) -> np.ndarray:
        if os.getpid() != self._pid:  # forked into a worker: the parent's maps are not ours
            self._maps = OrderedDict()
            self._pid = os.getpid()
        clips = self._maps.get(file_index)
        if clips is None:
            clips = np.load(self.paths[file_index], mmap_mode="r", allow_pickle=False)
            self._maps[file_index] = clips
            if len(self._maps) > MAX_OPEN_FILES:
                self._maps.popitem(last=False)
        else:
            self._maps.move_to_end(file_index)
        return clips

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_maps"] = OrderedDict()
        return state


@dataclass(frozen=True)
class TrainValidation:
    """The two datasets of a training run, the split they come from and the normalisation."""

    train: ClipDataset
    validation: ClipDataset
    split: DatasetSplit
    stats: NormalizationStats


def make_datasets(cache: DatasetCache, config: SplitSettings,
                  stats: NormalizationStats | None = None) -> TrainValidation:
    """Split a cache (``split_clips``) and wrap both sides; augmentation on training only.

    ``config`` is normally the run's ``TrainingConfig``: its held-out share, the file count
    from which the split goes by file, the seed and the augmentation.

    Raises
    ------
    DatasetError
        The cache holds no clip.
    """
    stats = stats or cache.normalization_stats()
    split = split_clips([e.clips for e in cache.files], config.validation_fraction,
                        config.min_files_for_file_split, config.seed)
    train = ClipDataset(cache, stats, split.train, config.augmentation, config.seed)
    validation = ClipDataset(cache, stats, split.validation)
    return TrainValidation(train, validation, split, stats)
