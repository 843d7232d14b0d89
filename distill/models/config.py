"""``ModelConfig`` (the VAE's hyper-parameters) and ``LossWeights`` (the terms of its loss).
``distill.training.config`` re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass

from distill.config_base import ConfigBase, check_range

#: Upper bounds of the hyper-parameters a model file may declare. The spec's model uses
#: latent 128 and channels up to 1024; these leave room for experiments while a forged
#: file (latent_dim 1e9, channels 1e6) is refused before anything is allocated.
MAX_LATENT_DIM = 4096
MAX_CHANNELS = 8192
MAX_LAYERS = 8
MAX_KERNEL_SIZE = 15


@dataclass(frozen=True)
class ModelConfig(ConfigBase):
    """Hyper-parameters of the convolutional VAE (input shape comes from the data configs).

    The channel progression and the five stride-2 layers are fixed by the product spec;
    they are stored so that a model file describes itself.
    """

    latent_dim: int = 128
    channels: tuple[int, ...] = (64, 128, 256, 512, 1024)
    kernel_size: int = 3
    negative_slope: float = 0.2

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_range(owner, "latent_dim", self.latent_dim, 1, MAX_LATENT_DIM, integer=True)
        if not isinstance(self.channels, tuple) or not 1 <= len(self.channels) <= MAX_LAYERS:
            raise ValueError(f"{owner}: channels must be 1 to {MAX_LAYERS} layer widths, "
                             f"got {self.channels!r}")
        for width in self.channels:
            check_range(owner, "channels", width, 1, MAX_CHANNELS, integer=True)
        check_range(owner, "kernel_size", self.kernel_size, 2, MAX_KERNEL_SIZE, integer=True)
        check_range(owner, "negative_slope", self.negative_slope, 0, 1)
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if len(self.channels) < 1 or any(c < 1 for c in self.channels):
            raise ValueError(f"channels must be positive, got {self.channels}")
        if self.kernel_size < 2:
            raise ValueError(f"kernel_size must be >= 2, got {self.kernel_size}")


@dataclass(frozen=True)
class LossWeights(ConfigBase):
    """Weight of every term of the VAE loss (the KL weight is ramped by the warm-up).

    The waveform (multi-resolution STFT) term is OFF by default (``stft`` 0): training
    optimises the spectrogram terms only, and the term can be turned on (the studio's
    "STFT weight", ``distill train --config`` with ``{"training": {"loss_weights":
    {"stft": ...}}}``). Measured with ``benchmarks/quality.py`` on 24 real recordings of 4
    families (20 training files, 8 unseen), 251 / 242 epochs of the small preset, two
    concurrent 1-thread runs: weight 0 against 0.005 (the default until then, from 20 % of
    the run) gave training-clip spectral convergence 0.460 vs
    0.569 (the representation's own: 0.319), training RMS error -1.4 vs -3.7 dB (worst
    clip -4.7 vs -14.5 dB), held-out clips 0.830 vs 0.795 (two more weight-0 runs: 0.796,
    0.809), map draws' feature distance to the folder 0.35 vs 0.58, in 1,138 s instead
    of 1,583 s. The earlier measurement below (demo dataset) pointed the same way.

    The waveform term's gradient is ~70x the magnitude term's at
    equal weight (it acts through the exponential magnitude mapping), and gradients are
    clipped by their total norm: at weight 0.25 it drowned the spectrogram terms. Measured
    on the demo dataset (1,500 steps, batch 8; magnitude error in nepers per mel bin on
    the training clips / spectral convergence of the rendered audio): weight 0.25: 2.40 /
    0.83; 0.05: 2.18 / 0.87; 0.01: 1.21 / 0.73; 0.005: 0.99 / 0.63; 0 (term off): 0.88 /
    0.56 — and at 0.005 the waveform loss itself ends lower than at 0.25 (0.91 vs 1.31).

    ``magnitude_range`` (normalised units, 0 = off): the magnitude error counts only within
    this much of each target clip's peak (``distill.models.losses.magnitude_loss``).
    ``kl_free_bits`` (nats per latent dimension, 0 = off): KL below it is free. Both off by
    default, as measured (``benchmarks/quality.py``, 24 real recordings of 4 families):
    free bits 0.25 changed nothing at a short budget (training-clip spectral convergence
    0.85 vs 0.82, fewer steps) and made prior draws further from the data (the model keeps
    ~15 nats in all, so 0.25 nats x 128 dimensions left almost every dimension unpulled);
    with ``magnitude_range`` 0.6 as well the waveform term blew up within 70 steps (bins
    left free under the floor synthesise as noise under near-silent targets).

    ``magnitude_emphasis`` (0-1, 0 = plain L1): the magnitude error of each bin weighted
    ``1 - e + e * loudness`` (the target's channel 0 over its batch mean), so that loud
    bins, which carry what is heard and the spectral convergence, count more than the
    many quiet ones (``distill.models.losses.magnitude_loss``). Off by default, as
    measured (same setup as above, waveform term off, 251 epochs): emphasis 0 / 0.5 / 1
    gave training-clip spectral convergence 0.460 / 0.454 / 0.467 and log-magnitude L1
    0.530 / 0.539 / 0.708, held-out 0.830 / 0.796 / 0.809 and L1 0.671 / 0.692 / 0.919:
    the quiet bins it neglects cost more than the loud ones gain.

    ``level`` (0 = off): L1 of each frame's summed mel energy (``distill.models.losses.
    level_loss``). The magnitude term's log-domain L1 lets a decoder unsure of a sound's
    spectrum settle on a quieter blur, so unseen sounds came back ~6.6 dB too quiet. Off
    by default, as measured (``benchmarks/quality.py``, same folder and held-out files as
    above, 277 epochs = 2,216 steps of the small preset, 1-thread runs in concurrent
    groups; training clips: spectral convergence, log-magnitude L1; unseen clips:
    spectral convergence, RMS error mean / worst): weight 0: 0.447, 0.519; 0.815,
    -6.6 / -17.4 dB. 0.5: 0.456, 0.563; 0.790, -5.5 / -20.2 dB. 1.0: SC 0.499; 0.787,
    -4.4 dB. Unseen sounds come back a little louder and closer, the training clips (what
    the instrument plays) a little worse, and no weight brought unseen levels within 3 dB.
    """

    magnitude: float = 1.0
    instantaneous_frequency: float = 0.5
    stft: float = 0.0
    kl: float = 1.0
    magnitude_range: float = 0.0
    kl_free_bits: float = 0.0
    magnitude_emphasis: float = 0.0
    level: float = 0.0

    def __post_init__(self) -> None:
        for name in ("magnitude", "instantaneous_frequency", "stft", "kl", "magnitude_range", "kl_free_bits",
                     "level"):
            check_range(type(self).__name__, name, getattr(self, name), 0, 1e6)
        check_range(type(self).__name__, "magnitude_emphasis", self.magnitude_emphasis, 0, 1)
