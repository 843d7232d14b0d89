"""Rendering: latent vectors -> audio, clip sequences, morphs, generation, export.

- ``renderer``: ``Renderer`` (a loaded model + its fast decoder + the inverse transform),
  ``EncodedClips``, ``reconstruct_representation``;
- ``sequence``: clips joined in the representation with equal-power crossfades, long
  inverses in chunks;
- ``export``: output path / format rules and ``export_audio``;
- ``config``: ``RenderConfig``;
- ``realtime``: ``RealtimeLoop`` (control states -> the playback engine, continuously),
  ``ControlState``, ``RealtimeConfig``, ``RealtimeStats``; ``performance``:
  ``render_performance`` (the same synthesis offline); ``stream``: the frame synthesizer.
"""

from distill.render.config import RenderConfig
from distill.render.export import DEFAULT_FORMAT, export_audio, output_path
from distill.render.performance import render_performance
from distill.render.realtime import RealtimeLoop, RealtimeStats
from distill.render.realtime_config import ControlState, RealtimeConfig
from distill.render.renderer import EncodedClips, Renderer, reconstruct_representation
from distill.render.sequence import (
    clip_count,
    clip_weights,
    crossfade_hop,
    fade_edges,
    join_clips,
    synthesize,
)

__all__ = [
    "DEFAULT_FORMAT",
    "ControlState",
    "EncodedClips",
    "RealtimeConfig",
    "RealtimeLoop",
    "RealtimeStats",
    "RenderConfig",
    "Renderer",
    "clip_count",
    "clip_weights",
    "crossfade_hop",
    "export_audio",
    "fade_edges",
    "join_clips",
    "output_path",
    "reconstruct_representation",
    "render_performance",
    "synthesize",
]
