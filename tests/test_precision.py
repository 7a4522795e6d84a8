"""The ``precision`` setting of every trainer: fp32 (the default, unchanged numbers and cache keys) or bf16 (the
networks' training forward passes under torch.autocast with bfloat16; parameters, optimizer state, losses and
snapshots in float32)."""

import pytest
import torch

from lsgan_lib import cache
from lsgan_lib.train import batched, images
from lsgan_lib.train.batched import StackedFC, StackedOptimizer, train_batched
from lsgan_lib.train.config import PRECISIONS, autocast
from lsgan_lib.train.images import AutoencoderConfig, ImageGANConfig, train_autoencoder, train_image_gan
from lsgan_lib.train.toy import GANConfig, build_networks, train_gan

from .test_image_training import TINY as TINY_IMAGES
from .test_image_training import tiny_mnist  # noqa: F401  (a fixture)

# Widths and batch large enough that the CPU's matrix products take their ordinary kernels.
SMALL = dict(data="eight_gaussians", latent="gaussian", latent_dim=2, objective="wgan_gp", lr=1e-4, n_critic=2,
             n_iter=5, batch_size=64, widths=(32, 32), batch_norm=False, activation="relu", snapshots=(0, 5),
             n_eval=50)


def small(**changes) -> GANConfig:
    return GANConfig(**SMALL | changes)


@pytest.mark.parametrize("make", [lambda p: small(precision=p), lambda p: ImageGANConfig(dataset="mnist", precision=p),
                                  lambda p: AutoencoderConfig(dataset="mnist", precision=p)])
@pytest.mark.parametrize("bad", ["fp16", "bfloat16", "", "FP32"])
def test_an_unknown_precision_is_refused_naming_the_parameter_and_the_choices(make, bad):
    with pytest.raises(ValueError, match=r"\.precision must be one of \('fp32', 'bf16'\)"):
        make(bad)


def test_precision_enters_the_cache_key_only_when_not_fp32():
    for config in (small(), ImageGANConfig(dataset="celeba"), AutoencoderConfig(dataset="celeba")):
        fp32 = type(config)(**{**config.__dict__, "precision": "fp32"})
        bf16 = type(config)(**{**config.__dict__, "precision": "bf16"})
        assert "precision" not in config.as_dict() and config.as_dict() == fp32.as_dict()
        assert bf16.as_dict()["precision"] == "bf16"
        assert cache.config_hash(bf16.as_dict()) != cache.config_hash(config.as_dict())


def test_precision_is_shared_by_a_batch():
    with pytest.raises(ValueError, match="precision"):
        batched.check_same_shape([small(), small(precision="bf16")])


def test_autocast_is_nothing_for_fp32_and_bf16_autocast_for_bf16():
    with autocast("fp32", "cpu"):
        assert not torch.is_autocast_enabled("cpu")
    with autocast("bf16", torch.device("cpu")):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast("fp16", "cpu")


def test_a_bf16_stacked_net_computes_in_bf16_and_keeps_float32_parameters_gradients_and_optimizer_state():
    configs = [small(precision="bf16", seed=s) for s in range(2)]
    critic = StackedFC([build_networks(c)[1] for c in configs], precision="bf16")
    optimizer = StackedOptimizer(critic.parameters(), configs)
    seen = []
    original = critic._forward

    def spy(*args):
        seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return original(*args)

    critic._forward = spy
    x = torch.randn(2, 64, 2)
    out = critic(x)
    assert out.dtype == torch.float32 and seen[-1] == (True, torch.bfloat16)
    out.sum().backward()
    optimizer.step()
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in critic.parameters())
    assert all(t.dtype == torch.float32 for state in optimizer.state for t in state)  # Adam's two moments
    critic.eval()
    critic(x)
    assert seen[-1][0] is False  # eval mode (snapshots, critic fields): float32, as the returned fc_nets compute
    # a bf16 forward pass really rounds: it differs from float32 by about bf16's precision, not more
    fp32 = StackedFC([build_networks(c)[1] for c in configs])
    with torch.no_grad():
        a, b = StackedFC([build_networks(c)[1] for c in configs], precision="bf16")(x), fp32(x)
    assert not torch.equal(a, b)
    torch.testing.assert_close(a, b, rtol=0.05, atol=0.02)


