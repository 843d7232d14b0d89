"""``LatentAnalysis``: the result of ``analyze_latents`` (``distill.latent.build``), and how it
lives in a model file.

Stored through ``save_model``'s extras (``to_model_extras``) — tensors:

- ``latent.mean`` ``[D]``, ``latent.components`` ``[K, D]`` (the slider basis);
- ``latent.clip_latents`` ``[N, D]`` (every encoded clip: the map's points are their
  projections, and any two dataset sounds can be morphed without re-encoding;
  4 * N * D bytes, e.g. 1 MB for 2000 clips at D = 128);
- ``latent.clip_files`` / ``latent.clip_indices`` ``[N]`` int64 (where each clip comes from);
- ``latent.layout_points`` ``[N, 2]`` (optional): the clips' positions on the nonlinear map
  (``distill.latent.layout``); its settings in the metadata's ``"layout"``. Files without
  it (written before the layout existed, or with it turned off) map through PCA's first
  two axes;

and metadata ``{"latent": {"version", "config", "latent_dim", "num_clips",
"total_variance", "files": [relpath, ...], "axes": [AxisInfo dict, ...]}}``, the axes in
the list-of-dicts form ``distill info`` prints. Each fact is stored once: map points,
directions, ranges and ratios are not duplicated across tensors and metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from distill.latent.config import LatentConfig
from distill.latent.errors import LatentFormatError
from distill.latent.layout import LayoutConfig, MapLayout
from distill.latent.space import AxisInfo, LatentSpace

#: Version of the stored layout; readers refuse newer ones.
LATENT_FORMAT_VERSION = 1
METADATA_KEY = "latent"
_TENSORS = ("mean", "components", "clip_latents", "clip_files", "clip_indices")


@dataclass(frozen=True, eq=False)
class LatentAnalysis:
    """Sliders, map and encoded clips of a trained model.

    Attributes
    ----------
    space
        The slider <-> latent mapping (mean, principal directions, labelled axes).
    clip_latents
        ``[N, D]`` posterior means of every cached clip.
    clip_files, clip_indices
        ``[N]`` int64: the clip's file (index into ``files``) and its index in that file.
    files
        Relative paths of the dataset's usable files.
    total_variance
        Total variance of ``clip_latents`` (the denominator of ``variance_ratio``).
    config
        The settings the analysis ran with.
    layout
        The nonlinear map of the clips, or None: the map is then PCA's first two axes.
        Every map question (points, limits, labels, map <-> latent) goes through the
        ``map_*`` methods below, so the pad, the cursor and the sliders agree.
    """

    space: LatentSpace
    clip_latents: torch.Tensor
    clip_files: torch.Tensor
    clip_indices: torch.Tensor
    files: tuple[str, ...]
    total_variance: float
    config: LatentConfig
    layout: MapLayout | None = None

    @property
    def axes(self) -> tuple[AxisInfo, ...]:
        return self.space.axes

    @property
    def num_clips(self) -> int:
        return int(self.clip_latents.shape[0])

    # ------------------------------------------------------------------ the map (XY pad)
    @property
    def has_layout(self) -> bool:
        return self.layout is not None

    def map_points(self) -> torch.Tensor:
        """``[N, 2]`` map coordinates of every clip (the layout's, or the first two axes'
        values; y = 0 with one axis)."""
        if self.layout is not None:
            return self.layout.points.clone()
        return self.space.latent_to_map(self.clip_latents)

    def map_to_latent(self, x: float, y: float, base: torch.Tensor | None = None) -> torch.Tensor:
        """A map point -> latent ``[D]``.

        With a layout, the nearest clips' latents interpolated (``MapLayout.to_latent``;
        the whole point moves: the map is not a pair of axes, so nothing is "off" it);
        without, the first two axes set to ``(x, y)`` with the rest taken from ``base``
        (``LatentSpace.map_to_latent``).
        """
        if self.layout is not None:
            return self.layout.to_latent(torch.tensor([float(x), float(y)])).float()
        return self.space.map_to_latent(x, y, base=base)

    def latent_to_map(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``[..., D]`` -> map points ``[..., 2]`` (where the cursor of a latent sits)."""
        if self.layout is not None:
            return self.layout.to_map(z)
        return self.space.latent_to_map(z)

    def map_limits(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((x0, x1), (y0, y1))``: the range the data covers on the map (the pad may widen it)."""
        if self.layout is not None:
            return self.layout.limits()
        axes = self.axes
        if not axes:
            raise ValueError("this latent space has no axes, so no map")
        x = (axes[0].low, axes[0].high)
        return x, ((axes[1].low, axes[1].high) if len(axes) > 1 else (0.0, 0.0))

    def map_labels(self) -> tuple[str, str]:
        """Names of the map's x and y directions (the layout's have none: sounds of one
        kind lie together, directions mean nothing by themselves)."""
        if self.layout is not None:
            return "", ""
        return (self.axes[0].label if self.axes else "", self.axes[1].label if len(self.axes) > 1 else "")

    def clip_source(self, clip: int) -> tuple[str, int]:
        """``(relpath, clip index within that file)`` of clip ``clip`` (0-based)."""
        return self.files[int(self.clip_files[clip])], int(self.clip_indices[clip])

    def to_model_extras(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """``(extra_tensors, extra_metadata)`` for ``save_model`` (see the module docstring)."""
        tensors = {
            f"{METADATA_KEY}.mean": self.space.mean,
            f"{METADATA_KEY}.components": self.space.components,
            f"{METADATA_KEY}.clip_latents": self.clip_latents,
            f"{METADATA_KEY}.clip_files": self.clip_files,
            f"{METADATA_KEY}.clip_indices": self.clip_indices,
        }
        if self.layout is not None:
            tensors[f"{METADATA_KEY}.layout_points"] = self.layout.points
        metadata = {METADATA_KEY: {
            "version": LATENT_FORMAT_VERSION,
            "config": self.config.to_dict(),
            "latent_dim": self.space.latent_dim,
            "num_clips": self.num_clips,
            "total_variance": self.total_variance,
            "files": list(self.files),
            "axes": [axis.to_dict() for axis in self.axes],
        }}
        if self.layout is not None:
            metadata[METADATA_KEY]["layout"] = {"method": "tsne", "config": self.layout.config.to_dict()}
        return tensors, metadata

    @classmethod
    def from_model_extras(cls, extra_tensors: Mapping[str, torch.Tensor],
                          extra_metadata: Mapping[str, Any]) -> LatentAnalysis | None:
        """The analysis stored by ``to_model_extras``; None for a model saved without one.

        Raises
        ------
        LatentFormatError
            The stored analysis is incomplete, inconsistent or from a newer distill.
        """
        doc = extra_metadata.get(METADATA_KEY)
        if doc is None:
            return None
        if not isinstance(doc, dict):
            raise LatentFormatError("the model's latent analysis is corrupt (not a map)")
        version = doc.get("version")
        if not isinstance(version, int) or version < 1:
            raise LatentFormatError(f"the model's latent analysis is corrupt (version {version!r})")
        if version > LATENT_FORMAT_VERSION:
            raise LatentFormatError(f"the model's latent analysis has format version {version}; this "
                                    f"distill reads up to {LATENT_FORMAT_VERSION}. Update distill")
        missing = [n for n in _TENSORS if f"{METADATA_KEY}.{n}" not in extra_tensors]
        if missing:
            raise LatentFormatError(f"the model's latent analysis is incomplete (no {', '.join(missing)})")
        t = {n: extra_tensors[f"{METADATA_KEY}.{n}"].detach().cpu() for n in _TENSORS}
        try:
            axes = _with_counts(tuple(AxisInfo.from_dict(a) for a in doc["axes"]), doc,
                                int(t["clip_latents"].shape[0]), t["clip_files"])
            space = LatentSpace(t["mean"].float(), t["components"].float(), axes)
            analysis = cls(space=space, clip_latents=t["clip_latents"].float(),
                           clip_files=t["clip_files"].long(), clip_indices=t["clip_indices"].long(),
                           files=tuple(str(f) for f in doc["files"]),
                           total_variance=float(doc["total_variance"]),
                           config=LatentConfig.from_dict(doc["config"]),
                           layout=_stored_layout(extra_tensors, doc, t["clip_latents"].float()))
        except (KeyError, TypeError, ValueError) as exc:
            raise LatentFormatError(f"the model's latent analysis is corrupt ({exc})") from None
        analysis.check()
        return analysis

    def check(self) -> None:
        """Raise ``LatentFormatError`` unless the clip tensors agree with each other and the space."""
        n, d = self.num_clips, self.space.latent_dim
        if self.clip_latents.shape != (n, d) or self.clip_files.shape != (n,) \
                or self.clip_indices.shape != (n,):
            raise LatentFormatError(
                f"the model's latent analysis is inconsistent (clip latents {list(self.clip_latents.shape)}, "
                f"files {list(self.clip_files.shape)}, indices {list(self.clip_indices.shape)}, D = {d})")
        if n and (int(self.clip_files.min()) < 0 or int(self.clip_files.max()) >= len(self.files)):
            raise LatentFormatError("the model's latent analysis is inconsistent (clip file out of range)")


def _with_counts(axes: tuple[AxisInfo, ...], doc: Mapping[str, Any], num_clips: int,
                 clip_files: torch.Tensor) -> tuple[AxisInfo, ...]:
    """Axes stored before their counts were (``sweep_points`` 0) get them from the analysis
    they belong to: its sweep length and the clips and files it encoded."""
    if all(a.sweep_points for a in axes):
        return axes
    steps = int(LatentConfig.from_dict(doc["config"]).sweep_steps)
    files = int(torch.unique(clip_files).numel())
    return tuple(a if a.sweep_points else a.replace(sweep_points=steps, fitted_clips=num_clips,
                                                   fitted_files=files) for a in axes)


def _stored_layout(extra_tensors: Mapping[str, torch.Tensor], doc: Mapping[str, Any],
                   clip_latents: torch.Tensor) -> MapLayout | None:
    """The stored layout, or None for a file without one (the map falls back to PCA).
    Raises ``ValueError`` (reported as a corrupt analysis) when it is half there or
    does not fit the clips."""
    points = extra_tensors.get(f"{METADATA_KEY}.layout_points")
    if points is None and "layout" not in doc:
        return None
    if points is None or not isinstance(doc.get("layout"), dict):
        raise ValueError("the map layout is incomplete")
    points = points.detach().cpu().float()
    if not bool(torch.isfinite(points).all()):
        raise ValueError("the map layout holds NaN or infinite positions")
    return MapLayout(points=points, latents=clip_latents,
                     config=LayoutConfig.from_dict(doc["layout"].get("config", {})))
