import math

import pytest
import torch
from torch import nn

from lsgan_lib.models import objectives
from lsgan_lib.models.nets import PAPER_002_WIDTHS, TOY_MLP_WIDTHS, fast_elu, fc_net


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
    with pytest.raises(ValueError, match="unknown activation"):
        fc_net(2, 2, activation="swish")


def test_fast_elu_is_elu_in_values_and_gradients():
    x = torch.cat([torch.linspace(-30, 5, 1001), torch.randn(4000) * 3, torch.tensor([0.0, -0.0, 1e-8, -1e-8])])
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    torch.nn.functional.elu(a).backward(torch.ones_like(a))
    fast_elu(b).backward(torch.ones_like(b))
    torch.testing.assert_close(fast_elu(x), torch.nn.functional.elu(x), rtol=0, atol=1e-7)
    torch.testing.assert_close(b.grad, a.grad, rtol=0, atol=1e-7)
    assert isinstance(fc_net(2, 1)[2], nn.ELU)  # fc_net's "elu" is an nn.ELU computed by fast_elu


def test_fc_net_as_the_wgan_gp_toy_mlp():
    net = fc_net(2, 1, TOY_MLP_WIDTHS, batch_norm=False, activation="relu")
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU"] * 3 + ["Linear"]
    assert sum(p.numel() for p in net.parameters()) == 2 * 512 + 512 + 2 * (512 * 512 + 512) + 512 + 1


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


D_REAL = torch.tensor([[1.0], [2.0]])
D_FAKE = torch.tensor([[-1.0], [0.0]])


def test_wasserstein_losses_by_hand():
    assert objectives.wasserstein_critic_loss(D_REAL, D_FAKE).item() == pytest.approx(-0.5 - 1.5)
    assert objectives.wasserstein_generator_loss(D_FAKE).item() == pytest.approx(0.5)


def test_level_set_losses_by_hand():
    # Eq. (4): E f(x)^2 - E f(G(z))^2 = (1 + 4)/2 - (1 + 0)/2; the l1 variant: (1 + 2)/2 - (1 + 0)/2
    assert objectives.level_set_critic_loss(D_REAL, D_FAKE).item() == pytest.approx(2.0)
    assert objectives.level_set_generator_loss(D_FAKE).item() == pytest.approx(0.5)
    assert objectives.level_set_critic_loss(D_REAL, D_FAKE, power=1).item() == pytest.approx(1.0)
    assert objectives.level_set_generator_loss(D_FAKE, power=1).item() == pytest.approx(0.5)
    critic = objectives.objective("level_set_l1").critic_loss(lambda x: x, D_REAL, D_FAKE)
    assert critic.item() == pytest.approx(1.0)


def test_losses_reduce_per_member_for_stacked_outputs():
    stacked_real, stacked_fake = torch.stack([D_REAL, 2 * D_REAL]), torch.stack([D_FAKE, D_FAKE])
    assert objectives.minimax_critic_loss(stacked_real, stacked_fake).shape == (2,)
    values = objectives.level_set_critic_loss(stacked_real, stacked_fake)
    assert values.tolist() == pytest.approx([2.0, 10.0 - 0.5])


def test_gradient_penalty_of_a_linear_critic_by_hand():
    # f(x) = 3 x1 + 4 x2 has gradient norm 5 everywhere: penalty = 10 (5 - 1)^2 = 160; f(x) = x2 has norm 1: 0.
    weights = torch.tensor([[3.0, 4.0], [0.0, 1.0]])

    def critic(x):  # (K, batch, 2) -> (K, batch, 1), member k uses weights[k]
        return (x * weights[:, None, :]).sum(dim=-1, keepdim=True)

    real, fake, mix = torch.randn(2, 5, 2), torch.randn(2, 5, 2), torch.rand(2, 5, 1)
    penalty = objectives.gradient_penalty(critic, real, fake, mix, 10.0)
    assert penalty.tolist() == pytest.approx([160.0, 0.0])
    single = objectives.gradient_penalty(lambda x: x @ weights[0][:, None], real[0], fake[0], mix[0], 10.0)
    assert single.item() == pytest.approx(160.0)
    with pytest.raises(ValueError, match="mix"):
        objectives.objective("wgan_gp").critic_loss(critic, real, fake)


def test_gradient_penalty_pushes_the_critic_gradient_norm_towards_one():
    w = torch.tensor([[3.0], [4.0]], requires_grad=True)
    real, fake, mix = torch.randn(4, 2), torch.randn(4, 2), torch.rand(4, 1)
    objectives.gradient_penalty(lambda x: x @ w, real, fake, mix, 10.0).backward()
    assert (w.grad > 0).all()  # norm 5 > 1: descending shrinks the weights


