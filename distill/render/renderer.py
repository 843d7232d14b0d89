"""``Renderer``: a loaded model ready to turn latents (or slider values) into audio.

It holds the model, the frozen fast decoder copy and the inverse transform, so repeated
renders rebuild nothing. Everything is in samples at ``SAMPLE_RATE`` and returns mono
float32 numpy arrays (what ``save_audio`` and the playback engine take).

What ``generate`` does (musically): a held sound at the chosen point that breathes. A
sequence of clips, a new one every half clip (``crossfade`` 0.5), whose latents follow
a slow random walk (Ornstein-Uhlenbeck: it drifts away and is pulled back) around the
point, in slider space: each axis wanders by ``variation`` of its slider range with
time constant ``drift_seconds``. The first clip is exactly the chosen point;
``variation=0`` holds it. Same seed, same settings, same machine -> identical samples
(the walk and PGHI's random phase are both seeded).

Not thread-safe: one thread renders at a time (the studio's renderer thread owns one).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.io import load_audio
from distill.audio.normalization import NormalizationStats
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data.clips import clip_layout, clip_levels_db, file_clips
from distill.data.config import DataConfig
from distill.latent.analysis import LatentAnalysis
from distill.latent.errors import NoLatentAnalysisError
from distill.latent.morph import slerp
from distill.models.inference import decoder_for_inference
from distill.models.persistence import LoadedModel, load_model
from distill.render.config import RenderConfig
from distill.render.sequence import (
    clip_count,
    crossfade_hop,
    fade_edges,
    join_clips,
    synthesize,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class EncodedClips:
    """The clips of an audio file, encoded.

    Attributes
    ----------
    latents
        ``[N, D]`` posterior means, one per clip (silent clips included).
    levels_db
        ``[N]`` RMS level of the audio each clip covers (dBFS; ``-inf`` for silence).
    """

    latents: torch.Tensor
    levels_db: torch.Tensor

    def loudest(self) -> torch.Tensor:
        """``[D]`` latent of the loudest clip: the body of a one-shot, not its silent tail."""
        return self.latents[int(torch.argmax(self.levels_db))]

    def mean(self) -> torch.Tensor:
        """``[D]`` average latent of all clips."""
        return self.latents.mean(dim=0)


class Renderer:
    """Latents -> audio with one model (see the module docstring).

    Parameters
    ----------
    loaded
        A model file's contents (``load_model``).
    config
        Render settings (defaults when None).
    device
        Where the decoder and the inverse run (PGHI's integration is always on the CPU).
    """

    def __init__(self, loaded: LoadedModel, *, config: RenderConfig | None = None,
                 device: str | torch.device = "cpu") -> None:
        self.config = config or RenderConfig()
        self.device = torch.device(device)
        # A decoder-only load (``load_model(decoder_only=True)``) leaves the encoder on the
        # meta device: it cannot move, and ``encode`` says why instead of failing in torch.
        self.can_encode = not any(p.is_meta for p in loaded.model.encoder.parameters())
        (loaded.model if self.can_encode else loaded.model.decoder).to(self.device)
        self.model = loaded.model.eval()
        self.decoder = decoder_for_inference(self.model)
        self.spectrogram = ComplexSpectrogram(loaded.spectrogram).to(self.device)
        self.normalization: NormalizationStats = loaded.normalization
        self.data: DataConfig = loaded.data
        self.path = loaded.path
        self.analysis = LatentAnalysis.from_model_extras(loaded.extra_tensors, loaded.extra_metadata)

    @classmethod
    def from_file(cls, path: str | Path, *, config: RenderConfig | None = None,
                  device: str | torch.device = "cpu", decoder_only: bool = False) -> Renderer:
        """Load a model file (``ModelFileError`` when it cannot be read) and wrap it.

        ``decoder_only``: for rendering from latents only (``generate``); half the memory,
        and ``encode`` / ``reconstruct`` raise ``RuntimeError``.
        """
        return cls(load_model(path, device, decoder_only=decoder_only), config=config, device=device)

    # ------------------------------------------------------------------ facts
    @property
    def sample_rate(self) -> int:
        return self.spectrogram.sample_rate

    @property
    def latent_dim(self) -> int:
        return self.model.latent_dim

    @property
    def clip_frames(self) -> int:
        return self.data.clip_frames

    @property
    def clip_samples(self) -> int:
        """Samples of one rendered clip."""
        return self.spectrogram.num_samples(self.clip_frames)

    def require_analysis(self) -> LatentAnalysis:
        """The latent analysis, or ``NoLatentAnalysisError`` saying what it would take."""
        if self.analysis is None:
            where = f" {self.path}" if self.path else ""
            raise NoLatentAnalysisError(
                f"the model{where} was saved without latent analysis, so it has no named axes "
                "(retrain it with this distill, or generate without --axis)")
        return self.analysis

    # ------------------------------------------------------------------ latents -> audio
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``[B, D]`` -> denormalised spectrograms ``[B, 2, M, F]`` (batched)."""
        z = torch.as_tensor(z, dtype=torch.float32).reshape(-1, self.latent_dim)
        out = []
        with torch.inference_mode():
            for lo in range(0, z.shape[0], self.config.batch_size):
                spec = self.decoder(z[lo:lo + self.config.batch_size].to(self.device))
                out.append(self.normalization.denormalize(spec))
        return torch.cat(out)

    def render_clips(self, z: torch.Tensor, *, seed: int = 0) -> np.ndarray:
        """Each latent as its own clip: ``[D]`` -> ``[S]``, ``[B, D]`` -> ``[B, S]``, S = ``clip_samples``.

        PGHI gives batch item b the seed ``seed + b`` (same magnitudes, other random phases).
        """
        z = torch.as_tensor(z, dtype=torch.float32)
        spec = self.decode(z)
        with torch.inference_mode():
            wave = self.spectrogram.complex_mel_to_waveform(spec, phase=self.config.phase, seed=seed)
        wave = wave[:, 0].float().cpu().numpy()
        return wave[0] if z.dim() == 1 else wave

    def render_controls(self, values, *, seed: int = 0) -> np.ndarray:
        """Slider values ``[K]`` (``LatentSpace`` order) -> one clip ``[clip_samples]``.

        Raises ``NoLatentAnalysisError`` for a model saved without analysis.
        """
        return self.render_clips(self.require_analysis().space.controls_to_latent(values), seed=seed)

    def render_sequence(self, latents: torch.Tensor, num_samples: int, *, seed: int = 0,
                        hop_frames: int | None = None) -> np.ndarray:
        """One clip per latent, every ``hop_frames`` frames, crossfaded: ``[N, D]`` -> ``[num_samples]``.

        ``hop_frames`` defaults to the config's crossfade; the latents must cover
        ``num_samples`` (see ``sequence_clips``). Joins are seamless (see
        ``distill.render.sequence``); the ends are not faded here.
        """
        hop_frames = hop_frames or self.sequence_hop()
        frames = self.spectrogram.num_frames(num_samples)
        spec = join_clips(self.decode(latents), hop_frames, frames)
        return synthesize(spec, self.spectrogram, num_samples, phase=self.config.phase, seed=seed,
                          chunk_frames=self._chunk_frames())

    def sequence_hop(self) -> int:
        """Frames between consecutive clips of ``render_sequence``."""
        return crossfade_hop(self.clip_frames, self.config.crossfade)

    def sequence_clips(self, num_samples: int) -> int:
        """Clips ``render_sequence`` needs for ``num_samples`` samples at the default hop."""
        return clip_count(self.spectrogram.num_frames(num_samples), self.clip_frames, self.sequence_hop())

    def morph(self, a: torch.Tensor, b: torch.Tensor, num_samples: int, *, seed: int = 0) -> np.ndarray:
        """``[num_samples]``: from latent ``a`` to latent ``b`` along ``slerp``.

        One clip per step of the path, evenly spaced from ``a`` (first clip) to ``b``
        (last clip), around the dataset's mean latent when the model has an analysis
        (the prior's origin otherwise). Shorter than one clip: the halfway sound.
        """
        n = self.sequence_clips(num_samples)
        t = torch.linspace(0, 1, n) if n > 1 else torch.tensor([0.5])
        center = None if self.analysis is None else self.analysis.space.mean
        path = slerp(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32),
                     t, center=center)
        return self._finish(self.render_sequence(path, num_samples, seed=seed))

    def generate(self, num_samples: int, *, center: torch.Tensor | None = None, seed: int = 0) -> np.ndarray:
        """``[num_samples]`` of a held, slowly drifting sound around ``center`` (module docstring).

        Parameters
        ----------
        num_samples
            Exact output length.
        center
            ``[D]`` latent to hold (default: the dataset's mean latent, or the origin
            without analysis).
        seed
            Seed of the walk and of PGHI's random phase.
        """
        n = self.sequence_clips(num_samples)
        analysis = self.analysis
        if center is None:
            center = analysis.space.mean if analysis is not None else torch.zeros(self.latent_dim)
        center = torch.as_tensor(center, dtype=torch.float32)
        if analysis is not None and analysis.space.num_axes > 0:
            space = analysis.space
            scale = self.config.variation * (space.high - space.low)
            walk = self._walk(n, scale, seed)
            path = center + (space.controls_to_latent(walk) - space.mean)
        else:
            # No measured axes: wander in every latent dimension, in units of the prior's std.
            path = center + self._walk(n, torch.full((self.latent_dim,), self.config.variation), seed)
        return self._finish(self.render_sequence(path, num_samples, seed=seed))

    def _walk(self, n: int, scale: torch.Tensor, seed: int) -> torch.Tensor:
        """``[n, len(scale)]`` Ornstein-Uhlenbeck walk from 0, one step per clip, std ``scale``."""
        step_seconds = self.sequence_hop() * self.spectrogram.config.hop_length / self.sample_rate
        keep = math.exp(-step_seconds / self.config.drift_seconds)
        noise = np.random.default_rng(seed).standard_normal((n, scale.shape[0]))
        out = np.zeros((n, scale.shape[0]))
        for i in range(1, n):
            out[i] = keep * out[i - 1] + math.sqrt(1 - keep * keep) * noise[i]
        return torch.from_numpy(out).float() * scale

    def _finish(self, wave: np.ndarray) -> np.ndarray:
        return fade_edges(wave, round(self.config.edge_fade_seconds * self.sample_rate))

    def _chunk_frames(self) -> int:
        return int(self.config.chunk_seconds * self.sample_rate / self.spectrogram.config.hop_length)

    # ------------------------------------------------------------------ audio -> latents
    def encode(self, wave: np.ndarray | torch.Tensor) -> EncodedClips:
        """Every clip of a waveform ``[S]`` (``file_clips``, silent ones kept), encoded."""
        if not self.can_encode:
            raise RuntimeError("this renderer was loaded without its encoder (decoder_only); "
                               "load the model in full to encode audio")
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(-1)
        clips = file_clips(wave, self.spectrogram, self.data, drop_silent=False)
        layout = clip_layout(wave.shape[0], self.spectrogram, self.data)
        levels = clip_levels_db(wave.to(self.spectrogram.window.device), layout, self.spectrogram, self.data)
        out = []
        with torch.inference_mode():
            for lo in range(0, clips.shape[0], self.config.batch_size):
                x = self.normalization.normalize(clips[lo:lo + self.config.batch_size])
                out.append(self.model.encode(x.to(self.device))[0].float().cpu())
        return EncodedClips(torch.cat(out), levels.float().cpu())

    def encode_file(self, path: str | Path) -> EncodedClips:
        """``encode`` of an audio file (``AudioFileError`` when it cannot be used)."""
        return self.encode(load_audio(path, min_samples=self.spectrogram.config.n_fft,
                                      max_seconds=self.data.max_file_seconds))

    def reconstruct(self, wave: np.ndarray | torch.Tensor, *, seed: int = 0) -> np.ndarray:
        """A waveform ``[S]`` through the model (encode, decode, rejoin): ``[S]``."""
        wave = torch.as_tensor(wave, dtype=torch.float32).reshape(-1)
        latents = self.encode(wave).latents
        return _rejoin(self.decode(latents), wave.shape[0], self.spectrogram, self.data, self.config, seed)


