"""t-SNE in torch: the 2-D embedding behind the map layout (``distill.latent.layout``).

The algorithm and its schedule follow scikit-learn's ``TSNE(init="pca", learning_rate="auto",
max_iter=1000)`` (its default Barnes-Hut path, minus the tree), so maps keep the look they had:

- affinities over each point's ``floor(3 * perplexity + 1)`` nearest neighbours (squared
  Euclidean distances); per point, a binary search for the Gaussian's precision that gives
  the conditional distribution the entropy ``log(perplexity)``; then ``P = (P + P^T) / sum``;
- Student-t (one degree of freedom) similarities in 2-D; the KL gradient with the attraction
  over ``P``'s edges and the repulsion EXACT over all pairs, in square blocks of the
  symmetric kernel (memory ``O(N k)`` plus one block, time ``O(N^2)`` per iteration:
  callers bound ``N``, as the layout does; float32, 2e-4..7e-4 relative error against
  float64 at N = 300..2000);
- 250 iterations with ``P`` exaggerated 12 times at momentum 0.5, then up to 750 at 0.8;
  per-coordinate gains (+0.2 while a coordinate's step keeps its sign, x0.8 when it flips,
  at least 0.01);
  learning rate ``max(N / 12 / 4, 50)``; progress checked every 50 iterations (stop after
  300 without a better KL, or at a vanishing gradient);
- start from the first two principal axes, scaled to a standard deviation of 1e-4 on the
  first (as scikit-learn's with ``init="pca"``, where the seed has no part either).

Exact copies are embedded once (``tsne``). Deterministic: the same input and torch thread
count give the same embedding.

Against scikit-learn 1.9 (same settings) on the map measure, the share of a clip's 5 nearest
map neighbours from its own family: 4 models of 24 real recordings in 4 families (162 clips;
latent + spectrum descriptors at weight 0/1/2, perplexity 5/10) 0.742 vs 0.745 on average,
-0.017..+0.014 per model and setting, at the layout's defaults 0.817 vs 0.814 (five random
starts moved either by up to ~0.015; over those, 0.816 vs 0.813); 8 synthetic sets of 300
points in 6 overlapping families 0.788 vs 0.786.
Runs on the caller's thread with torch's intra-op threads (the analysis: the trainer's).
"""

from __future__ import annotations

import math

import torch

EARLY_EXAGGERATION = 12.0
EXPLORATION_ITER = 250
MAX_ITER = 1000
MOMENTUM = (0.5, 0.8)
MIN_GAIN = 0.01
#: Iterations between KL / gradient-norm checks, and how many may pass without a better KL.
CHECK_EVERY, NO_PROGRESS_ITER = 50, 300
MIN_GRAD_NORM = 1e-7
#: Binary search of each point's precision: |entropy - log(perplexity)| tolerance, steps.
ENTROPY_TOLERANCE, SEARCH_STEPS = 1e-5, 100
#: Elements of one ``[rows, N]`` block of the neighbour search (1 MB in float32: it stays in
#: a core's L2 cache; the repulsion in such row blocks took 47 ms at N = 5000 on one thread,
#: 61-65 ms in 4-8 MB blocks).
_BLOCK = 262_144
#: Side of the repulsion's square blocks: 0.65-0.77 of the row blocks' time at N = 1000-5000
#: (512: 0.69-0.89; 1024: slower than row blocks).
_SIDE = 256
_EPS = float(torch.finfo(torch.float64).eps)


def tsne(x: torch.Tensor, perplexity: float, *, max_iter: int = MAX_ITER) -> torch.Tensor:
    """Embed ``x`` ``[N, P]`` in 2-D; returns ``[N, 2]`` float32 (near the origin, at t-SNE's
    own scale: tens of units, growing with N).

    Exact duplicates are embedded once and share a position: copies would otherwise part
    on the rounding of one bit (a close pair oscillates at the exaggerated learning rate
    and the tails keep it apart). ``perplexity`` must be below the number of distinct
    points; the neighbourhood searched is ``min(distinct - 1, floor(3 * perplexity + 1))``.
    """
    x = torch.as_tensor(x).double()
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"expected points [N, P] with N >= 2, got {list(x.shape)}")
    distinct, inverse = torch.unique(x, dim=0, return_inverse=True)
    n = int(distinct.shape[0])
    if n == 1:
        return torch.zeros(x.shape[0], 2)
    if not 0 < perplexity < n:
        raise ValueError(f"perplexity must be in (0, {n}) for {n} distinct points, got {perplexity}")
    k = min(n - 1, int(3.0 * perplexity + 1))
    dist2, cols = nearest_neighbours(distinct, k)
    rows, cols, p = joint_affinities(calibrate(dist2, perplexity), cols)
    y = _initial_embedding(distinct).float()
    lr = max(n / EARLY_EXAGGERATION / 4.0, 50.0)
    p = p.float()
    y = _descend(y, rows, cols, p * EARLY_EXAGGERATION, lr, MOMENTUM[0], 0, min(EXPLORATION_ITER, max_iter),
                 EXPLORATION_ITER)
    return _descend(y, rows, cols, p, lr, MOMENTUM[1], EXPLORATION_ITER, max_iter, NO_PROGRESS_ITER)[inverse]


