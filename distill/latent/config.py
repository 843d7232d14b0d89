"""Settings of the latent analysis (stored with the analysis in the model file)."""

from __future__ import annotations

from dataclasses import dataclass

from distill.config_base import ConfigBase, check_range

#: An axis fitted on fewer clips than this, or on clips of fewer files, is shown faded with
#: "(few data)": its direction is fitted on too little to hold when files are added, however
#: monotonic its sweep (a judgment, not a measurement: 30 clips from 6 files give rho = 1.00
#: on every axis of a small model, which says more about the decoder than about the sounds).
FEW_DATA_CLIPS = 50
FEW_DATA_FILES = 10
#: A correlation measured over fewer sweep points than this is shown faded too (rho = 1
#: over 5 points comes from a random order once in 120 tries; over 8, once in 40,320).
FEW_SWEEP_POINTS = 8


@dataclass(frozen=True)
class LatentConfig(ConfigBase):
    """How ``analyze_latents`` turns encoded clips into labelled sliders.

    Attributes
    ----------
    max_axes
        Most principal components offered as sliders.
    min_variance_ratio
        A component becomes a slider when it explains at least this share of the latents'
        variance (the first one always does when there is any variance).
    range_percentiles
        Slider range: these percentiles of the clips' coordinates along the axis (robust
        to outliers, unlike min/max).
    sweep_steps
        Points of the sweep along each axis (over the slider range, other axes at the mean).
    min_label_correlation
        |Spearman rho| a feature needs along the sweep to name the axis; weaker axes are
        called "Axis n" (a label is a measured claim).
    label_tie_tolerance
        Features whose |rho| is this close to the best one are tied; the tie goes to the
        one the sweep changes most audibly (in just-noticeable differences). With 11
        steps, one swapped pair of neighbours costs 0.009, three cost 0.027.
    batch_size
        Clips per encoder / decoder batch.
    phase
        Phase reconstruction of the sweep's audio, ``"pghi"`` or ``"locked"`` (on a CPU
        PGHI costs about the same as locked: ~4 ms per clip each).
    seed
        Seed of PGHI's random phase (reproducible labels).
    """

    max_axes: int = 8
    min_variance_ratio: float = 0.02
    range_percentiles: tuple[float, float] = (2.0, 98.0)
    sweep_steps: int = 11
    min_label_correlation: float = 0.6
    label_tie_tolerance: float = 0.03
    batch_size: int = 64
    phase: str = "pghi"
    seed: int = 0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_range(owner, "max_axes", self.max_axes, 1, 64, integer=True)
        check_range(owner, "min_variance_ratio", self.min_variance_ratio, 0, 1)
        for value in self.range_percentiles:
            check_range(owner, "range_percentiles", value, 0, 100)
        check_range(owner, "sweep_steps", self.sweep_steps, 3, 1000, integer=True)
        check_range(owner, "min_label_correlation", self.min_label_correlation, 0, 1)
        check_range(owner, "label_tie_tolerance", self.label_tie_tolerance, 0, 1)
        check_range(owner, "batch_size", self.batch_size, 1, 65_536, integer=True)
        check_range(owner, "seed", self.seed, 0, 2**63 - 1, integer=True)
        if self.max_axes < 1:
            raise ValueError(f"max_axes must be >= 1, got {self.max_axes}")
        if not 0 <= self.min_variance_ratio <= 1:
            raise ValueError(f"min_variance_ratio must be in [0, 1], got {self.min_variance_ratio}")
        low, high = self.range_percentiles
        if not 0 <= low < high <= 100:
            raise ValueError(f"range_percentiles must satisfy 0 <= low < high <= 100, got "
                             f"{self.range_percentiles}")
        if self.sweep_steps < 3:
            raise ValueError(f"sweep_steps must be >= 3, got {self.sweep_steps}")
        if not 0 <= self.min_label_correlation <= 1:
            raise ValueError(f"min_label_correlation must be in [0, 1], got {self.min_label_correlation}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.phase not in ("pghi", "locked"):
            raise ValueError(f"phase must be 'pghi' or 'locked', got {self.phase!r}")
