"""The convolutional VAE, its loss and its files.

- ``config``: ``ModelConfig`` (hyper-parameters) and ``LossWeights``;
- ``geometry``: padded shapes, bottleneck and flatten size (the one place they are computed);
- ``vae``: ``ConvEncoder``, ``ConvDecoder``, ``ConvVAE``;
- ``inference``: ``decoder_for_inference``, the frozen fast decoder copy used for rendering;
- ``losses``: magnitude, IF, multi-resolution STFT and KL terms, ``vae_loss``;
- ``safetensors_io``: safe, atomic tensor files (model files and training checkpoints);
- ``persistence``: ``.distill`` model files (``save_model`` / ``load_model``).
"""

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
