"""The VAE loss, term by term, on normalised 2-channel spectrograms ``[B, 2, M, T]``.

- magnitude: L1 on channel 0 (normalised log-mel magnitude), optionally weighted towards
  loud bins (``weights.magnitude_emphasis``). With
  ``weights.magnitude_range`` > 0 both sides are first raised to a floor that far below
  the target clip's loudest bin: bins the target holds as near-silence count only when the
  reconstruction puts sound there, and the model is not paid for copying the texture of
  a noise floor 100 dB down (log compression gives that floor half the numeric range);
- instantaneous frequency: L1 on channel 1, weighted by the target's channel 0
  normalised to mean 1 over the batch — IF is only audible (and only meaningful) where
  there is energy, and quiet bands are masked to 0 in the data anyway;
- multi-resolution STFT: spectral convergence + log-magnitude L1 at FFT sizes
  512/1024/2048 (hop = size/4, Hann) between the waveform synthesised from the
  reconstruction and the one synthesised from the target. The caller supplies
  ``synthesize`` (denormalise + ``ComplexSpectrogram.complex_mel_to_waveform(phase=
  "locked")``, which is differentiable) so this module stays free of audio settings;
- frame level (``weights.level``, 0 = off): L1 between the frames' summed mel energies
  (``frame_levels``, in channel 0's units), so that a spectrum the decoder is unsure of
  keeps the sound's energy instead of the log-domain median's quieter blur;
- KL divergence to N(0, I): summed over latent dimensions, averaged over the batch. With
  ``weights.kl_free_bits`` > 0 each dimension's batch-mean KL under that many nats costs
  nothing ("free bits", Kingma et al. 2016): a dimension may carry that much information
  before the prior pulls on it, so a stronger KL weight shapes the space without
  collapsing it. ``LossTerms.kl`` reports the plain divergence either way.

``vae_loss`` returns every term separately (``LossTerms``) so the trainer can report
them; the KL term is weighted by ``weights.kl * beta`` (beta is the warm-up ramp).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import torch

from distill.models.config import LossWeights
from distill.models.vae import LOGVAR_RANGE

#: FFT sizes of the multi-resolution STFT loss (hop = size // 4, Hann window).
STFT_FFT_SIZES = (512, 1024, 2048)
#: Floor of the STFT power before the square root and log: keeps both differentiable at 0.
STFT_POWER_FLOOR = 1e-7
#: Mean magnitude under which the IF weights fall back to uniform (an all-silent batch).
IF_WEIGHT_FLOOR = 1e-8

#: ``[B, 2, M, T]`` normalised spectrograms -> ``[B, 1, S]`` waveforms, differentiable.
Synthesize = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LossTerms:
    """Every term of the VAE loss, as 0-d tensors (``total`` is the one to backpropagate).

    ``kl`` is the unweighted divergence; ``total`` includes it times ``weights.kl * beta``.
    """

    magnitude: torch.Tensor
    instantaneous_frequency: torch.Tensor
    stft: torch.Tensor
    level: torch.Tensor
    kl: torch.Tensor
    total: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        """``{"magnitude": ..., "instantaneous_frequency": ..., "stft": ..., "level": ...,
        "kl": ..., "total": ...}``."""
        return {f.name: float(getattr(self, f.name).detach()) for f in fields(self)}


def magnitude_loss(recon: torch.Tensor, target: torch.Tensor, floor_range: float = 0.0,
                   emphasis: float = 0.0) -> torch.Tensor:
    """Mean absolute error on channel 0 of ``[B, 2, M, T]`` (normalised magnitude).

    ``floor_range`` > 0: both sides are raised to ``peak - floor_range`` first, ``peak`` the
    target clip's largest channel-0 value (so errors under the floor on both sides count 0).
    ``emphasis`` in [0, 1]: each bin's error is weighted ``1 - emphasis + emphasis * w``,
    ``w`` the target's channel 0 divided by its batch mean (mean 1, as the IF term's
    weights), so loud bins count more and the term's scale stays that of the plain L1.
    """
    r, t = recon[:, 0], target[:, 0]
    if floor_range > 0:
        floor = t.detach().amax(dim=(1, 2), keepdim=True) - floor_range
        r, t = torch.maximum(r, floor), torch.maximum(t, floor)
    error = (r - t).abs()
    if emphasis > 0:
        error = error * (1 - emphasis + emphasis * _loudness_weights(target))
    return error.mean()


def frame_levels(spec: torch.Tensor, magnitude_scale: float) -> torch.Tensor:
    """``[B, T]``: each frame's mel energy summed over the bands, in channel 0's units.

    Channel 0 is ``log1p(energy / floor) / magnitude_scale`` per band, so a frame's level
    is ``log1p(sum(expm1(scale * c0))) / scale``: what channel 0 would hold if the frame's
    whole energy sat in one band. Its gradient per band is at most 1 (a softmax's share).
    Computed as a log-sum-exp around each frame's largest band, so an untrained decoder's
    huge outputs give a large finite level, not ``inf``.
    """
    raw = spec[:, 0].clamp_min(0.0) * magnitude_scale
    top = raw.detach().amax(dim=1, keepdim=True)
    floor = torch.exp(-top)  # 1 / e^top: the "1" of each band's expm1, scaled like the rest
    inside = floor[:, 0] + (torch.exp(raw - top) - floor).sum(dim=1)
    return (top[:, 0] + torch.log(inside)) / magnitude_scale


def level_loss(recon: torch.Tensor, target: torch.Tensor, magnitude_scale: float) -> torch.Tensor:
    """Mean absolute error of the frame levels (``frame_levels``) of ``[B, 2, M, T]``.

    The magnitude term's L1 on log energies is paid the same for a bin too loud as for
    one too quiet, so where the decoder is unsure of a spectrum's shape (sounds unlike
    the training clips) it settles on the log-domain median: a blur that is quieter than
    the sound. This term holds each frame's summed energy, whatever its shape.
    """
    return (frame_levels(recon, magnitude_scale) - frame_levels(target, magnitude_scale)).abs().mean()


def instantaneous_frequency_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Magnitude-weighted mean absolute error on channel 1 of ``[B, 2, M, T]``.

    The weights are the target's channel 0 divided by its mean over the whole batch
    (mean weight 1, so the scale of this term does not depend on the loudness of the
    data); an all-silent batch falls back to uniform weights.
    """
    return (_loudness_weights(target) * (recon[:, 1] - target[:, 1]).abs()).mean()


