"""Per-dataset normalisation keeps what Softplus/Tanh can reach."""

import pytest
import torch

from distill.audio.normalization import NormalizationStats


def test_normalize_keeps_channel_ranges_and_inverts_exactly():
    spec = torch.stack([torch.rand(3, 128, 94) * 25, torch.rand(3, 128, 94) * 2 - 1], dim=1)
    stats = NormalizationStats.from_magnitude_maxima([10.0, 25.0, 3.0])
    norm = stats.normalize(spec)
    assert norm[:, 0].min() >= 0 and norm[:, 0].max() <= 1
    assert norm[:, 1].abs().max() <= stats.if_scale < 1
    torch.testing.assert_close(stats.denormalize(norm), spec)


def test_denormalize_clamps_what_a_decoder_cannot_mean():
    stats = NormalizationStats(magnitude_scale=20.0)
    out = stats.denormalize(torch.tensor([[[[-0.5]], [[0.99]]]]))
    assert out[0, 0].item() == 0.0 and out[0, 1].item() == 1.0


def test_stats_validation_and_json():
    with pytest.raises(ValueError):
        NormalizationStats(magnitude_scale=0.0)
    with pytest.raises(ValueError):
        NormalizationStats(if_scale=1.5)
    stats = NormalizationStats(12.5, 0.8)
    assert NormalizationStats.from_json(stats.to_json()) == stats
    assert NormalizationStats.from_magnitude_maxima([]).magnitude_scale == 1.0
