"""Inference-only copy of the decoder (the real-time path: latent -> spectrogram).

Two exact rewrites, both valid only in eval mode:

1. A BatchNorm in eval mode is a per-channel affine map: it folds into the weights and
   bias of the transposed convolution before it.
2. The decoder's linear layer feeds the first transposed convolution with no activation
   in between, so ``conv(fc(z))`` is ONE linear map of ``z``: its matrix (``[C1*H1*W1,
   latent_dim]``, 3.1 M numbers with the defaults) replaces the 1.6 M-entry linear layer
   plus the 4.7 M-entry 1024->512 kernel — the largest weight read of a batch-1 decode.

Measured on a 2-core AMD EPYC VM (``benchmarks/decode.py``), batch 1, 2 threads: the
plain decoder ~6.6 ms, BatchNorm fused ~5.4 ms, BatchNorm fused + fc folded ~3.4 ms.
``channels_last`` did not help on top of that in float32, so it is not used there.

``bfloat16_decoder`` is the real-time path's copy on CPUs with native bfloat16 (AVX512-BF16
or AMX): the hidden layers in bfloat16 and channels_last, the linear map and the last
layer in float32 (a bfloat16 output would round the log-magnitude to 2^-8 of its value).
On a 2-core Xeon with AMX, batch 1, 1 thread: 6.4-8.9 ms float32 -> ~3.1 ms, within
0.04 (mean 0.002) of float32 on the log-magnitude channel, i.e. under 0.3 dB.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from distill.models.geometry import Geometry
from distill.models.vae import ConvDecoder, ConvVAE, check_latent_shape, spectrogram_activation

#: Decoder precisions of the real-time path ("auto": bfloat16 where the CPU computes it natively).
PRECISIONS = ("auto", "float32", "bfloat16")


class InferenceDecoder(nn.Module):
    """Frozen fast decoder: latents ``[B, latent_dim]`` -> spectrograms ``[B, 2, M, T]``.

    Same outputs as the ``ConvDecoder`` it was made from, in eval mode (to float
    rounding). Build it with ``decoder_for_inference`` (or ``fuse_decoder``).
    Nothing ever trains or mutates it, so the renderer thread may own it without a lock;
    call it under ``torch.inference_mode()``.
    """

    def __init__(self, fc: nn.Linear, first_shape: tuple[int, int, int], blocks: nn.Sequential,
                 geometry: Geometry, latent_dim: int) -> None:
        super().__init__()
        self.fc = fc
        self.first_shape = first_shape
        self.blocks = blocks
        self.geometry = geometry
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latent_shape(z, self.latent_dim)
        g = self.geometry
        h = self.fc(z).view(z.shape[0], *self.first_shape)
        return spectrogram_activation(self.blocks(h)[..., :g.n_mels, :g.n_frames])


def decoder_for_inference(model: ConvVAE) -> InferenceDecoder:
    """A frozen fast copy of ``model``'s decoder for rendering: ``[B, latent_dim]`` -> ``[B, 2, M, T]``.

    BatchNorm folded into the convolutions and the linear layer folded into the first
    transposed conv: the same outputs as ``model.decode`` in eval mode (to float
    rounding), about twice as fast at batch 1 on a CPU. Later changes to the model
    (training) do not reach the copy: make a new one.
    """
    return fuse_decoder(model.decoder)


def fuse_decoder(decoder: ConvDecoder) -> InferenceDecoder:
    """An ``InferenceDecoder`` equivalent to ``decoder`` in eval mode.

    Parameters
    ----------
    decoder
        A trained (or fresh) ``ConvDecoder``; it is not modified, and later changes to
        it do not reach the copy.

    Returns
    -------
    InferenceDecoder
        Eval mode, no gradients, on the decoder's device and dtype.
    """
    source = copy.deepcopy(decoder).eval()
    layers: list[list[nn.Module]] = [_fuse_bn(list(block)) for block in source.blocks]
    first, *head_rest = layers[0]
    fc, first_shape = _fold_linear_into_conv(source.fc, first, source.geometry)
    blocks = nn.Sequential(*head_rest, *(nn.Sequential(*block) for block in layers[1:]))
    fused = InferenceDecoder(fc, first_shape, blocks, source.geometry, source.latent_dim)
    return fused.eval().requires_grad_(False)


def _fuse_bn(layers: list[nn.Module]) -> list[nn.Module]:
    """``[conv, BatchNorm2d, act]`` -> ``[fused conv, act]`` (eval-mode statistics)."""
    out: list[nn.Module] = []
    for layer in layers:
        if isinstance(layer, nn.BatchNorm2d) and out and isinstance(out[-1], nn.ConvTranspose2d):
            out[-1] = fuse_conv_bn_eval(out[-1], layer, transpose=True)
        else:
            out.append(layer)
    return out


def _fold_linear_into_conv(fc: nn.Linear, conv: nn.ConvTranspose2d, geometry: Geometry
                           ) -> tuple[nn.Linear, tuple[int, int, int]]:
    """One ``nn.Linear`` computing ``conv(fc(z).view(bottleneck))`` flattened, and its shape.

    The fold is the transposed conv applied to each of the linear map's ``latent_dim``
    columns (and its bias): ~7 G multiply-adds with the defaults, paid on every model
    load. Written as ONE float32 GEMM (columns x kernel, ``[L*H*W, C] @ [C, O*kh*kw]``)
    and a col2im (``F.fold``), it takes ~0.2 s on 2 cores instead of ~1 s for a float64
    ``conv_transpose2d`` (``benchmarks/startup.py``), and its error is at float32
    rounding (max |error| / max |value| ~4e-7 on a trained model).
    """
    channels, height, width = geometry.bottleneck_shape
    (kh, kw), (sh, sw) = conv.kernel_size, conv.stride
    (ph, pw), (oh, ow) = conv.padding, conv.output_padding
    if conv.groups != 1 or conv.dilation != (1, 1):
        raise ValueError("the fold handles ungrouped, undilated transposed convolutions only")
    latent = fc.in_features
    with torch.no_grad():
        # Both the weight columns and the bias go through the conv as a batch of L + 1 inputs;
        # the bias row gets the conv's bias afterwards.
        inputs = torch.cat([fc.weight.t(), fc.bias[None]]).reshape(latent + 1, channels, height * width)
        rows = inputs.transpose(1, 2).reshape(-1, channels)  # [(L+1)*H*W, C]
        cols = rows @ conv.weight.reshape(channels, -1)  # [(L+1)*H*W, O*kh*kw]
        cols = cols.view(latent + 1, height * width, -1).transpose(1, 2)
        full = F.fold(cols, ((height - 1) * sh + kh + oh, (width - 1) * sw + kw + ow), (kh, kw),
                      stride=(sh, sw))  # [L+1, O, H_full, W_full] before the padding crop
        out_h = (height - 1) * sh - 2 * ph + kh + oh
        out_w = (width - 1) * sw - 2 * pw + kw + ow
        out = full[:, :, ph:ph + out_h, pw:pw + out_w]
        weight, bias = out[:latent], out[latent]
        if conv.bias is not None:
            bias = bias + conv.bias.view(-1, 1, 1)
        folded = nn.Linear(latent, weight[0].numel(), device=fc.weight.device, dtype=fc.weight.dtype)
        folded.weight.copy_(weight.flatten(1).t())
        folded.bias.copy_(bias.flatten())
    shape = tuple(int(s) for s in weight.shape[1:])
    return folded, (shape[0], shape[1], shape[2])


class BFloat16Decoder(nn.Module):
    """An ``InferenceDecoder`` whose hidden layers run in bfloat16 (see the module docstring).

    Same interface and output dtype (float32) as the decoder it was made from; the
    outputs differ by bfloat16 rounding of the hidden activations only. Build it with
    ``bfloat16_decoder``; call it under ``torch.inference_mode()``.
    """

    def __init__(self, source: InferenceDecoder) -> None:
        super().__init__()
        self.fc = source.fc  # float32: shared with the source, never mutated
        self.first_shape = source.first_shape
        self.geometry = source.geometry
        self.latent_dim = source.latent_dim
        hidden, last = source.blocks[:-1], source.blocks[-1]
        self.hidden = copy.deepcopy(hidden).to(dtype=torch.bfloat16, memory_format=torch.channels_last)
        self.last = copy.deepcopy(last).to(memory_format=torch.channels_last)
        self.eval().requires_grad_(False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_latent_shape(z, self.latent_dim)
        g = self.geometry
        h = self.fc(z).view(z.shape[0], *self.first_shape)
        h = self.hidden(h.to(dtype=torch.bfloat16, memory_format=torch.channels_last))
        out = self.last(h.float())[..., :g.n_mels, :g.n_frames]
        return spectrogram_activation(out.contiguous())


def bfloat16_decoder(decoder: InferenceDecoder) -> BFloat16Decoder:
    """A bfloat16 copy of ``decoder`` for the real-time path (``decoder`` is not modified)."""
    return BFloat16Decoder(decoder)


def native_bfloat16() -> bool:
    """True on CPUs that compute bfloat16 natively (AVX512-BF16 or AMX) with oneDNN.

    Elsewhere bfloat16 is emulated and slower than float32.
    """
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        native = any(getattr(torch.cpu, name, lambda: False)() for name in probes)
        return bool(native and torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # private probes: absent on some builds
        return False


def realtime_decoder(decoder: InferenceDecoder, precision: str = "auto") -> tuple[nn.Module, str]:
    """The decoder the real-time loop should own, and the precision it runs in.

    Parameters
    ----------
    decoder
        The renderer's ``InferenceDecoder`` (it is returned as is for float32).
    precision
        One of ``PRECISIONS``. "auto" picks bfloat16 for a CPU decoder on a CPU with
        native bfloat16 (``native_bfloat16``), float32 otherwise (GPUs included).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    on_cpu = decoder.fc.weight.device.type == "cpu"
    if precision == "auto":
        precision = "bfloat16" if on_cpu and native_bfloat16() else "float32"
    if precision == "float32" or not isinstance(decoder, InferenceDecoder):
        return decoder, "float32"
    return bfloat16_decoder(decoder), "bfloat16"