def _loudness_weights(target: torch.Tensor) -> torch.Tensor:
    """``[B, M, T]``: the target's channel 0 over its batch mean (uniform for a silent batch).

    No host sync (``torch.where``, not an ``if`` on a tensor): it runs every step.
    """
    loudness = target[:, 0].detach()
    mean = loudness.mean()
    return torch.where(mean > IF_WEIGHT_FLOOR, loudness / mean.clamp_min(IF_WEIGHT_FLOOR),
                       torch.ones_like(loudness))


def stft_magnitude(wave: torch.Tensor, n_fft: int) -> torch.Tensor:
    """``[B, 1, S]`` or ``[B, S]`` -> STFT magnitude ``[B, n_fft/2+1, frames]`` (hop n_fft/4, Hann)."""
    x = wave.reshape(-1, wave.shape[-1])
    window = torch.hann_window(n_fft, device=x.device, dtype=x.dtype)
    spec = torch.stft(x, n_fft, n_fft // 4, window=window, center=True, pad_mode="constant",
                      return_complex=True)
    return (spec.real.square() + spec.imag.square()).clamp_min(STFT_POWER_FLOOR).sqrt()


def multi_resolution_stft_loss(pred: torch.Tensor, target: torch.Tensor,
                               fft_sizes: Sequence[int] = STFT_FFT_SIZES) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1, averaged over the FFT sizes.

    Parameters
    ----------
    pred, target
        Waveforms ``[B, 1, S]`` of the same shape (gradients flow into ``pred``).
    fft_sizes
        FFT sizes (hop = size // 4, Hann window).

    Returns
    -------
    torch.Tensor
        0-d; spectral convergence ``||T| - |P||_F / ||T||_F`` per item, averaged over
        the batch, plus ``mean |log|T| - log|P||``, averaged over the resolutions.
    """
    if pred.shape != target.shape:
        raise ValueError(f"waveform shapes differ: {list(pred.shape)} vs {list(target.shape)}")
    total = pred.new_zeros(())
    for n_fft in fft_sizes:
        p, t = stft_magnitude(pred, n_fft), stft_magnitude(target, n_fft)
        diff = torch.linalg.vector_norm((t - p).flatten(1), dim=1)
        norm = torch.linalg.vector_norm(t.flatten(1), dim=1).clamp_min(STFT_POWER_FLOOR)
        convergence = (diff / norm).mean()
        log_l1 = (t.log() - p.log()).abs().mean()
        total = total + convergence + log_l1
    return total / len(fft_sizes)


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``[D]``: KL(N(mu, exp(logvar)) || N(0, 1)) of each latent dimension, mean over the batch."""
    logvar = logvar.clamp(*LOGVAR_RANGE)
    return (-0.5 * (1 + logvar - mu.square() - logvar.exp())).mean(dim=0)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) of ``[B, D]`` posteriors: sum over D, mean over B."""
    return kl_per_dimension(mu, logvar).sum()


def kl_penalty(mu: torch.Tensor, logvar: torch.Tensor, free_bits: float = 0.0) -> torch.Tensor:
    """The KL term that is optimised: per dimension at least ``free_bits`` nats, summed.

    The clamp makes dimensions under the threshold constant (no gradient), so the prior
    pulls only on those that carry more.
    """
    per_dim = kl_per_dimension(mu, logvar)
    return per_dim.clamp_min(free_bits).sum() if free_bits > 0 else per_dim.sum()


def vae_loss(recon: torch.Tensor, target: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             *, weights: LossWeights, beta: float, synthesize: Synthesize | None = None,
             magnitude_scale: float = 1.0) -> LossTerms:
    """All loss terms of one batch, and their weighted total.

    Parameters
    ----------
    recon, target
        Normalised spectrograms ``[B, 2, M, T]`` (decoder output and data).
    mu, logvar
        Posterior parameters ``[B, latent_dim]``.
    weights
        Weight of each term; the KL term is weighted by ``weights.kl * beta``.
    beta
        KL warm-up factor of this step.
    synthesize
        Normalised spectrograms -> waveforms ``[B, 1, S]``, differentiable. The STFT
        term is 0 (and nothing is synthesised) when it is None or ``weights.stft == 0``;
        the target's waveform is synthesised without gradient.
    magnitude_scale
        The data's ``NormalizationStats.magnitude_scale``, for the level term (computed
        only when ``weights.level`` > 0).

    Returns
    -------
    LossTerms
        Every term (0-d tensors on ``recon``'s device) and ``total``.
    """
    if recon.shape != target.shape or recon.dim() != 4 or recon.shape[1] != 2:
        raise ValueError(f"expected two spectrogram batches [B, 2, M, T] of one shape, got "
                         f"{list(recon.shape)} and {list(target.shape)}")
    mag = magnitude_loss(recon, target, weights.magnitude_range, weights.magnitude_emphasis)
    inst = instantaneous_frequency_loss(recon, target)
    if synthesize is not None and weights.stft != 0:
        with torch.no_grad():
            target_wave = synthesize(target)
        stft = multi_resolution_stft_loss(synthesize(recon), target_wave)
    else:
        stft = recon.new_zeros(())
    level = level_loss(recon, target, magnitude_scale) if weights.level > 0 else recon.new_zeros(())
    per_dim = kl_per_dimension(mu, logvar)
    kl = per_dim.sum()
    penalty = per_dim.clamp_min(weights.kl_free_bits).sum() if weights.kl_free_bits > 0 else kl
    total = (weights.magnitude * mag + weights.instantaneous_frequency * inst
             + weights.stft * stft + weights.level * level + weights.kl * beta * penalty)
    return LossTerms(magnitude=mag, instantaneous_frequency=inst, stft=stft, level=level, kl=kl,
                     total=total)
