"""Architecture arithmetic of the convolutional VAE, computed in one place.

Every stride-2 layer halves the height and width of its input exactly when they are
even, so the encoder zero-pads its input ``[B, 2, n_mels, T]`` up to multiples of
``2 ** n_layers`` (32 for the five layers of the spec) and the decoder crops its output
back. ``conv_geometry`` derives the padded shape, the bottleneck shape and the flatten
size; ``conv_padding`` derives the per-layer padding that makes "exactly halve /
exactly double" true for any kernel size. Nothing else in distill re-derives them: the
encoder, the decoder, the loader and the analysers all ask ``ConvVAE.geometry``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Geometry:
    """Shapes of one VAE configuration (heights are mel bands, widths are frames).

    Attributes
    ----------
    n_mels, n_frames
        The input (and output) spectrogram shape ``[n_mels, n_frames]``.
    factor
        Total down-sampling factor, ``2 ** n_layers``.
    padded_mels, padded_frames
        The zero-padded input shape: the smallest multiples of ``factor`` that hold it.
    bottleneck_channels, bottleneck_mels, bottleneck_frames
        Shape ``[C, H/factor, W/factor]`` of the last encoder feature map (and of the
        decoder's first one).
    flatten_size
        ``C * H/factor * W/factor``: the width of the linear layers at the bottleneck.
    """

    n_mels: int
    n_frames: int
    factor: int
    padded_mels: int
    padded_frames: int
    bottleneck_channels: int
    bottleneck_mels: int
    bottleneck_frames: int
    flatten_size: int

    @property
    def input_shape(self) -> tuple[int, int]:
        """``(n_mels, n_frames)``: what the encoder takes and the decoder returns."""
        return (self.n_mels, self.n_frames)

    @property
    def padded_shape(self) -> tuple[int, int]:
        return (self.padded_mels, self.padded_frames)

    @property
    def bottleneck_shape(self) -> tuple[int, int, int]:
        return (self.bottleneck_channels, self.bottleneck_mels, self.bottleneck_frames)

    @property
    def pad(self) -> tuple[int, int, int, int]:
        """Padding for ``torch.nn.functional.pad`` ``(left, right, top, bottom)``: zeros
        after the last frame and above the highest band, so cropping is a plain slice."""
        return (0, self.padded_frames - self.n_frames, 0, self.padded_mels - self.n_mels)


def conv_geometry(n_mels: int, n_frames: int, channels: Sequence[int]) -> Geometry:
    """Shapes of a VAE with one stride-2 layer per entry of ``channels``.

    Parameters
    ----------
    n_mels, n_frames
        Input spectrogram shape (``[B, 2, n_mels, n_frames]``).
    channels
        Encoder channel progression, e.g. ``(64, 128, 256, 512, 1024)``.

    Returns
    -------
    Geometry
        Padded shape, bottleneck shape and flatten size.
    """
    if n_mels < 1 or n_frames < 1:
        raise ValueError(f"spectrogram shape must be positive, got {n_mels} x {n_frames}")
    if len(channels) < 1:
        raise ValueError("at least one convolution layer is needed")
    factor = 2 ** len(channels)
    padded_mels = -(-n_mels // factor) * factor
    padded_frames = -(-n_frames // factor) * factor
    bottleneck_mels, bottleneck_frames = padded_mels // factor, padded_frames // factor
    return Geometry(
        n_mels=n_mels, n_frames=n_frames, factor=factor,
        padded_mels=padded_mels, padded_frames=padded_frames,
        bottleneck_channels=int(channels[-1]),
        bottleneck_mels=bottleneck_mels, bottleneck_frames=bottleneck_frames,
        flatten_size=int(channels[-1]) * bottleneck_mels * bottleneck_frames,
    )


def conv_padding(kernel_size: int) -> tuple[int, int]:
    """``(padding, output_padding)`` of the stride-2 layers for a kernel size.

    With these, ``Conv2d(k, stride=2, padding)`` maps an even size ``H`` to ``H / 2`` and
    ``ConvTranspose2d(k, stride=2, padding, output_padding)`` maps ``H`` to ``2 H``, for
    odd and even kernels alike (k=3 gives the spec's padding 1, output_padding 1).
    """
    if kernel_size < 2:
        raise ValueError(f"kernel_size must be >= 2, got {kernel_size}")
    return (kernel_size - 1) // 2, kernel_size % 2