def test_a_bf16_run_trains_in_bf16_and_returns_float32_numbers(monkeypatch, tmp_path):
    modes = []
    original = batched.stacked_forward

    def spy(x, *args):
        modes.append(torch.is_autocast_enabled("cpu"))
        return original(x, *args)

    monkeypatch.setattr(batched, "stacked_forward", spy)
    run = train_gan(small(precision="bf16"), device="cpu", progress=False, results_root=tmp_path)
    assert True in modes and False in modes  # training steps in bf16, snapshots in float32
    assert run.losses.dtype == run.snapshots.dtype == torch.float32 and torch.isfinite(run.losses).all()
    assert all(v.dtype == torch.float32 for v in run.critic.state_dict().values())
    fp32 = train_gan(small(), device="cpu", progress=False, results_root=tmp_path)
    assert not torch.equal(run.losses, fp32.losses)  # another arithmetic: other numbers, and another cache entry
    torch.testing.assert_close(run.snapshots[0], fp32.snapshots[0], rtol=0, atol=0)  # the same initial networks


# Two members trained together against each trained alone, in bf16. In fp32 the batched and the single products
# agree to rtol 1e-4 (tests/test_batched.py); in bf16 a product's result is rounded to 8 bits of mantissa, so one
# rounding step of a different kernel is ≈ 4e-3 relative, which five iterations of Adam carry on: the stated
# tolerance is rtol 2e-2, atol 2e-3 on the losses and the final samples.
BF16_RTOL, BF16_ATOL = 2e-2, 2e-3


def test_two_bf16_members_trained_together_equal_each_trained_alone(tmp_path):
    configs = [small(precision="bf16", seed=s) for s in (0, 1)]
    together = train_batched(configs, progress=False, results_root=tmp_path / "batch")
    for config, run in zip(configs, together):
        alone = train_gan(config, progress=False, results_root=tmp_path / "single")
        torch.testing.assert_close(run.losses, alone.losses, rtol=BF16_RTOL, atol=BF16_ATOL)
        torch.testing.assert_close(run.final, alone.final, rtol=BF16_RTOL, atol=BF16_ATOL)
    assert not torch.allclose(together[0].losses, together[1].losses)  # two seeds: two runs


def test_the_image_gan_and_the_autoencoder_train_in_bf16_with_float32_state(tiny_mnist, tmp_path):  # noqa: F811
    config = ImageGANConfig(objective="wgan_gp", critic_norm="none", n_critic=2, betas=(0.0, 0.9), **TINY_IMAGES)
    fp32 = train_image_gan(config, progress=False, results_root=tmp_path)
    bf16 = train_image_gan(ImageGANConfig(**{**config.__dict__, "precision": "bf16"}), progress=False,
                           results_root=tmp_path)
    assert not bf16.from_cache and torch.isfinite(bf16.losses).all() and bf16.losses.dtype == torch.float32
    assert not torch.equal(bf16.losses, fp32.losses)
    torch.testing.assert_close(bf16.losses[0], fp32.losses[0], rtol=0.05, atol=0.05)  # the same first batches
    assert all(v.dtype == torch.float32 for v in bf16.generator.state_dict().values() if v.is_floating_point())
    assert bf16.snapshots.dtype == torch.float32
    ae = AutoencoderConfig(dataset="mnist", width=4, latent_dim=3, n_iter=3, batch_size=8, architecture="dcgan")
    a = train_autoencoder(ae, progress=False, results_root=tmp_path)
    b = train_autoencoder(AutoencoderConfig(**{**ae.__dict__, "precision": "bf16"}), progress=False,
                          results_root=tmp_path)
    assert torch.isfinite(b.losses).all() and not torch.equal(a.losses, b.losses)
    torch.testing.assert_close(a.losses[0], b.losses[0], rtol=0.05, atol=0.01)


def test_in_precision_runs_the_wrapped_net_under_autocast_in_training_mode_only():
    seen = []
    net = torch.nn.Linear(4, 3)
    net.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    wrapped = images.InPrecision(net, "bf16")
    assert wrapped(torch.randn(5, 4)).dtype == torch.float32 and seen[-1] == torch.bfloat16
    wrapped.eval()
    wrapped(torch.randn(5, 4))
    assert seen[-1] == torch.float32
    assert PRECISIONS == ("fp32", "bf16")