def nearest_neighbours(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances ``[N, k]`` (ascending) and indices ``[N, k]`` of each point's ``k``
    nearest other points (a duplicate counts as a neighbour at distance 0)."""
    n = x.shape[0]
    chunk = max(1, _BLOCK // n)
    dists, index = [], []
    for lo in range(0, n, chunk):
        d = torch.cdist(x[lo:lo + chunk], x).square_()
        d.diagonal(lo).fill_(math.inf)  # not itself
        near, idx = d.topk(k, dim=1, largest=False, sorted=True)
        dists.append(near)
        index.append(idx)
    return torch.cat(dists), torch.cat(index)


def calibrate(dist2: torch.Tensor, perplexity: float) -> torch.Tensor:
    """Conditional affinities ``[N, k]`` from squared distances ``[N, k]``: each row
    ``exp(-beta_i d)`` normalised, ``beta_i`` bisected until the row's entropy (nats) is
    ``log(perplexity)`` (within ``ENTROPY_TOLERANCE``, or ``SEARCH_STEPS`` halvings).

    Distances are taken relative to the row's nearest (the same distribution, no
    underflow for an outlying point)."""
    d = dist2.double() - dist2.double().min(dim=1, keepdim=True).values
    n = d.shape[0]
    target = math.log(perplexity)
    beta = torch.ones(n, 1, dtype=torch.float64)
    low = torch.full_like(beta, -math.inf)
    high = torch.full_like(beta, math.inf)
    done = torch.zeros_like(beta, dtype=torch.bool)
    for _ in range(SEARCH_STEPS):
        p = torch.exp(-d * beta)
        total = p.sum(dim=1, keepdim=True).clamp_min(1e-8)
        p = p / total
        entropy = total.log() + beta * (d * p).sum(dim=1, keepdim=True)
        diff = entropy - target
        done = done | (diff.abs() <= ENTROPY_TOLERANCE)
        if bool(done.all()):
            break
        # Too flat (entropy too high): sharpen (raise beta); too peaked: widen.
        up, down = ~done & (diff > 0), ~done & (diff <= 0)
        low = torch.where(up, beta, low)
        high = torch.where(down, beta, high)
        raised = torch.where(torch.isinf(high), beta * 2, (beta + high) / 2)
        lowered = torch.where(torch.isinf(low), beta / 2, (beta + low) / 2)
        beta = torch.where(up, raised, torch.where(down, lowered, beta))
    return torch.exp(-d * beta) / torch.exp(-d * beta).sum(dim=1, keepdim=True).clamp_min(1e-8)


def joint_affinities(conditional: torch.Tensor, cols: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Symmetric joint affinities as edges ``(rows [E], cols [E], p [E])``, ``sum p = 1``:
    ``(P + P^T) / sum`` of the conditional ones ``[N, k]`` at neighbour indices ``cols``."""
    n, k = conditional.shape
    rows = torch.arange(n).repeat_interleave(k)
    cols = cols.reshape(-1)
    key = torch.cat([rows * n + cols, cols * n + rows])  # both directions; sorted and merged:
    edges, slot = torch.unique(key, sorted=True, return_inverse=True)
    values = torch.zeros(edges.shape[0], dtype=conditional.dtype)
    values.index_add_(0, slot, torch.cat([conditional.reshape(-1)] * 2))
    return edges // n, edges % n, values / values.sum().clamp_min(_EPS)


def _initial_embedding(x: torch.Tensor) -> torch.Tensor:
    """``[N, 2]``: the first two principal coordinates of distinct points ``x`` ``[N, P]``,
    sign fixed (each axis' largest loading positive), scaled to std 1e-4 on the first."""
    centred = x - x.mean(dim=0)
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    axes = vh[:2]
    if axes.shape[0] < 2:  # one input dimension: the second coordinate is 0
        axes = torch.cat([axes, torch.zeros_like(axes)])
    sign = torch.sign(axes.gather(1, axes.abs().argmax(dim=1, keepdim=True)))
    y = centred @ (axes * torch.where(sign == 0, 1.0, sign)).T
    return y / float(y[:, 0].std(correction=0)) * 1e-4


