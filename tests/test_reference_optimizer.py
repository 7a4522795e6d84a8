"""GANConfig's default-off optimizer override and the WGAN-GP toy code's He-uniform initialisation (issue 28): the
DCGAN reference optimizer for the minimax and −log D GANs, with the existing cache keys unchanged."""

import math

import pytest
import torch

from lsgan_lib.models.nets import fc_net, he_uniform_init
from lsgan_lib.train.batched import StackedOptimizer
from lsgan_lib.train.config import GANConfig, build_networks, optimizer_of
from lsgan_lib.train.toy import train_gan

SMALL = dict(data="eight_gaussians", n_iter=3, batch_size=32, widths=(16, 16), snapshots=(0, 3), n_eval=40,
             batch_norm=False, activation="relu")
DCGAN = dict(optimizer="adam", lr=2e-4, adam_betas=(0.5, 0.999), lr_decay=1.0)


def test_the_defaults_leave_the_cache_key_and_the_objectives_optimizer_unchanged():
    config = GANConfig(**SMALL)
    assert {"optimizer", "adam_betas", "init"}.isdisjoint(config.as_dict())
    assert optimizer_of(config) == ("rmsprop", (0.9, 0.999))
    assert optimizer_of(GANConfig(**SMALL, objective="wgan_gp_toy")) == ("adam", (0.5, 0.9))


def test_the_dcgan_reference_optimizer_is_adam_with_its_betas_and_enters_the_key():
    config = GANConfig(**SMALL, **DCGAN, objective="non_saturating")
    assert optimizer_of(config) == ("adam", (0.5, 0.999))
    assert config.as_dict()["optimizer"] == "adam" and config.as_dict()["adam_betas"] == (0.5, 0.999)
    torch.manual_seed(0)
    p = torch.randn(1, 4, 3)
    stacked, single = p.clone().requires_grad_(True), p[0].clone().requires_grad_(True)
    opt, ref = StackedOptimizer([stacked], [config]), torch.optim.Adam([single], lr=2e-4, betas=(0.5, 0.999))
    for _ in range(4):
        g = torch.randn_like(p)
        stacked.grad, single.grad = g.clone(), g[0].clone()
        opt.step(), ref.step()
    torch.testing.assert_close(stacked[0], single, rtol=0, atol=0)


@pytest.mark.parametrize("bad", [dict(optimizer="sgd"), dict(adam_betas=(0.5,)), dict(adam_betas=(0.5, 1.0)),
                                 dict(adam_betas=(0.5, 0.9)), dict(init="xavier")])
def test_bad_optimizer_settings_are_refused(bad):
    with pytest.raises(ValueError):
        GANConfig(**SMALL | bad)  # adam_betas without Adam: minimax trains with RMSprop


def test_he_uniform_init_has_the_reference_bounds_and_zero_biases():
    torch.manual_seed(0)
    net = he_uniform_init(fc_net(2, 1, (512, 512), batch_norm=False, activation="relu"))
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for layer, bound in zip(linears, [math.sqrt(6 / 2), math.sqrt(6 / 512), math.sqrt(6 / 513)]):
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.95 * bound
        assert torch.all(layer.bias == 0)
    # PyTorch's default hidden-layer std is sqrt(6) times smaller
    ratio = float(linears[1].weight.detach().std() / fc_net(2, 1, (512, 512), False, "relu")[2].weight.detach().std())
    assert ratio == pytest.approx(math.sqrt(6), rel=0.02)


def test_he_uniform_runs_are_seeded_and_train(tmp_path):
    a, b = build_networks(GANConfig(**SMALL, init="he_uniform")), build_networks(GANConfig(**SMALL, init="he_uniform"))
    torch.testing.assert_close(a[0][0].weight, b[0][0].weight, rtol=0, atol=0)
    assert torch.all(a[1][-1].bias == 0) and not torch.all(build_networks(GANConfig(**SMALL))[1][-1].bias == 0)
    run = train_gan(GANConfig(**SMALL, **DCGAN, init="he_uniform"), progress=False, results_root=tmp_path)
    assert torch.isfinite(run.final).all()
