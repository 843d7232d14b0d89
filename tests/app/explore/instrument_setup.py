"""A real ``InstrumentController`` on a small analysed model, without an audio device."""

from __future__ import annotations

from pathlib import Path

from app.services.audio_controller import AudioController
from app.services.instrument import InstrumentController
from distill.render import Renderer

#: A small model file with a latent analysis (4 tones, 8-d latent, 40 ms clips).
MODEL_V1 = Path(__file__).resolve().parents[2] / "models" / "data" / "model_v1.distill"


def open_instrument(audio: AudioController, path: Path = MODEL_V1) -> InstrumentController:
    """An instrument playing ``path`` (its render thread warms up on its own; close it after)."""
    instrument = InstrumentController(audio)
    instrument.open(Renderer.from_file(path))
    return instrument
