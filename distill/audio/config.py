"""``ComplexSpectrogramConfig``: the settings of the 2-channel representation.

Lives beside the representation it describes (``distill.audio.spectrogram``); the spec
path ``distill.training.config.ComplexSpectrogramConfig`` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from distill.config_base import ConfigBase, check_range

#: Largest STFT size accepted (about 1.4 s at 48 kHz).
MAX_N_FFT = 65_536


@dataclass(frozen=True)
class ComplexSpectrogramConfig(ConfigBase):
    """The 2-channel (mel magnitude + instantaneous frequency) representation.

    Attributes
    ----------
    if_masking_threshold
        Band energy, relative to the loudest band of the same clip, under which the IF
        channel is set to 0 (the band centre): phase is noise there. 1e-6 = -60 dB.
    n_fft, hop_length
        STFT size and hop in samples (Hann window, centred frames).
    n_mels
        Number of mel bands (Slaney mel scale, 0 Hz to Nyquist).
    """

    if_masking_threshold: float = 1e-6
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_range(owner, "n_fft", self.n_fft, 16, MAX_N_FFT, integer=True)
        check_range(owner, "hop_length", self.hop_length, 1, MAX_N_FFT, integer=True)
        check_range(owner, "n_mels", self.n_mels, 1, MAX_N_FFT, integer=True)
        check_range(owner, "if_masking_threshold", self.if_masking_threshold, 0, 1)
        if self.n_fft < 16 or self.n_fft & (self.n_fft - 1):
            raise ValueError(f"n_fft must be a power of two >= 16, got {self.n_fft}")
        if not 0 < self.hop_length <= self.n_fft // 2:
            raise ValueError(f"hop_length must be in (0, n_fft/2], got {self.hop_length}")
        if not 0 < self.n_mels <= self.n_fft // 2:
            raise ValueError(f"n_mels must be in (0, n_fft/2], got {self.n_mels}")
        if not 0 <= self.if_masking_threshold < 1:
            raise ValueError(f"if_masking_threshold must be in [0, 1), got {self.if_masking_threshold}")
