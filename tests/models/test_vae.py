"""ConvVAE over many shapes (catches padding drift), output ranges, gradients, configs."""

from __future__ import annotations

import pytest
import torch

from distill.audio.config import ComplexSpectrogramConfig
from distill.data.config import DataConfig
from distill.models import ConvDecoder, ConvEncoder, ConvVAE
from distill.models.config import ModelConfig

from .conftest import tiny_vae

SHAPES = [(20, 7), (33, 94), (64, 31), (128, 94), (128, 200), (1, 1), (32, 32), (16, 65)]


@pytest.mark.parametrize(("n_mels", "n_frames"), SHAPES)
def test_reconstruction_has_the_input_shape_and_the_output_ranges(n_mels, n_frames):
    model = tiny_vae(n_mels, n_frames).train()
    x = torch.rand(3, 2, n_mels, n_frames) * torch.tensor([4.0, 2.0])[:, None, None] \
        - torch.tensor([0.0, 1.0])[:, None, None]
    recon, mu, logvar = model(x)
    assert recon.shape == x.shape
    assert mu.shape == logvar.shape == (3, model.latent_dim)
    assert (recon[:, 0] >= 0).all()
    assert (recon[:, 1].abs() <= 1).all()
    assert torch.isfinite(recon).all()


@pytest.mark.parametrize(("n_mels", "n_frames"), [(20, 7), (33, 94)])
def test_gradient_reaches_every_parameter(n_mels, n_frames):
    model = tiny_vae(n_mels, n_frames).train()
    x = torch.rand(2, 2, n_mels, n_frames)
    recon, mu, logvar = model(x)
    (recon.square().mean() + mu.square().mean() + logvar.square().mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_decode_and_encode_shapes():
    model = tiny_vae(33, 94).eval()
    recon = model.decode(torch.randn(5, model.latent_dim))
    assert recon.shape == (5, 2, 33, 94)
    mu, logvar = model.encode(recon)
    assert mu.shape == logvar.shape == (5, model.latent_dim)


def test_eval_forward_is_deterministic_and_train_forward_samples():
    model = tiny_vae().eval()
    x = torch.rand(2, 2, 20, 7)
    assert torch.equal(model(x)[0], model(x)[0])
    mu, logvar = torch.zeros(4, 6), torch.zeros(4, 6)
    assert not torch.equal(model.reparameterize(mu, logvar), model.reparameterize(mu, logvar))
    torch.testing.assert_close(model.reparameterize(mu, torch.full_like(logvar, -1e4)), mu)


@pytest.mark.parametrize("bad", [(2, 2, 20, 8), (2, 1, 20, 7), (2, 2, 21, 7), (2, 20, 7), (2, 3, 20, 7)])
def test_a_wrong_input_shape_names_expected_and_got(bad):
    model = tiny_vae()
    with pytest.raises(ValueError, match=r"expected spectrograms \[B, 2, 20, 7\], got"):
        model(torch.rand(*bad))


def test_a_wrong_latent_shape_names_expected_and_got():
    model = tiny_vae()
    with pytest.raises(ValueError, match=r"expected latents \[B, 6\], got \[2, 5\]"):
        model.decode(torch.zeros(2, 5))


def test_from_config_takes_the_shape_from_the_data_configs(tiny_configs):
    model_cfg, spec_cfg, data_cfg = tiny_configs
    model = ConvVAE.from_config(model_cfg, spec_cfg, data_cfg)
    assert model.config == model_cfg
    assert model.geometry.input_shape == (16, 12)
    assert model.decode(torch.zeros(1, 6)).shape == (1, 2, 16, 12)


def test_default_model_matches_the_spec():
    model = ConvVAE()
    assert model.config == ModelConfig()
    assert model.geometry.input_shape == (ComplexSpectrogramConfig().n_mels, DataConfig().clip_frames)
    assert 15_000_000 <= model.num_parameters() <= 20_000_000
    assert isinstance(model.encoder, ConvEncoder) and isinstance(model.decoder, ConvDecoder)
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (2, 64), (64, 128), (128, 256), (256, 512), (512, 1024)]
    assert all(c.stride == (2, 2) and c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    deconvs = [m for m in model.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in deconvs] == [
        (1024, 512), (512, 256), (256, 128), (128, 64), (64, 2)]
    assert all(c.output_padding == (1, 1) for c in deconvs)
    assert model.decoder.fc.out_features == model.geometry.flatten_size == 1024 * 4 * 3
    norms = [m for m in model.decoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 4  # all blocks but the last


def test_state_dict_matches_a_model_rebuilt_from_its_config():
    model = tiny_vae(33, 94, kernel_size=5, negative_slope=0.1)
    rebuilt = ConvVAE.from_config(model.config, ComplexSpectrogramConfig(n_mels=33),
                                  DataConfig(clip_frames=94, clip_hop_frames=47))
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    assert rebuilt.config == model.config
