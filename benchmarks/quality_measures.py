"""What ``benchmarks/quality.py`` measures beyond reconstruction: generation and the map.

- ``sound_features``: loudness (dBFS), brightness (log2 Hz centroid), noisiness (flatness
  dB) and pitch salience (peak of the normalised autocorrelation between 40 Hz and 2 kHz,
  energy-weighted over active frames: ~1 for a steady tone, ~0 for noise) of ``[B, S]``;
- ``feature_distance``: how far one set of sounds is from another on those features:
  per feature the 1-D Wasserstein distance divided by the reference set's spread (std),
  averaged over the features (0 = the same distribution; ~1 = a whole spread apart);
- ``nearest_clip_convergence``: the spectral convergence of each unseen clip's closest
  training clip (at the unseen clip's level): what a model that only memorised its
  training clips, and picked the right one every time, would score on unseen clips;
- ``map_measures``: the share of each clip's 5 nearest map neighbours from its own family
  (the file's sub-folder), on PCA's plane and on the stored (or a freshly fitted) layout.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import wasserstein_distance

from distill.audio.metrics import RESOLUTIONS
from distill.latent import LatentAnalysis
from distill.latent.features import measure_features
from distill.latent.layout import fit_layout, neighbour_share

FEATURES = ("loudness", "brightness", "noisiness", "pitch_salience")
#: Loudness floor (dBFS): a silent output is "very quiet", not minus infinity.
LOUDNESS_FLOOR_DB = -100.0
_FRAME, _HOP, _ACTIVE_DB = 2048, 512, 30.0


def sound_features(waves: np.ndarray | torch.Tensor, sample_rate: int) -> dict[str, np.ndarray]:
    """``[B, S]`` -> feature name -> ``[B]`` (see the module docstring)."""
    x = torch.as_tensor(np.asarray(waves, dtype=np.float32)).reshape(len(waves), -1)
    measured = measure_features(x, sample_rate)
    rms = x.square().mean(dim=1).sqrt().numpy()
    return {
        "loudness": np.maximum(20 * np.log10(np.maximum(rms, 1e-12)), LOUDNESS_FLOOR_DB),
        "brightness": measured["centroid"],
        "noisiness": measured["flatness"],
        "pitch_salience": _pitch_salience(x, sample_rate),
    }


def feature_distance(values: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> float:
    """Mean over ``FEATURES`` of W1(values, reference) / std(reference)."""
    out = []
    for name in FEATURES:
        spread = max(float(np.std(reference[name])), 1e-6)
        out.append(wasserstein_distance(values[name], reference[name]) / spread)
    return float(np.mean(out))


def nearest_clip_convergence(references: np.ndarray, candidates: np.ndarray) -> float:
    """Mean over ``references`` ``[R, S]`` of the smallest spectral convergence
    (``distill.audio.metrics``, averaged over its resolutions) of any of ``candidates``
    ``[C, S]`` scaled to the reference's RMS."""
    ref = torch.as_tensor(np.asarray(references, np.float32))
    cand = torch.as_tensor(np.asarray(candidates, np.float32))
    gain = ref.square().mean(1).sqrt()[:, None] / cand.square().mean(1).sqrt().clamp_min(1e-12)[None]
    total = torch.zeros(ref.shape[0], cand.shape[0], dtype=torch.float64)
    for n_fft in RESOLUTIONS:
        window = torch.hann_window(n_fft)
        a, b = (torch.stft(x, n_fft, n_fft // 4, window=window, center=True, return_complex=True)
                .abs().flatten(1).double() for x in (ref, cand))
        aa, bb, ab = a.square().sum(1)[:, None], b.square().sum(1)[None], a @ b.T
        g = gain.double()
        # || A - g B ||^2 = |A|^2 - 2 g <A, B> + g^2 |B|^2, for every pair at once
        total += (aa - 2 * g * ab + g.square() * bb).clamp_min(0).sqrt() / aa.sqrt().clamp_min(1e-12)
    return float((total / len(RESOLUTIONS)).min(dim=1).values.mean())


def map_measures(analysis: LatentAnalysis, k: int = 5) -> dict[str, float]:
    """Neighbour share by family on the PCA plane and on the layout, both with any neighbour
    and with neighbours from other files only (a file's own clips are trivially alike)."""
    families = np.array([analysis.files[int(f)].replace("\\", "/").split("/")[0]
                         for f in analysis.clip_files])
    files = analysis.clip_files.numpy()
    pca = analysis.space.latent_to_map(analysis.clip_latents).numpy()
    stored = getattr(analysis, "layout", None)
    layout = stored if stored is not None else fit_layout(analysis.clip_latents)
    out = {"families": len(set(families)), "clips": analysis.num_clips,
           "pca": neighbour_share(pca, families, k),
           "pca_other_files": _share_other_files(pca, families, files, k),
           "latent": neighbour_share(analysis.clip_latents.numpy(), families, k),
           "layout_stored": stored is not None}
    if layout is not None:
        points = layout.points.numpy()
        out["layout"] = neighbour_share(points, families, k)
        out["layout_other_files"] = _share_other_files(points, families, files, k)
    return out


def _share_other_files(points: np.ndarray, families: np.ndarray, files: np.ndarray, k: int) -> float:
    d = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    d[files[:, None] == files[None, :]] = np.inf
    shares = []
    for i in range(len(points)):
        finite = np.isfinite(d[i])
        if not finite.any():
            continue
        nearest = np.argsort(d[i], kind="stable")[:min(k, int(finite.sum()))]
        shares.append(float((families[nearest] == families[i]).mean()))
    return float(np.mean(shares)) if shares else float("nan")


def _pitch_salience(x: torch.Tensor, sample_rate: int) -> np.ndarray:
    frames = torch.nn.functional.pad(x, (0, _FRAME)).unfold(1, _FRAME, _HOP)  # [B, F, N]
    frames = frames * torch.hann_window(_FRAME)
    spec = torch.fft.rfft(frames, n=2 * _FRAME)
    acf = torch.fft.irfft(spec.abs().square(), n=2 * _FRAME)[..., :_FRAME]
    energy = acf[..., 0]
    lo, hi = int(sample_rate / 2000), int(sample_rate / 40)
    peak = acf[..., lo:hi].max(dim=-1).values / energy.clamp_min(1e-12)
    db = 10 * torch.log10(energy.clamp_min(1e-20))
    active = (db > db.max(dim=1, keepdim=True).values - _ACTIVE_DB) & (energy > 1e-12)
    weights = energy * active
    out = (peak.clamp(0, 1) * weights).sum(1) / weights.sum(1).clamp_min(1e-20)
    return out.numpy().astype(np.float64)
