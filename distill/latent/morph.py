"""Morph paths between latents: spherical interpolation with a linear fallback.

A VAE's latents spread around a centre (the prior's origin, or the dataset's mean latent
when the KL term was weak); linear interpolation between two of them cuts through the
sparse middle of that cloud, where the decoder has seen little and sounds dull.
``slerp`` walks the arc instead: the direction from the centre is interpolated along
the great circle and the distance from the centre linearly, so the path stays as far
out as its ends (equal distances: constant; unequal: from one to the other evenly).
Near-parallel or near-opposite directions (where the arc is undefined or unstable) and a
zero-length end fall back to plain linear interpolation.
"""

from __future__ import annotations

import math

import torch

#: Angle (radians) under which two directions count as parallel, and above pi - this
#: as opposite: both fall back to linear interpolation.
PARALLEL_EPS = 1e-3
#: Distance from the centre under which an end counts as the centre itself.
NORM_EPS = 1e-8


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor,
          center: torch.Tensor | None = None) -> torch.Tensor:
    """Spherical interpolation from ``a`` (t = 0) to ``b`` (t = 1) around ``center``.

    Parameters
    ----------
    a, b
        ``[D]`` latents.
    t
        A number or ``[T]`` fractions (usually in [0, 1]).
    center
        ``[D]`` centre of the arc (default the origin, the prior's mean).

    Returns
    -------
    torch.Tensor
        ``[D]`` for a number ``t``, ``[T, D]`` for a tensor; exactly ``a`` at 0 and ``b`` at 1.
    """
    if a.shape != b.shape or a.dim() != 1:
        raise ValueError(f"expected two latents [D] of one shape, got {list(a.shape)} and {list(b.shape)}")
    scalar = not isinstance(t, torch.Tensor) or t.dim() == 0
    ts = torch.as_tensor(t, dtype=torch.float64).reshape(-1, 1)
    c = torch.zeros_like(a, dtype=torch.float64) if center is None else center.double()
    u, v = a.double() - c, b.double() - c
    nu, nv = u.norm(), v.norm()
    linear = c + u + ts * (v - u)
    if nu < NORM_EPS or nv < NORM_EPS:
        out = linear
    else:
        cos = torch.clamp(torch.dot(u / nu, v / nv), -1.0, 1.0)
        omega = float(torch.arccos(cos))
        if omega < PARALLEL_EPS or omega > math.pi - PARALLEL_EPS:
            out = linear
        else:
            direction = (torch.sin((1 - ts) * omega) * (u / nu) + torch.sin(ts * omega) * (v / nv)) \
                / math.sin(omega)
            out = c + direction * (nu + ts * (nv - nu))
    # Exact ends: the caller gets back the very vectors it gave.
    out = torch.where(ts == 0, a.double(), torch.where(ts == 1, b.double(), out)).to(a.dtype)
    return out[0] if scalar else out
