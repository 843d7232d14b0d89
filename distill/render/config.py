"""Settings of rendering (clip sequences, generation, long inverses), serialisable to JSON."""

from __future__ import annotations

from dataclasses import dataclass

from distill.config_base import ConfigBase, check_range


@dataclass(frozen=True)
class RenderConfig(ConfigBase):
    """How latents become audio beyond a single clip.

    Attributes
    ----------
    phase
        Phase reconstruction: ``"pghi"`` (best; ~4 ms per clip on a CPU, like locked)
        or ``"locked"``.
    crossfade
        Fraction of a clip that overlaps the next one in a sequence (0 = butt joins,
        0.5 = every frame is a crossfade of two clips).
    edge_fade_seconds
        Raised-cosine fade at both ends of generated and morphed audio (no click where
        the file starts inside a sound).
    variation
        ``generate``'s drift: standard deviation of the random walk, as a fraction of
        each axis' slider range (0 = a held sound).
    drift_seconds
        Time constant of that walk: how long it takes to wander and come back.
    chunk_seconds
        Longest stretch inverted at once (bounds memory for long renders and files);
        chunks are joined with a short equal-power crossfade.
    batch_size
        Clips per decoder batch.
    """

    phase: str = "pghi"
    crossfade: float = 0.5
    edge_fade_seconds: float = 0.01
    variation: float = 0.1
    drift_seconds: float = 4.0
    chunk_seconds: float = 30.0
    batch_size: int = 32

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_range(owner, "crossfade", self.crossfade, 0, 0.5)
        check_range(owner, "edge_fade_seconds", self.edge_fade_seconds, 0, 60)
        check_range(owner, "variation", self.variation, 0, 100)
        check_range(owner, "drift_seconds", self.drift_seconds, 0, 86_400)
        check_range(owner, "chunk_seconds", self.chunk_seconds, 1, 3600)
        check_range(owner, "batch_size", self.batch_size, 1, 65_536, integer=True)
        if self.phase not in ("pghi", "locked"):
            raise ValueError(f"phase must be 'pghi' or 'locked', got {self.phase!r}")
        if not 0 <= self.crossfade <= 0.5:
            raise ValueError(f"crossfade must be in [0, 0.5], got {self.crossfade}")
        if self.edge_fade_seconds < 0:
            raise ValueError(f"edge_fade_seconds must be >= 0, got {self.edge_fade_seconds}")
        if self.variation < 0:
            raise ValueError(f"variation must be >= 0, got {self.variation}")
        if self.drift_seconds <= 0:
            raise ValueError(f"drift_seconds must be positive, got {self.drift_seconds}")
        if self.chunk_seconds < 1:
            raise ValueError(f"chunk_seconds must be >= 1, got {self.chunk_seconds}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
