"""conv_geometry / conv_padding: the one place architecture arithmetic lives."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from distill.models import conv_geometry, conv_padding

SPEC_CHANNELS = (64, 128, 256, 512, 1024)


def test_default_geometry_matches_the_spec():
    g = conv_geometry(128, 94, SPEC_CHANNELS)
    assert g.factor == 32
    assert g.padded_shape == (128, 96)
    assert g.bottleneck_shape == (1024, 4, 3)
    assert g.flatten_size == 1024 * 4 * 3
    assert g.input_shape == (128, 94)
    assert g.pad == (0, 2, 0, 0)


@pytest.mark.parametrize(("n", "padded"), [(1, 32), (7, 32), (31, 32), (32, 32), (33, 64), (94, 96),
                                           (128, 128), (200, 224)])
def test_padding_is_the_next_multiple_of_32(n, padded):
    g = conv_geometry(n, n, SPEC_CHANNELS)
    assert g.padded_mels == g.padded_frames == padded
    assert g.bottleneck_mels == padded // 32


def test_factor_follows_the_number_of_layers():
    g = conv_geometry(20, 7, (4, 8))
    assert g.factor == 4
    assert g.padded_shape == (20, 8)
    assert g.bottleneck_shape == (8, 5, 2)
    assert g.flatten_size == 80


@pytest.mark.parametrize("bad", [(0, 10), (10, 0), (-1, 5)])
def test_rejects_empty_shapes(bad):
    with pytest.raises(ValueError, match="positive"):
        conv_geometry(*bad, SPEC_CHANNELS)


def test_rejects_no_layers():
    with pytest.raises(ValueError, match="layer"):
        conv_geometry(10, 10, ())


@pytest.mark.parametrize("k", [2, 3, 4, 5, 7])
def test_conv_padding_halves_and_doubles_exactly(k):
    padding, output_padding = conv_padding(k)
    x = torch.zeros(1, 1, 12, 8)
    down = nn.Conv2d(1, 1, k, stride=2, padding=padding)(x)
    assert down.shape[-2:] == (6, 4)
    up = nn.ConvTranspose2d(1, 1, k, stride=2, padding=padding, output_padding=output_padding)(down)
    assert up.shape[-2:] == (12, 8)


def test_conv_padding_of_the_spec_kernel():
    assert conv_padding(3) == (1, 1)
    with pytest.raises(ValueError):
        conv_padding(1)
