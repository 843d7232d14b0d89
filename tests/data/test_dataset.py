"""torch Dataset over the cache, train/validation split, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from distill.audio import synth
from distill.audio.normalization import NormalizationStats
from distill.data import (
    ClipDataset,
    augment_clip,
    build_cache,
    clip_table,
    item_generator,
    make_datasets,
    mix_clips,
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


def test_mixing_adds_the_weighted_energies_and_keeps_the_louder_bins_if():
    stats = NormalizationStats(magnitude_scale=25.0)
    a, b = random_clip(4), random_clip(5)
    out = mix_clips(a, b, 0.7, stats)
    energy = lambda clip: torch.expm1(clip[0].double() * 25)  # noqa: E731
    torch.testing.assert_close(energy(out), 0.7 * energy(a) + 0.3 * energy(b), rtol=1e-4, atol=1e-6)
    louder = 0.7 * energy(a) >= 0.3 * energy(b)
    assert 0.1 < float(louder.double().mean()) < 0.9  # both sources own some bins
    assert torch.equal(out[1], torch.where(louder, a[1], b[1]))
    assert torch.equal(mix_clips(a, b, 1.0, stats)[1], a[1])
    torch.testing.assert_close(mix_clips(a, b, 1.0, stats)[0], a[0])
    with pytest.raises(ValueError, match="weight"):
        mix_clips(a, b, 1.5, stats)


def test_mixing_partners_come_from_the_same_split_and_are_reproducible(mixed_cache):
    config = AugmentationConfig(enabled=True, gain_db=0.0, time_shift_frames=0, pitch_shift_bands=0,
                                noise_level=0.0, mix_probability=1.0)
    pair = make_datasets(mixed_cache, TrainingConfig(augmentation=config, validation_fraction=0.25, seed=3))
    plain = ClipDataset(mixed_cache, pair.stats)
    train_ids = {int(i) for i in pair.train.clip_ids}
    energy = lambda clip: torch.expm1(clip[0].double() * pair.stats.magnitude_scale)  # noqa: E731
    mixed = 0
    for i in range(len(pair.train)):
        clip_id = int(pair.train.clip_ids[i])
        out, own = energy(pair.train[i].spectrogram), energy(plain[clip_id].spectrogram)
        if torch.allclose(out, own):
            continue  # partnered with itself
        mixed += 1
        # out = w * own + (1 - w) * partner for exactly one clip, a training one, w in [0.5, 0.9].
        fits = []
        for j in range(len(plain)):
            other = energy(plain[j].spectrogram)
            w = float(((out - other) * (own - other)).sum() / ((own - other) ** 2).sum().clamp_min(1e-30))
            error = float((out - w * own - (1 - w) * other).norm() / out.norm())
            if error < 1e-4:
                fits.append((j, w))
        assert len(fits) == 1, fits
        assert fits[0][0] in train_ids and 0.5 <= fits[0][1] <= 0.9
    assert mixed >= len(pair.train) - 2
    twin = make_datasets(mixed_cache, TrainingConfig(augmentation=config, validation_fraction=0.25, seed=3))
    assert torch.equal(twin.train[0].spectrogram, pair.train[0].spectrogram)
    for i in range(len(pair.validation)):  # validation is never mixed
        own = plain[int(pair.validation.clip_ids[i])].spectrogram
        assert torch.equal(pair.validation[i].spectrogram, own)


def test_dataset_over_an_empty_cache(tmp_path, cache_dir):
    (tmp_path / "empty").mkdir()
    cache = build_cache(tmp_path / "empty", cache_dir=cache_dir)
    assert len(ClipDataset(cache)) == 0
    with pytest.raises(DatasetError):
        make_datasets(cache, TrainingConfig())


def test_crop_offsets_move_the_window_along_the_file_and_never_across_a_gap(tmp_path):
    from distill.audio.io import load_audio
    from distill.audio.spectrogram import ComplexSpectrogram
    from distill.data import clip_layout, file_clips
    from distill.data.config import DataConfig
    from tests.conftest import write_audio

    # 1 s of sound, 2.5 s of silence (its clips are dropped), 1.5 s of sound: two cached
    # clips are neighbours in the cache but not in the file.
    # Swells: no two windows of a file look alike, so a window's place can be found.
    def swell(freq, seconds):
        envelope = np.linspace(0.02, 1.0, int(48_000 * seconds), dtype=np.float32) ** 2
        return synth.harmonic(freq, seconds) * envelope

    gap = np.concatenate([swell(220, 1.0), np.zeros(120_000, np.float32), swell(330, 1.5)])
    write_audio(tmp_path / "sounds" / "gap.wav", gap)
    write_audio(tmp_path / "sounds" / "tone.wav", swell(440, 2.0))
    cache = build_cache(tmp_path / "sounds", cache_dir=tmp_path / "cache")
    config = AugmentationConfig(enabled=True, gain_db=0.0, time_shift_frames=0, pitch_shift_bands=0,
                                noise_level=0.0, crop_offsets=True)
    dataset, plain = ClipDataset(cache, augmentation=config), ClipDataset(cache)
    hop = cache.data_config.clip_hop_frames
    spec = ComplexSpectrogram(cache.spectrogram_config)
    every = {}  # file -> every window of its frames, one frame apart (magnitude, normalised)
    for f, entry in enumerate(cache.files):
        wave = load_audio(entry.path)  # as long as the cache padded it: every cached window exists
        wave = np.pad(wave, (0, clip_layout(len(wave), spec, cache.data_config).padded_samples - len(wave)))
        windows = file_clips(wave, spec, DataConfig(clip_hop_frames=1), drop_silent=False)
        every[f] = dataset.stats.normalize(windows)[:, 0]

    def start(file_index, magnitude):
        """The window of the file this magnitude is (the closest one, which must match). Only
        the frames before the clip's last ``hop``: a file's final frames depend on its
        padding, which differs with the clip hop."""
        head = magnitude.shape[-1] - hop
        distance = (every[file_index][..., :head] - magnitude[..., :head]).abs().amax(dim=(1, 2))
        assert float(distance.min()) < 1e-3  # the cache holds float16
        return int(distance.argmin())

    shifts = {}
    for epoch in range(6):
        dataset.set_epoch(epoch)
        for i in range(len(dataset)):
            item, own = dataset[i], plain[i].spectrogram
            assert item.spectrogram.shape == own.shape
            shift = start(item.file_index, item.spectrogram[0]) - start(item.file_index, own[0])
            assert 0 <= shift < hop
            shifts.setdefault((item.file_index, item.clip_index), set()).add(shift)
    gap_clips = [clip for (f, clip) in shifts if cache.files[f].relpath == "gap.wav"]
    last = {f: max(c for (g, c) in shifts if g == f) for f in every}
    before_gap = next(c for c in sorted(gap_clips)
                      if start(0, plain[c].spectrogram[0]) + hop != start(0, plain[c + 1].spectrogram[0]))
    for (f, clip), seen in shifts.items():
        if clip == last[f] or (cache.files[f].relpath == "gap.wav" and clip == before_gap):
            assert seen == {0}, (f, clip)  # nothing after it to take frames from
        else:
            assert len(seen) > 2, (f, clip)
