"""A nonlinear 2-D map of the encoded clips (t-SNE) and its two directions.

PCA's first two axes keep the directions of largest variance, which need not separate
the kinds of sound a folder holds: on 24 real recordings of four families the share of
a clip's 5 nearest map neighbours from its own family was about chance. A neighbour-
preserving layout keeps sounds of one kind together; this module computes one and
makes it playable:

- ``fit_layout``: clip latents ``[N, D]`` -> ``MapLayout`` (t-SNE, ``distill.latent.tsne``;
  deterministic, so the same model always gets the same map). Beyond ``MAX_FITTED_CLIPS``
  clips, t-SNE lays out a seeded random subset and the others are placed by the
  interpolation below, from their nearest fitted clips;
- ``MapLayout.to_latent``: a map point -> a latent, by interpolating the latents of the
  nearest clips (modified Shepard weights: ``((R - d) / (R d))^2`` with ``R`` the distance
  to the ``k + 1``-th nearest point, so the weights fall to 0 before a point leaves the
  neighbourhood and the latent moves continuously under a dragging hand);
- ``MapLayout.to_map``: a latent -> a map point, the same interpolation the other way
  (latent distances to the clips, their map positions weighted): where the cursor sits
  for a latent set by sliders, a preset or a dropped file.

At a clip's own position both return exactly that clip. Qt-free; pure functions of the
stored points, so any thread may call them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from distill.config_base import ConfigBase, check_range
from distill.latent.tsne import nearest_neighbours, tsne

log = logging.getLogger(__name__)

#: Fewer (distinct) clips than this get no layout (t-SNE needs a neighbourhood; PCA serves).
MIN_LAYOUT_CLIPS = 8
#: Most clips t-SNE lays out itself: its exact repulsion costs O(N^2) per iteration. One torch
#: thread on a busy 2-core machine: 0.3-0.6 s at 100 clips, 2.1 s at 1000, 43 s at 5000
#: (scikit-learn's Barnes-Hut t-SNE: 0.3 s, 6.2 s, 45 s); 10 000 clips (5000 fitted) 57 s;
#: memory grows with N (43 MiB peak at 5000, 111 MiB at 10 000), not N^2. The interpolated
#: clips keep fewer of their map neighbours in their family than fitted ones would
#: (5000 synthetic clips in 8 overlapping families: 0.70 with 2000 fitted, 0.78 all fitted).
MAX_FITTED_CLIPS = 5000
#: Half-width of the layout's coordinate range: points are scaled into [-EXTENT, EXTENT].
EXTENT = 1.0
#: Distance under which a query sits on a point (its weight would be infinite).
_ON_POINT = 1e-9
#: Query-by-clip distances computed at once when placing the clips t-SNE did not fit.
_PLACE_BLOCK = 1_000_000


@dataclass(frozen=True)
class LayoutConfig(ConfigBase):
    """How ``fit_layout`` lays the clips out.

    Attributes
    ----------
    enabled
        Compute a layout at all (off: the map is PCA's first two axes).
    perplexity
        t-SNE's effective neighbourhood size; capped at ``(N - 1) / 3`` for small folders.
    neighbours
        Clips interpolated by ``to_latent`` / ``to_map``.
    seed
        Chooses the clips t-SNE fits when there are more than ``MAX_FITTED_CLIPS`` (t-SNE
        itself starts from PCA); the same model always gets the same map.
    descriptor_weight
        Weight of the clips' own sound (their long-term spectrum) next to their latents in
        the distances the layout keeps (both blocks scaled to the same size first; 0 = the
        latents alone). On 24 real recordings of 4 families (162 clips, two models) the
        latents alone kept 0.69-0.71 of a clip's 5 map neighbours in its family, with
        the spectrum at weight 1 0.79-0.80, at weight 2 0.81-0.82 (perplexity 5; at 10:
        0.67-0.70, 0.76, 0.79-0.80). The map is of the folder's sounds; the latents still
        do the playing (``to_latent``). Tuned on that one folder.
    """

    enabled: bool = True
    perplexity: float = 5.0
    neighbours: int = 6
    seed: int = 0
    descriptor_weight: float = 2.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_range(owner, "perplexity", self.perplexity, 1, 1000)
        check_range(owner, "neighbours", self.neighbours, 1, 256, integer=True)
        check_range(owner, "seed", self.seed, 0, 2**31 - 1, integer=True)
        check_range(owner, "descriptor_weight", self.descriptor_weight, 0, 100)


@dataclass(frozen=True, eq=False)
class MapLayout:
    """Map positions of the clips and the interpolation between map and latent space.

    Parameters
    ----------
    points
        ``[N, 2]`` map position of every clip, within ``[-EXTENT, EXTENT]``.
    latents
        ``[N, D]`` the clips' latents (the analysis' ``clip_latents``; not stored twice).
    config
        The settings it was fitted with (``neighbours`` is used by the interpolation).
    """

    points: torch.Tensor
    latents: torch.Tensor
    config: LayoutConfig

    def __post_init__(self) -> None:
        if self.points.dim() != 2 or self.points.shape[1] != 2 or self.latents.dim() != 2 \
                or self.points.shape[0] != self.latents.shape[0]:
            raise ValueError(f"expected points [N, 2] and latents [N, D], got {list(self.points.shape)} "
                             f"and {list(self.latents.shape)}")

    @property
    def num_points(self) -> int:
        return int(self.points.shape[0])

    def limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((x0, x1), (y0, y1))``: the pad's playable range (the points' box, with a margin)."""
        low = self.points.min(dim=0).values - 0.1 * EXTENT
        high = self.points.max(dim=0).values + 0.1 * EXTENT
        return (float(low[0]), float(high[0])), (float(low[1]), float(high[1]))

    def to_latent(self, xy: torch.Tensor | np.ndarray | tuple[float, float]) -> torch.Tensor:
        """Map points ``[..., 2]`` -> latents ``[..., D]`` (the nearest clips' latents, weighted)."""
        q = torch.as_tensor(np.asarray(xy, dtype=np.float32) if not isinstance(xy, torch.Tensor) else xy,
                            dtype=self.points.dtype)
        return _shepard(q, self.points, self.latents, self.config.neighbours)

    def to_map(self, z: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Latents ``[..., D]`` -> map points ``[..., 2]`` (the nearest clips' positions, weighted)."""
        q = torch.as_tensor(np.asarray(z, dtype=np.float32) if not isinstance(z, torch.Tensor) else z,
                            dtype=self.latents.dtype)
        return _shepard(q, self.latents, self.points, self.config.neighbours)


def fit_layout(latents: torch.Tensor, config: LayoutConfig | None = None,
               descriptors: torch.Tensor | None = None) -> MapLayout | None:
    """t-SNE layout of ``latents`` ``[N, D]``; None when off or with too few (distinct) clips.

    ``descriptors`` ``[N, P]`` (optional): what each clip sounds like (its long-term
    spectrum), laid out together with the latents (``LayoutConfig.descriptor_weight``).

    Distances are plain Euclidean ones between the posterior means (standardising each
    dimension would blow the near-constant ones, which the KL term pulled to the prior,
    up to the size of the informative ones). The layout starts from PCA (stable, and
    close to the PCA map a user may know from older models). Runs on the caller's thread
    (the analysis') with its torch threads.
    """
    config = config or LayoutConfig()
    n = int(latents.shape[0])
    if not config.enabled or n < MIN_LAYOUT_CLIPS:
        return None
    x = layout_input(latents, descriptors, config)
    fitted = torch.arange(n)
    if n > MAX_FITTED_CLIPS:
        generator = torch.Generator().manual_seed(config.seed)
        fitted = torch.randperm(n, generator=generator)[:MAX_FITTED_CLIPS].sort().values
    distinct = int(torch.unique(x[fitted], dim=0).shape[0])  # t-SNE embeds copies once
    if distinct < MIN_LAYOUT_CLIPS:
        log.info("map layout: %d distinct clips, too few for one", distinct)
        return None
    perplexity = float(min(config.perplexity, (distinct - 1) / 3))
    embedded = torch.zeros(n, 2, dtype=torch.float64)
    embedded[fitted] = tsne(x[fitted], perplexity).double()
    if fitted.numel() < n:
        _place(embedded, x, fitted, config.neighbours)
    embedded = embedded - embedded.mean(dim=0)
    scale = float(embedded.abs().max())
    points = (embedded / scale * EXTENT if scale > 0 else embedded).float()
    log.info("map layout: t-SNE of %d of %d clips (perplexity %.1f)", fitted.numel(), n, perplexity)
    return MapLayout(points=points, latents=latents.float(), config=config)


def layout_input(latents: torch.Tensor, descriptors: torch.Tensor | None, config: LayoutConfig
                 ) -> torch.Tensor:
    """``[N, D (+ P)]`` float64: what the layout keeps the distances of (the latents, and the
    descriptors at ``config.descriptor_weight``, each block at unit RMS size)."""
    x = _unit_block(latents.double())
    if descriptors is not None and config.descriptor_weight > 0:
        if descriptors.shape[0] != x.shape[0]:
            raise ValueError(f"{descriptors.shape[0]} descriptors for {x.shape[0]} clips")
        x = torch.cat([x, config.descriptor_weight * _unit_block(descriptors.double())], dim=1)
    return x


def _place(embedded: torch.Tensor, x: torch.Tensor, fitted: torch.Tensor, k: int) -> None:
    """Fill the rows of ``embedded`` ``[N, 2]`` not in ``fitted``: the fitted clips'
    positions interpolated at each clip's input ``x`` ``[N, P]`` (``_shepard``, in blocks)."""
    rest = torch.ones(x.shape[0], dtype=torch.bool)
    rest[fitted] = False
    rest = rest.nonzero().squeeze(1)
    sources, values = x[fitted], embedded[fitted]
    chunk = max(1, _PLACE_BLOCK // fitted.numel())
    for lo in range(0, rest.numel(), chunk):
        index = rest[lo:lo + chunk]
        embedded[index] = _shepard(x[index], sources, values, k)


def _unit_block(x: torch.Tensor) -> torch.Tensor:
    """``x`` ``[N, P]`` centred and scaled to a root-mean-square distance from its mean of 1."""
    x = x - x.mean(dim=0)
    size = float(x.square().sum(dim=1).mean().sqrt())
    return x / size if size > 0 else x


def neighbour_share(points: np.ndarray | torch.Tensor, groups: np.ndarray, k: int = 5) -> float:
    """Mean share of each point's ``k`` nearest neighbours (itself excluded) in its own group.

    Parameters
    ----------
    points
        ``[N, P]`` coordinates (map points, or latents).
    groups
        ``[N]`` group label of each point (a family: the file's sub-folder).
    k
        Neighbours per point (fewer when there are fewer other points).
    """
    p = torch.as_tensor(np.asarray(points, dtype=np.float64))
    g = np.asarray(groups)
    n = p.shape[0]
    if n < 2:
        return float("nan")
    nearest = nearest_neighbours(p, min(k, n - 1))[1].numpy()
    return float((g[nearest] == g[:, None]).mean())


def _shepard(query: torch.Tensor, sources: torch.Tensor, values: torch.Tensor, k: int) -> torch.Tensor:
    """Modified Shepard interpolation of ``values`` ``[N, V]`` at ``query`` ``[..., S]``.

    ``sources`` ``[N, S]`` are where the values sit. Weights ``((R - d)_+ / (R d))^2`` over
    the ``k`` nearest sources, ``R`` the distance to the ``k + 1``-th (continuous in the
    query); a query on a source returns its value exactly.
    """
    if query.shape[-1] != sources.shape[1]:
        raise ValueError(f"expected queries [..., {sources.shape[1]}], got {list(query.shape)}")
    flat = query.reshape(-1, sources.shape[1]).to(sources.dtype)
    d = torch.cdist(flat.double(), sources.double())  # [Q, N]
    n = sources.shape[0]
    k = min(k, n)
    near, index = d.topk(min(k + 1, n), dim=1, largest=False)
    radius = near[:, -1:] if n > k else near[:, -1:] * 1.5 + _ON_POINT
    near, index = near[:, :k], index[:, :k]
    weights = ((radius - near).clamp_min(0) / (radius * near.clamp_min(_ON_POINT))).square()
    on_point = near[:, :1] < _ON_POINT
    weights = torch.where(on_point, (near < _ON_POINT).double(), weights)
    total = weights.sum(dim=1, keepdim=True)
    # All k nearest tied at R (equidistant): plain mean of them.
    weights = torch.where(total > 0, weights / total.clamp_min(1e-300), torch.full_like(weights, 1.0 / k))
    out = (weights[..., None] * values.double()[index]).sum(dim=1)
    return out.to(values.dtype).reshape(*query.shape[:-1], values.shape[1])
