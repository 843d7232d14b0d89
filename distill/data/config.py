"""``DataConfig`` (how files become clips) and ``AugmentationConfig`` (what the training
datasets do to cached clips). ``distill.training.config`` re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass

from distill.config_base import ConfigBase, check_range

#: Longest clip accepted, in frames (about 44 s at hop 512): the model's input width.
MAX_CLIP_FRAMES = 4096
#: Longest part of a file decoded (24 hours).
MAX_FILE_SECONDS = 86_400.0


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
        owner = type(self).__name__
        check_range(owner, "clip_frames", self.clip_frames, 2, MAX_CLIP_FRAMES, integer=True)
        check_range(owner, "clip_hop_frames", self.clip_hop_frames, 1, MAX_CLIP_FRAMES, integer=True)
        check_range(owner, "silence_threshold_db", self.silence_threshold_db, -400, 0)
        check_range(owner, "max_file_seconds", self.max_file_seconds, 0, MAX_FILE_SECONDS)
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
    crop_offsets
        Cut each training clip at a random offset between its cached start and the next
        cached clip's, from the frames the two share with the file: a real time shift (the
        sound moves in the window; nothing wraps around), so that the model sees every
        alignment of a sound against the clip's frames, not only multiples of the clip hop.
    mix_probability
        Chance that a clip is mixed with another training clip (``mix_clips``: energies
        added with random weights, each bin's IF from the louder of the two), so that
        the model meets more sounds than the folder holds.

    ``crop_offsets`` and ``mix_probability`` are off in every preset, as measured
    (``benchmarks/quality.py``: 24 real recordings of 4 families, 8 unseen files, 2,216
    steps of the small preset; training-clip / unseen-clip spectral convergence, unseen
    RMS error): none 0.447 / 0.815 / -6.6 dB; mixing 0.5: 0.479 / 0.792 / -8.1 dB; with
    the level term at 1.0 (``LossWeights.level``): 0.499 / 0.787 / -4.4 dB, plus crop
    offsets 0.544 / 0.770 / -3.9 dB, plus mixing 0.553 / 0.752 / -3.2 dB. They bring
    unseen sounds a little closer and cost the training clips, whose reconstruction is
    what the instrument plays, more.
    """

    enabled: bool = False
    gain_db: float = 3.0
    time_shift_frames: int = 4
    pitch_shift_bands: int = 1
    noise_level: float = 0.01
    crop_offsets: bool = False
    mix_probability: float = 0.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_range(owner, "gain_db", self.gain_db, 0, 60)
        check_range(owner, "time_shift_frames", self.time_shift_frames, 0, MAX_CLIP_FRAMES, integer=True)
        check_range(owner, "pitch_shift_bands", self.pitch_shift_bands, 0, 1024, integer=True)
        check_range(owner, "noise_level", self.noise_level, 0, 10)
        check_range(owner, "mix_probability", self.mix_probability, 0, 1)
        if not isinstance(self.crop_offsets, bool):
            raise ValueError(f"{owner}: crop_offsets must be true or false, got {self.crop_offsets!r}")