def _descend(y: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, p: torch.Tensor, lr: float,
             momentum: float, start: int, stop: int, patience: int) -> torch.Tensor:
    """Iterations ``start .. stop - 1`` of gradient descent with momentum and gains (fresh
    for each phase, as scikit-learn's are)."""
    y = y.clone()
    update = torch.zeros_like(y)
    gains = torch.ones_like(y)
    best_error, best_iter = math.inf, start
    for i in range(start, stop):
        check = (i + 1) % CHECK_EVERY == 0
        grad, error = _gradient(y, rows, cols, p, check)
        flips = update * grad >= 0  # the new step would not go the last one's way
        gains = torch.where(flips, gains * 0.8, gains + 0.2).clamp_min_(MIN_GAIN)
        grad = grad * gains
        update = momentum * update - lr * grad
        y += update
        if check:
            if error < best_error:
                best_error, best_iter = error, i
            elif i - best_iter > patience:
                break
            if float(grad.norm()) <= MIN_GRAD_NORM:
                break
    return y


def _gradient(y: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, p: torch.Tensor,
              with_error: bool) -> tuple[torch.Tensor, float]:
    """KL(P || Q) gradient ``[N, 2]`` at ``y`` ``[N, 2]`` and (``with_error``) the KL itself.

    ``dC/dy_i = 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j)``, ``w_ij = 1 / (1 + |y_i - y_j|^2)``,
    ``q_ij = w_ij / Z``: attraction over ``P``'s edges, repulsion over all pairs
    (``_repulsion_moments``).
    """
    y = y - y.mean(dim=0)  # translation-free; centred, the products below lose the least precision
    # Edges gathered from [2, N] (index_select along the last dimension: 6x faster than y[rows]).
    yt = y.T.contiguous()
    diff = yt.index_select(1, rows) - yt.index_select(1, cols)  # [2, E]
    w_edges = 1.0 / (1.0 + diff.square().sum(dim=0))
    attraction = torch.zeros_like(yt).index_add_(1, rows, (p * w_edges) * diff).T
    z, moments = _repulsion_moments(y)
    repulsion = y * moments[:, 2:] - moments[:, :2]
    grad = 4.0 * (attraction - repulsion / z)
    error = math.nan
    if with_error:
        q = (w_edges.double() / z).clamp_min(_EPS)
        pd = p.double()
        error = float((pd * torch.log(pd.clamp_min(_EPS) / q)).sum())
    return grad, error


def _repulsion_moments(y: torch.Tensor) -> tuple[float, torch.Tensor]:
    """``Z = sum_{i != j} w_ij`` and ``[N, 3]`` float32: ``(W^2 y)_i`` and ``sum_j w_ij^2``, so
    that ``sum_j w_ij^2 (y_i - y_j) = y_i sum_j w_ij^2 - (W^2 y)_i`` (matrix products, not an
    ``[N, N, 2]`` difference tensor).

    ``W`` is symmetric: each ``[B, B]`` block above the diagonal is computed once and serves
    both its rows and its columns (half the element-wise work, the bulk of an iteration).
    """
    n = y.shape[0]
    base = 1.0 + y.square().sum(dim=1)  # 1 + |y_i|^2: the addmm below gives 1 + d_ij^2
    y1 = torch.cat([y, torch.ones(n, 1, dtype=y.dtype)], dim=1)  # [N, 3]
    moments = torch.zeros(n, 3, dtype=torch.float64)
    z = 0.0
    for lo in range(0, n, _SIDE):
        rows = slice(lo, min(n, lo + _SIDE))
        for lo2 in range(lo, n, _SIDE):
            cols = slice(lo2, min(n, lo2 + _SIDE))
            w = torch.addmm(base[rows, None] + (base[None, cols] - 1.0), y[rows], y[cols].T, alpha=-2.0)
            w.reciprocal_()  # 1 / (1 + d^2)
            if lo2 == lo:
                w.diagonal().zero_()  # no self-pair
            z += float(w.sum()) * (1.0 if lo2 == lo else 2.0)
            w.square_()
            moments[rows] += w @ y1[cols]
            if lo2 != lo:
                moments[cols] += w.T @ y1[rows]
    return z, moments.float()
