"""How a ``LatentAnalysis`` is built: ``analyze_latents`` encodes a dataset, finds its
principal axes and names them by ear (the result and its storage: ``distill.latent.analysis``).

1. Encode every cached clip (posterior mean, eval mode, batched).
2. PCA; the leading components explaining enough variance become sliders.
3. Each axis is swept over its slider range (the other coordinates at the mean),
   decoded, synthesised and measured (``distill.latent.features``); the feature whose
   value follows the sweep most monotonically (largest |Spearman rho|) names it, and
   the axis is oriented so that "up" means more of that feature.
4. Ties (rho within ``label_tie_tolerance``) go to the feature the sweep changes most
   audibly: its range along the sweep in just-noticeable differences
   (``Feature.resolution``). Decoders couple features — a brightness sweep of a small
   model also got 8 dB louder, both perfectly monotonic — and 2.7 octaves of centroid
   (~39 JND) is the bigger change than 8 dB (8 JND). (Measuring the range against the
   feature's spread over the dataset instead picked "Loudness" there: a feature that
   hardly varies in the data gets a huge relative change from any decoder drift.)
   Of tied features of one family (centroid, rolloff, spread) only the family's
   preferred one competes.
5. No repeated name where another feature explains the axis nearly as well: when the
   winner's label is already an earlier axis', the best feature whose label is still free
   and whose |rho| is within ``ALTERNATIVE_TOLERANCE`` of the best names the axis instead
   (24 real recordings, one model: "Air, Brightness, Air 2, Air 3, Brightness 2" became
   "Air, Brightness, Bandwidth, Noisiness, Loudness", each new name at |rho| 1.00 like
   the one it replaced: decoders couple features). Without such a feature the
   repeat is told apart by the runner-up of another family ("Sustain + Pitch"), and
   only when nothing else follows the axis by a number ("Sustain 2").

Runs on the caller's thread (the trainer's worker, or the CLI); progress through
``on_event``, cancellation checked between batches and between axes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from distill.audio.config import ComplexSpectrogramConfig
from distill.audio.normalization import NormalizationStats
from distill.audio.spectrogram import ComplexSpectrogram
from distill.data.cache import DatasetCache
from distill.errors import DatasetError
from distill.latent.analysis import LatentAnalysis
from distill.latent.config import LatentConfig
from distill.latent.errors import AnalysisCancelledError
from distill.latent.events import AnalysisFinished, AxisMeasured, ClipsEncoded, LatentEvent
from distill.latent.features import FEATURE_NAMES, feature, measure_features
from distill.latent.layout import LayoutConfig, fit_layout
from distill.latent.pca import fit_pca, select_axes, spearman
from distill.latent.space import AxisInfo, LatentSpace
from distill.models.vae import ConvVAE
from distill.progress import CancelFlag, EventCallback, cancel_check, emitter

log = logging.getLogger(__name__)

#: How much lower |rho| a feature with a free label may have than the winner and still
#: name an axis whose winner's label is taken (a claim nearly as strong, and distinct).
ALTERNATIVE_TOLERANCE = 0.1


def analyze_latents(model: ConvVAE, cache: DatasetCache,
                    spectrogram: ComplexSpectrogram | ComplexSpectrogramConfig,
                    normalization: NormalizationStats, *, config: LatentConfig | None = None,
                    on_event: EventCallback[LatentEvent] | None = None,
                    cancel: CancelFlag = None, layout: LayoutConfig | None = None) -> LatentAnalysis:
    """Encode every clip of ``cache``, find the principal axes and label them.

    Parameters
    ----------
    model
        The trained VAE (any device). Put in eval mode for the analysis; its previous
        mode is restored afterwards.
    cache
        The dataset it was trained on (all usable files' clips are encoded).
    spectrogram
        The representation (a transform, or its config: a transform is then built on
        the model's device) used to synthesise the sweeps.
    normalization
        The model's normalisation statistics.
    config
        Analysis settings (defaults when None).
    on_event
        Called on this thread with ``ClipsEncoded`` (per batch), ``AxisMeasured`` (per
        axis) and ``AnalysisFinished``.
    cancel
        ``threading.Event`` or callable, checked between batches and axes.
    layout
        Settings of the nonlinear map (``distill.latent.layout``; defaults when None). The
        map the pad plays is that layout when one is fitted, PCA's first two axes otherwise.

    Returns
    -------
    LatentAnalysis
        Axes (possibly none, when every clip encodes to the same latent), map, clip latents.

    Raises
    ------
    DatasetError
        The cache holds no clip.
    AnalysisCancelledError
        ``cancel`` was set.
    """
    config = config or LatentConfig()
    emit, stop = emitter(on_event), cancel_check(cancel)
    start = time.monotonic()
    device = next(model.parameters()).device
    if isinstance(spectrogram, ComplexSpectrogramConfig):
        spectrogram = ComplexSpectrogram(spectrogram).to(device)
    was_training = model.training
    model.eval()
    try:
        latents, files, indices, spectra = _encode_all(model, cache, normalization, config.batch_size,
                                                       emit, stop)
        pca = fit_pca(latents)
        num_axes = select_axes(pca, config.min_variance_ratio, config.max_axes)
        components = pca.components[:num_axes]
        coords = ((latents - pca.mean) @ components.T).numpy()  # [N, K], un-oriented
        fitted = (latents.shape[0], int(torch.unique(files).numel()))  # clips, files
        axes: list[AxisInfo] = []
        for k in range(num_axes):
            if stop():
                raise AnalysisCancelledError
            low, high = np.percentile(coords[:, k], config.range_percentiles)
            steps = np.linspace(low, high, config.sweep_steps)
            sweep = pca.mean + torch.from_numpy(steps).float()[:, None] * components[k]
            values = _features_of_latents(model, sweep, spectrogram, normalization, config)
            axis = _label_axis(k, values, (float(low), float(high)),
                               float(pca.explained_variance[k]), float(pca.variance_ratio[k]),
                               [a.label for a in axes], config, fitted)
            axes.append(axis)
            emit(AxisMeasured(k, num_axes, axis))
    finally:
        model.train(was_training)
    space = LatentSpace(pca.mean, components, tuple(axes))
    if stop():
        raise AnalysisCancelledError
    analysis = LatentAnalysis(space=space, clip_latents=latents, clip_files=files, clip_indices=indices,
                              files=tuple(e.relpath for e in cache.files),
                              total_variance=pca.total_variance, config=config,
                              layout=fit_layout(latents, layout, spectra) if num_axes >= 2 else None)
    seconds = time.monotonic() - start
    log.info("latent analysis: %d clips, %d axes (%s) in %.1f s", analysis.num_clips, num_axes,
             ", ".join(space.labels) or "none", seconds)
    emit(AnalysisFinished(analysis.num_clips, num_axes, seconds))
    return analysis


def _encode_all(model: ConvVAE, cache: DatasetCache, normalization: NormalizationStats,
                batch_size: int, emit: EventCallback[LatentEvent], stop: Callable[[], bool]
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``mu`` ``[N, D]`` of every cached clip (CPU float32), its file and clip indices ``[N]``
    and its long-term spectrum ``[N, M]`` (log-mel magnitude averaged over time: what the
    clip sounds like, for the map layout)."""
    total = sum(e.clips for e in cache.files)
    if total == 0:
        raise DatasetError("the dataset holds no clips to analyse")
    device = next(model.parameters()).device
    out, files, indices, spectra = [], [], [], []
    done = 0
    for batch, file_ids, clip_ids in _batches(cache, batch_size):
        if stop():
            raise AnalysisCancelledError
        x = normalization.normalize(torch.from_numpy(batch).float()).to(device)
        with torch.inference_mode():
            mu, _ = model.encode(x)
        out.append(mu.float().cpu())
        spectra.append(torch.from_numpy(batch[:, 0].mean(axis=-1)).float())
        files.append(torch.from_numpy(file_ids))
        indices.append(torch.from_numpy(clip_ids))
        done += batch.shape[0]
        emit(ClipsEncoded(done, total))
    return torch.cat(out), torch.cat(files), torch.cat(indices), torch.cat(spectra)


def _batches(cache: DatasetCache, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Batches ``([B, 2, M, F] float32, file indices [B], clip indices [B])`` across files."""
    parts: list[np.ndarray] = []
    file_ids: list[np.ndarray] = []
    clip_ids: list[np.ndarray] = []
    pending = 0
    for f, entry in enumerate(cache.files):
        clips = cache.load_clips(entry)
        for lo in range(0, clips.shape[0], batch_size):
            part = np.asarray(clips[lo:lo + batch_size], dtype=np.float32)
            parts.append(part)
            file_ids.append(np.full(part.shape[0], f, dtype=np.int64))
            clip_ids.append(np.arange(lo, lo + part.shape[0], dtype=np.int64))
            pending += part.shape[0]
            while pending >= batch_size:
                batch, files, clips_idx = (np.concatenate(p) for p in (parts, file_ids, clip_ids))
                yield batch[:batch_size], files[:batch_size], clips_idx[:batch_size]
                parts, file_ids = [batch[batch_size:]], [files[batch_size:]]
                clip_ids = [clips_idx[batch_size:]]
                pending -= batch_size
    if pending:
        yield np.concatenate(parts), np.concatenate(file_ids), np.concatenate(clip_ids)


def _synthesise(spec: torch.Tensor, spectrogram: ComplexSpectrogram, config: LatentConfig) -> torch.Tensor:
    """Denormalised ``[B, 2, M, F]`` -> ``[B, S]`` on the CPU."""
    device = spectrogram.window.device
    with torch.inference_mode():
        wave = spectrogram.complex_mel_to_waveform(spec.to(device), phase=config.phase, seed=config.seed)
    return wave[:, 0].float().cpu()


def _features_of_latents(model: ConvVAE, z: torch.Tensor, spectrogram: ComplexSpectrogram,
                         normalization: NormalizationStats, config: LatentConfig) -> dict[str, np.ndarray]:
    device = next(model.parameters()).device
    with torch.inference_mode():
        spec = normalization.denormalize(model.decode(z.to(device)))
    return measure_features(_synthesise(spec, spectrogram, config), spectrogram.sample_rate)


def _label_axis(index: int, values: dict[str, np.ndarray], value_range: tuple[float, float],
                variance: float, variance_ratio: float, taken: list[str], config: LatentConfig,
                fitted: tuple[int, int]) -> AxisInfo:
    """Name, orient and describe one swept axis (see the module docstring for the rule);
    ``fitted`` = (clips, files) the axis was fitted on, stored with the claim."""
    steps = np.arange(config.sweep_steps)
    rhos = {name: spearman(steps, v) for name, v in values.items()}
    spans = {name: _span(v, feature(name).resolution) for name, v in values.items()}
    best = max(abs(r) for r in rhos.values())
    name: str | None = None
    if best >= config.min_label_correlation:
        tied = [n for n in FEATURE_NAMES if abs(rhos[n]) >= best - config.label_tie_tolerance]
        heads: dict[str, str] = {}
        for n in tied:  # FEATURE_NAMES order: the family's preferred member comes first
            heads.setdefault(feature(n).family, n)
        name = max(heads.values(), key=lambda n: spans[n])  # equal spans: the first wins
        if _taken(feature(name).label, taken):
            free = [n for n in FEATURE_NAMES if not _taken(feature(n).label, taken)
                    and abs(rhos[n]) >= max(best - ALTERNATIVE_TOLERANCE, config.min_label_correlation)]
            if free:
                name = max(free, key=lambda n: (abs(rhos[n]), spans[n]))
    direction = -1 if name is not None and rhos[name] < 0 else 1
    label = f"Axis {index + 1}" if name is None else _distinct_label(name, rhos, taken, config)
    low, high = sorted((direction * value_range[0], direction * value_range[1]))
    return AxisInfo(label=label, feature=name,
                    correlation=None if name is None else abs(rhos[name]),
                    direction=direction, low=low, high=high, variance=variance,
                    variance_ratio=variance_ratio, span=0.0 if name is None else spans[name],
                    correlations={n: direction * r for n, r in rhos.items()},
                    sweep_points=int(steps.shape[0]), fitted_clips=fitted[0], fitted_files=fitted[1])


def _span(values: np.ndarray, resolution: float) -> float:
    """Range of a feature along the sweep in just-noticeable differences (0 when not finite)."""
    extent = float(np.max(values) - np.min(values))
    return extent / resolution if np.isfinite(extent) else 0.0


def _taken(label: str, taken: list[str]) -> bool:
    """``label`` names an earlier axis (alone, numbered or with a runner-up)."""
    return any(t == label or t.startswith(label + " ") for t in taken)


def _distinct_label(name: str, rhos: dict[str, float], taken: list[str], config: LatentConfig) -> str:
    """``name``'s label; when an earlier axis has it, with the best runner-up of another
    family whose pair is still free ("Sustain + Pitch", else "Sustain + Noisiness" ...) or,
    when no other feature follows the axis, a number ("Sustain 2")."""
    label = feature(name).label
    if not _taken(label, taken):
        return label
    others = [n for n in FEATURE_NAMES if feature(n).family != feature(name).family
              and abs(rhos[n]) >= config.min_label_correlation]
    for other in sorted(others, key=lambda n: -abs(rhos[n])):  # stable: FEATURE_NAMES order on ties
        pair = f"{label} + {feature(other).label}"
        if pair not in taken:
            return pair
    repeats = sum(1 for t in taken if t == label or t.startswith(label + " "))
    return f"{label} {repeats + 1}"
