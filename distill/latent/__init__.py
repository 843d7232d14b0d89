"""The latent space of a trained model: sliders, map and morphs.

- ``build``: ``analyze_latents`` encodes a dataset, finds its principal axes (PCA) and
  names each by the audio feature that follows it (a measured claim, stored with it);
- ``analysis``: ``LatentAnalysis`` and its storage in a model file (``to_model_extras`` /
  ``from_model_extras``);
- ``space``: ``LatentSpace``, the ONE mapping between slider values / map points and latents;
- ``morph``: ``slerp`` between two latents;
- ``features``: the audio features (brightness, loudness, noisiness, ...);
- ``pca``: PCA and rank correlation; ``config``, ``events``, ``errors``.
"""

from distill.latent.analysis import LATENT_FORMAT_VERSION, LatentAnalysis
from distill.latent.build import analyze_latents
from distill.latent.config import LatentConfig
from distill.latent.errors import AnalysisCancelledError, AxisError, LatentFormatError, NoLatentAnalysisError
from distill.latent.events import (
    AnalysisFinished,
    AxisMeasured,
    ClipsEncoded,
    LatentEvent,
)
from distill.latent.features import FEATURES, Feature, measure_features
from distill.latent.morph import slerp
from distill.latent.pca import PCAResult, fit_pca, select_axes, spearman
from distill.latent.space import POSITION_LIMITS, AxisInfo, LatentSpace

__all__ = [
    "FEATURES",
    "LATENT_FORMAT_VERSION",
    "POSITION_LIMITS",
    "AnalysisCancelledError",
    "AnalysisFinished",
    "AxisError",
    "AxisInfo",
    "AxisMeasured",
    "ClipsEncoded",
    "Feature",
    "LatentAnalysis",
    "LatentConfig",
    "LatentEvent",
    "LatentFormatError",
    "LatentSpace",
    "NoLatentAnalysisError",
    "PCAResult",
    "analyze_latents",
    "fit_pca",
    "measure_features",
    "select_axes",
    "slerp",
    "spearman",
]
