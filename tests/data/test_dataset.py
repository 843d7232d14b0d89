"""torch Dataset over the cache, train/validation split, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from distill.audio.normalization import NormalizationStats
from distill.data import (
    ClipDataset,
    augment_clip,
    build_cache,
    clip_table,
    item_generator,
    make_datasets,
    split_clips,
)
from distill.data.config import AugmentationConfig
from distill.errors import DatasetError
from distill.training.config import TrainingConfig
from tests.data.conftest import GOOD_CLIPS

STRONG = AugmentationConfig(enabled=True, gain_db=12.0, time_shift_frames=10, pitch_shift_bands=5,
                            noise_level=0.2)


def test_items_are_normalised_float32_clips(mixed_cache):
    dataset = ClipDataset(mixed_cache)
    assert len(dataset) == sum(GOOD_CLIPS.values())
    stats = mixed_cache.normalization_stats()
    seen = set()
    for i in range(len(dataset)):
        item = dataset[i]
        assert item.spectrogram.shape == (2, 128, 94)
        assert item.spectrogram.dtype == torch.float32
        assert item.spectrogram[0].min() >= 0 and item.spectrogram[0].max() <= 1
        assert item.spectrogram[1].abs().max() <= stats.if_scale
        entry = mixed_cache.files[item.file_index]
        raw = torch.from_numpy(np.asarray(mixed_cache.load_clips(entry)[item.clip_index], np.float32))
        torch.testing.assert_close(item.spectrogram, stats.normalize(raw))
        seen.add((item.file_index, item.clip_index))
    assert len(seen) == len(dataset)
    # The loudest file reaches exactly 1 in channel 0.
    assert max(float(dataset[i].spectrogram[0].max()) for i in range(len(dataset))) == 1.0


def test_dataloader_with_workers_sees_every_clip(mixed_cache):
    dataset = ClipDataset(mixed_cache)
    dataset[0]  # maps opened in the parent must not leak into the workers
    loader = DataLoader(dataset, batch_size=3, num_workers=2)
    batches = list(loader)
    spectrograms = torch.cat([b.spectrogram for b in batches])
    assert spectrograms.shape == (len(dataset), 2, 128, 94)
    pairs = {(int(f), int(c)) for b in batches for f, c in zip(b.file_index, b.clip_index, strict=True)}
    assert pairs == {tuple(row) for row in clip_table([e.clips for e in mixed_cache.files])}
    torch.testing.assert_close(spectrograms[0], dataset[0].spectrogram)


def test_clip_table_is_file_major():
    assert clip_table([2, 0, 3]).tolist() == [[0, 0], [0, 1], [2, 0], [2, 1], [2, 2]]
    assert clip_table([]).shape == (0, 2)


def test_split_by_file_keeps_each_file_on_one_side():
    counts = [5, 3, 4, 6, 2, 5, 3, 4, 7, 1]
    split = split_clips(counts, validation_fraction=0.2, min_files_for_file_split=8, seed=1)
    assert split.mode == "file"
    assert len(split.validation_files) == 2
    files = clip_table(counts)[:, 0]
    assert set(files[split.validation]) == set(split.validation_files)
    assert not set(files[split.train]) & set(split.validation_files)
    assert sorted([*split.train, *split.validation]) == list(range(sum(counts)))
    again = split_clips(counts, 0.2, 8, seed=1)
    assert again.validation_files == split.validation_files
    others = {split_clips(counts, 0.2, 8, seed=s).validation_files for s in range(10)}
    assert len(others) > 1


def test_split_by_clip_with_few_files():
    counts = [10, 10, 10]
    split = split_clips(counts, validation_fraction=0.2, min_files_for_file_split=8, seed=0)
    assert split.mode == "clip"
    assert split.validation_files == ()
    assert len(split.validation) == 6 and len(split.train) == 24
    assert not set(split.train) & set(split.validation)
    assert np.array_equal(split.validation, split_clips(counts, 0.2, 8, seed=0).validation)


def test_split_edge_cases():
    assert len(split_clips([1], 0.5, 8).validation) == 0  # one clip: it trains
    assert len(split_clips([4, 4], 0.0, 2).validation) == 0
    tiny = split_clips([3, 3], 0.9, 2)
    assert tiny.mode == "file" and len(tiny.validation_files) == 1  # never every file
    with pytest.raises(DatasetError, match="no usable clips"):
        split_clips([0, 0], 0.2, 8)


def test_make_datasets_augments_only_the_training_side(mixed_cache):
    config = TrainingConfig(augmentation=STRONG, validation_fraction=0.25, seed=3)
    pair = make_datasets(mixed_cache, config)
    assert pair.split.mode == "clip"  # 6 files < min_files_for_file_split
    plain = ClipDataset(mixed_cache, pair.stats)
    for dataset, changed in ((pair.train, True), (pair.validation, False)):
        assert len(dataset) > 0
        for i in range(len(dataset)):
            item = dataset[i]
            clip_id = int(dataset.clip_ids[i])
            same = torch.equal(item.spectrogram, plain[clip_id].spectrogram)
            assert same != changed
    assert len(pair.train) + len(pair.validation) == len(plain)


def test_augmentation_is_deterministic_per_seed_epoch_and_clip(mixed_cache):
    train = ClipDataset(mixed_cache, augmentation=STRONG, seed=7)
    twin = ClipDataset(mixed_cache, augmentation=STRONG, seed=7)
    assert torch.equal(train[1].spectrogram, twin[1].spectrogram)
    assert not torch.equal(train[1].spectrogram, ClipDataset(mixed_cache, augmentation=STRONG,
                                                             seed=8)[1].spectrogram)
    first = train[1].spectrogram
    train.set_epoch(1)
    assert not torch.equal(first, train[1].spectrogram)
    assert not torch.equal(ClipDataset(mixed_cache, augmentation=AugmentationConfig(enabled=False),
                                       seed=7)[1].spectrogram, first)


def random_clip(seed=0):
    """A normalised clip: magnitude in [0, 1], IF in [-0.9, 0.9]."""
    g = torch.Generator().manual_seed(seed)
    magnitude = torch.rand(128, 94, generator=g) ** 3
    inst_freq = (torch.rand(128, 94, generator=g) * 2 - 1) * 0.9
    return torch.stack([magnitude, inst_freq])


def test_augmentation_keeps_the_ranges():
    stats = NormalizationStats(magnitude_scale=25.0)
    for seed in range(20):
        out = augment_clip(random_clip(seed), STRONG, stats, item_generator(0, 0, seed))
        assert out.shape == (2, 128, 94)
        assert out[0].min() >= 0
        assert out[1].abs().max() <= 1
        assert torch.isfinite(out).all()


def test_gain_scales_the_mel_energy():
    stats = NormalizationStats(magnitude_scale=25.0)
    clip = random_clip(1) + torch.tensor([0.05, 0.0])[:, None, None]
    config = AugmentationConfig(enabled=True, gain_db=6.0, time_shift_frames=0, pitch_shift_bands=0,
                                noise_level=0.0)
    out = augment_clip(clip, config, stats, item_generator(0, 0, 1))
    ratio = torch.expm1(out[0].double() * 25) / torch.expm1(clip[0].double() * 25)
    db = 10 * torch.log10(ratio)
    assert db.std() < 1e-2  # the same gain everywhere, applied to energy
    assert 0.1 < abs(float(db.mean())) <= 6.0
    assert torch.equal(out[1], clip[1])


def test_pitch_and_time_shift_move_both_channels_together():
    clip = random_clip(2)
    stats = NormalizationStats(magnitude_scale=25.0)
    config = AugmentationConfig(enabled=True, gain_db=0.0, time_shift_frames=3, pitch_shift_bands=2,
                                noise_level=0.0)
    found = set()
    for seed in range(30):
        out = augment_clip(clip, config, stats, item_generator(0, 0, seed))
        match = [(b, t) for b in range(-2, 3) for t in range(-3, 4)
                 if torch.equal(out, shifted(clip, b, t))]
        assert len(match) >= 1
        found.update(match)
    assert len({b for b, _ in found}) > 2 and len({t for _, t in found}) > 2


def shifted(clip, bands, frames):
    out = torch.roll(clip, frames, dims=-1)
    moved = torch.zeros_like(out)
    if bands >= 0:
        moved[:, bands:] = out[:, :128 - bands]
    else:
        moved[:, :bands] = out[:, -bands:]
    return moved


def test_noise_only_touches_the_magnitude():
    clip = random_clip(3)
    config = AugmentationConfig(enabled=True, gain_db=0.0, time_shift_frames=0, pitch_shift_bands=0,
                                noise_level=0.05)
    out = augment_clip(clip, config, NormalizationStats(), item_generator(0, 0, 0))
    assert torch.equal(out[1], clip[1])
    assert 0.02 < float((out[0] - clip[0]).std()) < 0.08
    assert out[0].min() >= 0


def test_dataset_over_an_empty_cache(tmp_path, cache_dir):
    (tmp_path / "empty").mkdir()
    cache = build_cache(tmp_path / "empty", cache_dir=cache_dir)
    assert len(ClipDataset(cache)) == 0
    with pytest.raises(DatasetError):
        make_datasets(cache, TrainingConfig())
