"""``DataConfig`` (how files become clips) and ``AugmentationConfig`` (what the training
datasets do to cached clips). ``distill.training.config`` re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass

from distill.config_base import ConfigBase


@dataclass(frozen=True)
class DataConfig(ConfigBase):
    """How files become training clips.

    Attributes
    ----------
    clip_frames
        Frames per clip; 94 frames at hop 512 and 48 kHz is about one second.
    clip_hop_frames
        Frames between the starts of consecutive clips of one file (overlap = clip - hop).
    silence_threshold_db
        Clips whose RMS is below this level (dBFS) are dropped as silent.
    max_file_seconds
        Longer files are cut to this length (and the report says so).
    """

    clip_frames: int = 94
    clip_hop_frames: int = 47
    silence_threshold_db: float = -60.0
    max_file_seconds: float = 600.0

    def __post_init__(self) -> None:
        if self.clip_frames < 2:
            raise ValueError(f"clip_frames must be >= 2, got {self.clip_frames}")
        if not 0 < self.clip_hop_frames <= self.clip_frames:
            raise ValueError(f"clip_hop_frames must be in (0, clip_frames], got {self.clip_hop_frames}")
        if self.max_file_seconds <= 0:
            raise ValueError(f"max_file_seconds must be positive, got {self.max_file_seconds}")


@dataclass(frozen=True)
class AugmentationConfig(ConfigBase):
    """Augmentation applied to cached spectrograms while training (for tiny datasets).

    Attributes
    ----------
    enabled
        Master switch.
    gain_db
        Random gain in [-gain_db, +gain_db] dB, applied to the log-mel magnitude.
    time_shift_frames
        Random circular shift of up to this many frames.
    pitch_shift_bands
        Random shift of up to this many mel bands (a small pitch shift).
    noise_level
        Standard deviation of additive noise on the normalised magnitude channel.
    """

    enabled: bool = False
    gain_db: float = 3.0
    time_shift_frames: int = 4
    pitch_shift_bands: int = 1
    noise_level: float = 0.01
