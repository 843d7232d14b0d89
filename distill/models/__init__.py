"""The convolutional VAE, its loss and its files.

- ``config``: ``ModelConfig`` (hyper-parameters) and ``LossWeights``;
- ``geometry``: padded shapes, bottleneck and flatten size (the one place they are computed);
- ``vae``: ``ConvEncoder``, ``ConvDecoder``, ``ConvVAE``;
- ``inference``: ``decoder_for_inference``, the frozen fast decoder copy used for rendering;
- ``losses``: magnitude, IF, multi-resolution STFT and KL terms, ``vae_loss``;
- ``safetensors_io``: safe, atomic tensor files (model files and training checkpoints);
- ``persistence``: ``.distill`` model files (``save_model`` / ``load_model``).

The names below are imported on first use (PEP 562): importing one torch-free
submodule (a config, the model-file header) does not import torch with the rest
(``distill info`` reads a model file in a fraction of the ~1.3 s torch takes to import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distill.lazy_exports import lazy_exports

if TYPE_CHECKING:  # what static tools (PyInstaller, IDEs, import-linter) follow
    from distill.models.geometry import Geometry, conv_geometry, conv_padding
    from distill.models.inference import InferenceDecoder, decoder_for_inference, fuse_decoder
    from distill.models.losses import (
        LossTerms,
        instantaneous_frequency_loss,
        kl_divergence,
        magnitude_loss,
        multi_resolution_stft_loss,
        vae_loss,
    )
    from distill.models.persistence import LoadedModel, load_model, save_model
    from distill.models.safetensors_io import read_tensor_file, write_tensor_file
    from distill.models.vae import ConvDecoder, ConvEncoder, ConvVAE

#: Exported name -> the submodule that defines it.
_EXPORTS = {
    **dict.fromkeys(("Geometry", "conv_geometry", "conv_padding"), "geometry"),
    **dict.fromkeys(("InferenceDecoder", "decoder_for_inference", "fuse_decoder"), "inference"),
    **dict.fromkeys(("LossTerms", "instantaneous_frequency_loss", "kl_divergence", "magnitude_loss",
                     "multi_resolution_stft_loss", "vae_loss"), "losses"),
    **dict.fromkeys(("LoadedModel", "load_model", "save_model"), "persistence"),
    **dict.fromkeys(("read_tensor_file", "write_tensor_file"), "safetensors_io"),
    **dict.fromkeys(("ConvDecoder", "ConvEncoder", "ConvVAE"), "vae"),
}
__all__ = [
    "ConvDecoder",
    "ConvEncoder",
    "ConvVAE",
    "Geometry",
    "InferenceDecoder",
    "LoadedModel",
    "LossTerms",
    "conv_geometry",
    "conv_padding",
    "decoder_for_inference",
    "fuse_decoder",
    "instantaneous_frequency_loss",
    "kl_divergence",
    "load_model",
    "magnitude_loss",
    "multi_resolution_stft_loss",
    "read_tensor_file",
    "save_model",
    "vae_loss",
    "write_tensor_file",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
