"""The convolutional VAE over 2-channel spectrograms (architecture fixed by the product spec).

``ConvEncoder``: ``[B, 2, M, T]`` zero-padded to multiples of ``2 ** n_layers``, stride-2
conv blocks (Conv2d, BatchNorm2d, LeakyReLU) 2 -> 64 -> ... -> 1024, flatten, two linear
heads -> ``mu`` and ``logvar`` ``[B, latent_dim]``. ``ConvDecoder``: linear -> ``[B, 1024,
H/32, W/32]``, stride-2 transposed-conv blocks 1024 -> ... -> 64 -> 2 (BatchNorm and
LeakyReLU on all but the last), cropped to ``[M, T]``; channel 0 through Softplus (>= 0),
channel 1 through Tanh ([-1, 1]) — the ranges of the normalised representation.

All shapes come from ``distill.models.geometry.conv_geometry``, called once per model;
layers are built eagerly in ``__init__`` so a state dict always matches its config.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from distill.audio.config import ComplexSpectrogramConfig
from distill.data.config import DataConfig
from distill.models.config import ModelConfig
from distill.models.geometry import Geometry, conv_geometry, conv_padding

#: Input/output channels of the representation: log-mel magnitude and instantaneous frequency.
SPEC_CHANNELS = 2
#: logvar is clamped to this range before ``exp``: a diverging encoder then yields a
#: large but finite loss (which the trainer's divergence check sees) instead of inf/NaN.
LOGVAR_RANGE = (-30.0, 20.0)


def _down_block(c_in: int, c_out: int, kernel_size: int, slope: float) -> nn.Sequential:
    padding, _ = conv_padding(kernel_size)
    # No conv bias: the BatchNorm that follows subtracts any constant offset anyway.
    # LeakyReLU in place: nothing else reads the BatchNorm's output, and training then keeps
    # one activation per block fewer for the backward pass (-90 MiB at batch 32).
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size, stride=2, padding=padding, bias=False),
                         nn.BatchNorm2d(c_out), nn.LeakyReLU(slope, inplace=True))


def _up_block(c_in: int, c_out: int, kernel_size: int, slope: float, last: bool) -> nn.Sequential:
    padding, output_padding = conv_padding(kernel_size)
    conv = nn.ConvTranspose2d(c_in, c_out, kernel_size, stride=2, padding=padding,
                              output_padding=output_padding, bias=last)
    if last:
        return nn.Sequential(conv)
    return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.LeakyReLU(slope, inplace=True))


class ConvEncoder(nn.Module):
    """Spectrograms ``[B, 2, M, T]`` -> ``(mu, logvar)``, each ``[B, latent_dim]``.

    Parameters
    ----------
    geometry
        Shapes from ``conv_geometry`` (the input must be exactly ``geometry.input_shape``).
    latent_dim, channels, kernel_size, negative_slope
        As in ``ModelConfig``.
    """

    def __init__(self, geometry: Geometry, latent_dim: int, channels: Sequence[int],
                 kernel_size: int, negative_slope: float) -> None:
        super().__init__()
        self.geometry = geometry
        ins = (SPEC_CHANNELS, *channels[:-1])
        self.blocks = nn.Sequential(*(_down_block(i, o, kernel_size, negative_slope)
                                      for i, o in zip(ins, channels, strict=True)))
        self.fc_mu = nn.Linear(geometry.flatten_size, latent_dim)
        self.fc_logvar = nn.Linear(geometry.flatten_size, latent_dim)
        # Start every posterior at unit variance (logvar = 0) rather than at random
        # variances: a calmer start (demo, step 2: KL 505 instead of 2,415). The bigger
        # early blow-up lived in the mean head; see TrainingConfig.lr_warmup_min_steps.
        nn.init.zeros_(self.fc_logvar.weight)
        nn.init.zeros_(self.fc_logvar.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_spectrogram_shape(x, self.geometry)
        h = self.blocks(F.pad(x, self.geometry.pad)).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)


class ConvDecoder(nn.Module):
    """Latents ``[B, latent_dim]`` -> spectrograms ``[B, 2, M, T]`` in the normalised ranges.

    Parameters
    ----------
    geometry
        Shapes from ``conv_geometry``; the output is cropped to ``geometry.input_shape``.
    latent_dim, channels, kernel_size, negative_slope
        As in ``ModelConfig`` (``channels`` in encoder order; the decoder reverses it).
    """

    def __init__(self, geometry: Geometry, latent_dim: int, channels: Sequence[int],
                 kernel_size: int, negative_slope: float) -> None:
        super().__init__()
        self.geometry = geometry
        self.latent_dim = latent_dim
        self.fc = nn.Linear(latent_dim, geometry.flatten_size)
        ins = tuple(reversed(channels))
        outs = (*ins[1:], SPEC_CHANNELS)
        self.blocks = nn.Sequential(*(
            _up_block(i, o, kernel_size, negative_slope, last=n == len(ins) - 1)
            for n, (i, o) in enumerate(zip(ins, outs, strict=True))))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latent_shape(z, self.latent_dim)
        g = self.geometry
        # No activation between fc and the first transposed conv: both are linear, which
        # lets the inference copy fold them into one matrix (distill.models.inference).
        h = self.fc(z).view(z.shape[0], *g.bottleneck_shape)
        return spectrogram_activation(self.blocks(h)[..., :g.n_mels, :g.n_frames])


class ConvVAE(nn.Module):
    """Convolutional VAE over normalised 2-channel spectrograms ``[B, 2, n_mels, n_frames]``.

    Defaults are those of ``ModelConfig``, ``ComplexSpectrogramConfig.n_mels`` and
    ``DataConfig.clip_frames`` (about 17 M parameters). Build it from configs with
    ``from_config``; ``config`` returns the ``ModelConfig`` it was built from.
    """

    def __init__(self, latent_dim: int = ModelConfig.latent_dim,
                 n_mels: int = ComplexSpectrogramConfig.n_mels,
                 n_frames: int = DataConfig.clip_frames,
                 channels: Sequence[int] = ModelConfig.channels,
                 kernel_size: int = ModelConfig.kernel_size,
                 negative_slope: float = ModelConfig.negative_slope) -> None:
        super().__init__()
        self._config = ModelConfig(latent_dim=latent_dim, channels=tuple(int(c) for c in channels),
                                   kernel_size=kernel_size, negative_slope=negative_slope)
        self.geometry = conv_geometry(n_mels, n_frames, self._config.channels)
        args = (self.geometry, latent_dim, self._config.channels, kernel_size, negative_slope)
        self.encoder = ConvEncoder(*args)
        self.decoder = ConvDecoder(*args)

    @classmethod
    def from_config(cls, model: ModelConfig, spectrogram: ComplexSpectrogramConfig,
                    data: DataConfig) -> ConvVAE:
        """The model for a representation (``n_mels``) and a clip length (``clip_frames``)."""
        return cls(latent_dim=model.latent_dim, n_mels=spectrogram.n_mels,
                   n_frames=data.clip_frames, channels=model.channels,
                   kernel_size=model.kernel_size, negative_slope=model.negative_slope)

    @property
    def config(self) -> ModelConfig:
        return self._config

    @property
    def latent_dim(self) -> int:
        return self._config.latent_dim

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, 2, M, T]`` -> ``(mu, logvar)``, each ``[B, latent_dim]``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, latent_dim]`` -> ``[B, 2, M, T]`` (channel 0 >= 0, channel 1 in [-1, 1])."""
        return self.decoder(z)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """A sample ``mu + eps * exp(logvar / 2)``, ``[B, latent_dim]`` (differentiable)."""
        std = torch.exp(0.5 * logvar.clamp(*LOGVAR_RANGE))
        return mu + torch.randn_like(std) * std

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``[B, 2, M, T]`` -> ``(recon [B, 2, M, T], mu, logvar)``.

        In training mode the decoder sees a sample of the posterior; in eval mode it sees
        ``mu``, so validation losses and previews are deterministic.
        """
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z), mu, logvar


def check_spectrogram_shape(x: torch.Tensor, geometry: Geometry) -> None:
    """Raise ``ValueError`` naming expected vs got unless ``x`` is ``[B, 2, M, T]`` of the model."""
    expected = (SPEC_CHANNELS, *geometry.input_shape)
    if x.dim() != 4 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"expected spectrograms [B, {expected[0]}, {expected[1]}, {expected[2]}], "
                         f"got {list(x.shape)}")


def check_latent_shape(z: torch.Tensor, latent_dim: int) -> None:
    """Raise ``ValueError`` naming expected vs got unless ``z`` is ``[B, latent_dim]``."""
    if z.dim() != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"expected latents [B, {latent_dim}], got {list(z.shape)}")


def spectrogram_activation(out: torch.Tensor) -> torch.Tensor:
    """Decoder output ``[B, 2, M, T]`` -> channel 0 through Softplus, channel 1 through Tanh."""
    return torch.cat([F.softplus(out[:, :1]), torch.tanh(out[:, 1:])], dim=1)