def test_minibatch_w2_by_hand():
    fake = torch.tensor([[0.0, 0.0], [1.0, 0.0]], requires_grad=True)
    real = torch.tensor([[1.1, 0.0], [0.0, 0.2]])
    # optimal matching: fake 0 -> real 1 (cost 0.04), fake 1 -> real 0 (cost 0.01)
    assert objectives.optimal_matching(fake, real).tolist() == [1, 0]
    loss = objectives.objective("w2_minibatch_ot").generator_loss(None, fake, real)
    assert loss.item() == pytest.approx((0.04 + 0.01) / 2)
    (grad,) = torch.autograd.grad(loss, fake)
    assert grad[0, 1] < 0 and grad[1, 0] < 0  # each generated point moves towards its matched real point
    stacked = objectives.minibatch_w2_loss(torch.stack([fake, fake]).detach(), torch.stack([real, fake.detach()]))
    assert stacked.tolist() == pytest.approx([0.025, 0.0])


@pytest.mark.parametrize("name", ["wgan", "wgan_gp", "level_set", "level_set_l1"])
def test_new_generator_losses_point_towards_the_critics_goal(name):
    fake = torch.full((4, 1), 0.5, requires_grad=True)
    loss = objectives.objective(name).generator_loss(lambda x: x, fake)
    (grad,) = torch.autograd.grad(loss, fake)
    if name.startswith("wgan"):
        assert (grad < 0).all()  # raise the critic's value on generated samples
    else:
        assert (grad > 0).all()  # move generated samples onto the zero level set (here: towards 0)


def test_wgan_critic_step_clips_the_weights_and_training_traits():
    from lsgan_lib.train.images import critic_step

    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 8), nn.ELU(), nn.Linear(8, 1))
    opt = torch.optim.RMSprop(critic.parameters(), lr=1e-2)
    critic_step(objectives.objective("wgan"), critic, opt, torch.randn(16, 2), torch.randn(16, 2))
    assert all(p.abs().max() <= 0.01 for p in critic.parameters())
    gp = objectives.objective("wgan_gp")
    assert (gp.optimizer, gp.adam_betas, gp.gradient_penalty, gp.clip) == ("adam", (0.5, 0.9), 10.0, None)
    assert not objectives.objective("w2_minibatch_ot").uses_critic


def test_the_papers_critic_cannot_see_a_shift_of_the_whole_batch():
    """Paper 002's critic normalises each batch in its first layer (train mode, one batch at a time): moving every
    sample of a batch by the same vector leaves its outputs unchanged, so the generator gets no gradient to move its
    samples as a whole. The chapter states this; this test pins it down."""
    torch.manual_seed(0)
    critic = fc_net(2, 1)
    batch = torch.randn(256, 2)
    assert torch.allclose(critic(batch), critic(batch + torch.tensor([3.0, -2.0])), atol=1e-4)
    assert not torch.allclose(critic(batch), critic(batch * 2.0), atol=1e-4)  # the shape of the batch does count
    critic.eval()  # with running statistics (as for the figures) the shift is visible
    assert not torch.allclose(critic(batch), critic(batch + torch.tensor([3.0, -2.0])), atol=1e-4)


def test_the_split_critic_update_is_a_real_step_then_a_generated_step(tmp_path):
    from torch.nn import functional as F

    from lsgan_lib.data.distributions import data_manifold, latent
    from lsgan_lib.train.config import build_networks, random_stream
    from lsgan_lib.train.toy import GANConfig, train_gan

    config = GANConfig(data="nine_squares", objective="non_saturating", critic_update="split", n_iter=1, batch_size=64,
                       widths=(8, 8), snapshots=(1,), n_eval=10, lr=1e-2, rmsprop_alpha=0.9, rmsprop_eps=1.0,
                       weight_decay=5e-4)
    run = train_gan(config, progress=False, results_root=tmp_path)
    generator, by_hand = build_networks(config)
    stream = random_stream(config.seed, 0, torch.device("cpu"))
    real = data_manifold(config.data).sample(config.batch_size, stream)
    with torch.no_grad():
        fake = generator(latent(config.latent).sample(config.batch_size, config.latent_dim, stream))
    opt = torch.optim.RMSprop(by_hand.parameters(), lr=1e-2, alpha=0.9, eps=1.0, weight_decay=5e-4)
    halves = []
    for batch, sign in ((real, -1.0), (fake, 1.0)):  # −log D(x) with label 1, then −log(1 − D(G(z))) with label 0
        loss = F.softplus(sign * by_hand(batch)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        halves.append(loss.detach())
    torch.testing.assert_close(run.losses[0, 0], halves[0] + halves[1])
    trained = run.critic.state_dict()
    for name, value in by_hand.state_dict().items():  # the parameters (the generator step moves BN statistics only)
        if name.endswith(("weight", "bias")):
            torch.testing.assert_close(trained[name], value)


def test_the_split_update_and_fixed_dimension_latents_are_checked():
    from lsgan_lib.train.toy import GANConfig

    with pytest.raises(ValueError, match="split"):
        GANConfig(data="spiral", objective="wgan", critic_update="split")
    with pytest.raises(ValueError, match="critic_update"):
        GANConfig(data="spiral", critic_update="together")
    with pytest.raises(ValueError, match="latent_dim=2"):
        GANConfig(data="gaussian_plane", latent="lattice_3x3", latent_dim=1)
    assert "critic_update" not in GANConfig(data="spiral").as_dict()  # earlier results stay cache hits
    assert GANConfig(data="spiral", critic_update="split").as_dict()["critic_update"] == "split"