def reconstruct_representation(wave: np.ndarray | torch.Tensor, *,
                               spectrogram: ComplexSpectrogramConfig | None = None,
                               data: DataConfig | None = None, config: RenderConfig | None = None,
                               seed: int = 0) -> np.ndarray:
    """A waveform ``[S]`` through the representation alone (clips -> rejoin -> inverse): ``[S]``.

    The same clips a model is trained on (``file_clips``, per-clip IF masking) and the
    same join and inverse ``Renderer.reconstruct`` uses, without the model: what the
    representation itself costs, to compare a model's reconstruction with.
    """
    transform = ComplexSpectrogram(spectrogram or ComplexSpectrogramConfig())
    data = data or DataConfig()
    wave = torch.as_tensor(wave, dtype=torch.float32).reshape(-1)
    clips = file_clips(wave, transform, data, drop_silent=False)
    return _rejoin(clips, wave.shape[0], transform, data, config or RenderConfig(), seed)


def _rejoin(clips: torch.Tensor, num_samples: int, spectrogram: ComplexSpectrogram, data: DataConfig,
            config: RenderConfig, seed: int) -> np.ndarray:
    """Denormalised clips ``[N, 2, M, F]`` cut at the data's clip hop -> ``[num_samples]``."""
    spec = join_clips(clips, data.clip_hop_frames, spectrogram.num_frames(num_samples))
    chunk = int(config.chunk_seconds * spectrogram.sample_rate / spectrogram.config.hop_length)
    return synthesize(spec, spectrogram, num_samples, phase=config.phase, seed=seed, chunk_frames=chunk)
