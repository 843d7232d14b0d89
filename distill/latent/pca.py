"""PCA of encoded clips and rank correlation: the statistics behind the sliders.

``fit_pca`` centres the latents ``[N, D]`` and takes their principal directions (SVD of
the centred matrix, float64 for stability); ``select_axes`` keeps the components worth a
slider; ``spearman`` measures how monotonically a feature follows a sweep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: Explained-variance ratio under which a component counts as numerically zero.
ZERO_VARIANCE_RATIO = 1e-9


@dataclass(frozen=True)
class PCAResult:
    """Principal components of a set of latents.

    Attributes
    ----------
    mean
        ``[D]`` mean latent.
    components
        ``[R, D]`` orthonormal principal directions, strongest first (``R = min(N, D)``).
        Each is signed so its largest-magnitude coordinate is positive (deterministic).
    explained_variance
        ``[R]`` variance of the data along each component (unbiased, ``N - 1``).
    total_variance
        Sum of the per-dimension variances (the denominator of every ratio).
    """

    mean: torch.Tensor
    components: torch.Tensor
    explained_variance: torch.Tensor
    total_variance: float

    @property
    def variance_ratio(self) -> torch.Tensor:
        """``[R]`` share of the total variance along each component (zeros when there is none)."""
        if self.total_variance <= 0:
            return torch.zeros_like(self.explained_variance)
        return self.explained_variance / self.total_variance


def fit_pca(latents: torch.Tensor) -> PCAResult:
    """Principal components of ``latents`` ``[N, D]`` (N >= 1), returned as float32 on the CPU."""
    if latents.dim() != 2 or latents.shape[0] < 1:
        raise ValueError(f"expected latents [N, D] with N >= 1, got {list(latents.shape)}")
    x = latents.detach().double().cpu()
    mean = x.mean(dim=0)
    centred = x - mean
    dof = max(x.shape[0] - 1, 1)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    variance = singular.square() / dof
    signs = torch.sign(vh.gather(1, vh.abs().argmax(dim=1, keepdim=True)))
    components = vh * torch.where(signs == 0, 1.0, signs).to(vh.dtype)
    total = float(centred.square().sum() / dof)
    return PCAResult(mean.float(), components.float(), variance.float(), total)


def select_axes(pca: PCAResult, min_variance_ratio: float, max_axes: int) -> int:
    """How many leading components become sliders.

    Those explaining at least ``min_variance_ratio`` of the variance, at most
    ``max_axes``; at least one whenever the latents vary at all, none when they do not.
    """
    ratio = pca.variance_ratio
    if ratio.numel() == 0 or float(ratio[0]) <= ZERO_VARIANCE_RATIO:
        return 0
    keep = int((ratio >= min_variance_ratio).sum())
    return max(1, min(keep, max_axes))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation of two equal-length sequences (average ranks for ties).

    0.0 when either is constant (a flat feature says nothing about the axis).
    """
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = float(np.sqrt((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / denom) if denom > 0 else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    # Tied values share the mean of their ranks.
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]
