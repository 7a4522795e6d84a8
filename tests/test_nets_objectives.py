import math

import pytest
import torch
from torch import nn

from lsgan_lib import objectives
from lsgan_lib.nets import PAPER_002_WIDTHS, fc_net


def test_fc_net_is_the_papers_architecture():
    net = fc_net(2, 1)
    linear = [m for m in net if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linear] == list(PAPER_002_WIDTHS) + [1]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in net) == 8 and sum(isinstance(m, nn.ELU) for m in net) == 8
    assert sum(p.numel() for m in linear for p in m.parameters()) == 90_381
    assert net(torch.randn(16, 2)).shape == (16, 1)


def test_fc_net_rejects_empty_sizes():
    with pytest.raises(ValueError, match="positive"):
        fc_net(0, 2)


def softplus(v):
    return math.log1p(math.exp(v))


def test_minimax_losses_by_hand():
    d_real = torch.tensor([[1.0], [2.0]])
    d_fake = torch.tensor([[-1.0], [0.0]])
    # -E log sigmoid(real) - E log(1 - sigmoid(fake)) = E softplus(-real) + E softplus(fake)
    expected = (softplus(-1) + softplus(-2)) / 2 + (softplus(-1) + softplus(0)) / 2
    assert objectives.minimax_critic_loss(d_real, d_fake).item() == pytest.approx(expected, rel=1e-6)
    assert objectives.minimax_generator_loss(d_fake).item() == pytest.approx(-(softplus(-1) + softplus(0)) / 2,
                                                                             rel=1e-6)
    assert objectives.non_saturating_generator_loss(d_fake).item() == pytest.approx((softplus(1) + softplus(0)) / 2,
                                                                                    rel=1e-6)


def test_at_the_undecided_discriminator_the_critic_loss_is_2_log_2():
    zero = torch.zeros(5, 1)
    assert objectives.minimax_critic_loss(zero, zero).item() == pytest.approx(2 * math.log(2))


def test_objective_objects_call_the_critic_on_each_batch_separately():
    calls = []

    def critic(x):
        calls.append(x.shape[0])
        return x.sum(dim=1, keepdim=True)

    real, fake = torch.ones(3, 2), -torch.ones(4, 2)
    value = objectives.objective("minimax").critic_loss(critic, real, fake)
    assert calls == [3, 4]
    assert value.item() == pytest.approx(softplus(-2) + softplus(-2))
    ns = objectives.objective("non_saturating")
    assert ns.generator_loss(critic, fake).item() == pytest.approx(softplus(2))
    assert ns.critic_loss(critic, real, fake).item() == pytest.approx(value.item())


def test_generator_gradients_point_towards_fooling_the_critic():
    fake = torch.zeros(4, 1, requires_grad=True)
    for name in ("minimax", "non_saturating"):
        loss = objectives.objective(name).generator_loss(lambda x: x, fake)
        (grad,) = torch.autograd.grad(loss, fake)
        assert (grad < 0).all(), name  # raising the critic's logit on generated samples lowers the loss


def test_unknown_objective():
    with pytest.raises(KeyError, match="minimax"):
        objectives.objective("wgan-gp-typo")
