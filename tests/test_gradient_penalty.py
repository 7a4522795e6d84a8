"""The gradient penalty at the WGAN-GP toy code's settings (λ = 0.1, `wgan_gp_toy`): its value and its gradient with
respect to the critic's weights against a hand-computed case, against an independent per-sample computation with
torch.autograd.grad on a single network, and for the batched (stacked) critic against each member's own network."""

import pytest
import torch

from lsgan_lib.models import objectives
from lsgan_lib.train.batched import StackedFC
from lsgan_lib.models.nets import fc_net

LAMBDA_TOY = 0.1


def test_the_toy_objective_has_the_toy_codes_settings():
    how = objectives.traits(objectives.objective("wgan_gp_toy"))
    assert (how.gradient_penalty, how.optimizer, how.adam_betas, how.clip) == (LAMBDA_TOY, "adam", (0.5, 0.9), None)
    assert objectives.traits(objectives.objective("wgan_gp")).gradient_penalty == 10.0  # the image setting


def test_penalty_value_and_weight_gradient_of_an_affine_critic_by_hand():
    # f(x) = w·x + c has gradient w at every x, so the penalty is λ (‖w‖ − 1)² whatever the interpolates, and its
    # gradient with respect to w is 2 λ (‖w‖ − 1) w / ‖w‖; the bias c gets none.
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    c = torch.tensor(0.7, requires_grad=True)
    real, fake, mix = torch.randn(6, 2), torch.randn(6, 2), torch.rand(6, 1)
    penalty = objectives.gradient_penalty(lambda x: (x @ w + c)[:, None], real, fake, mix, LAMBDA_TOY)
    assert penalty.item() == pytest.approx(LAMBDA_TOY * (5.0 - 1.0) ** 2)  # 1.6
    penalty.backward()
    assert w.grad.tolist() == pytest.approx([2 * LAMBDA_TOY * 4.0 * 3.0 / 5.0, 2 * LAMBDA_TOY * 4.0 * 4.0 / 5.0])
    assert c.grad is None or c.grad.item() == 0.0


def test_penalty_of_a_quadratic_critic_by_hand_depends_on_the_interpolates():
    # f(x) = ½ a ‖x‖²: ∇f(x̂) = a x̂, so the penalty is λ mean((a ‖x̂‖ − 1)²) with x̂ = mix·real + (1 − mix)·fake,
    # and d/da = λ mean(2 (a ‖x̂‖ − 1) ‖x̂‖).
    a = torch.tensor(2.0, requires_grad=True)
    real = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    fake = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    mix = torch.tensor([[0.5], [0.25]])  # x̂ = (0.5, 0), (0, 0.5): ‖x̂‖ = 0.5 both
    penalty = objectives.gradient_penalty(lambda x: 0.5 * a * (x ** 2).sum(dim=-1, keepdim=True), real, fake, mix,
                                          LAMBDA_TOY)
    assert penalty.item() == pytest.approx(LAMBDA_TOY * (2.0 * 0.5 - 1.0) ** 2)  # = 0: gradient norm exactly 1
    penalty.backward()
    assert a.grad.item() == pytest.approx(0.0, abs=1e-7)
    b = torch.tensor(3.0, requires_grad=True)  # norm 1.5: penalty λ 0.25, d/db = λ · 2 · 0.5 · 0.5
    penalty = objectives.gradient_penalty(lambda x: 0.5 * b * (x ** 2).sum(dim=-1, keepdim=True), real, fake, mix,
                                          LAMBDA_TOY)
    assert penalty.item() == pytest.approx(LAMBDA_TOY * 0.25)
    penalty.backward()
    assert b.grad.item() == pytest.approx(LAMBDA_TOY * 2 * 0.5 * 0.5)


def _grads(value, params):
    """d value / d params; the output layer's bias does not change the critic's input gradient, so its gradient is 0."""
    return [torch.zeros_like(p) if g is None else g
            for p, g in zip(params, torch.autograd.grad(value, params, allow_unused=True))]


def _per_sample_penalty(net, real, fake, mix, weight):
    """The penalty written independently: one torch.autograd.grad call per interpolated point."""
    terms = []
    for i in range(len(real)):
        point = (mix[i] * real[i] + (1 - mix[i]) * fake[i]).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(net(point[None]).squeeze(), point, create_graph=True)
        terms.append((grad.norm() - 1) ** 2)
    return weight * torch.stack(terms).mean()


def test_penalty_and_its_weight_gradient_match_per_sample_autograd_on_a_toy_mlp():
    torch.manual_seed(3)
    net = fc_net(2, 1, (32, 32, 32), batch_norm=False, activation="relu")  # the toy code's MLP, narrower
    real, fake, mix = torch.randn(16, 2), 2 * torch.randn(16, 2), torch.rand(16, 1)
    library = objectives.gradient_penalty(net, real, fake, mix, LAMBDA_TOY)
    library_grads = _grads(library, list(net.parameters()))
    reference = _per_sample_penalty(net, real, fake, mix, LAMBDA_TOY)
    reference_grads = _grads(reference, list(net.parameters()))
    torch.testing.assert_close(library, reference, rtol=1e-5, atol=1e-7)
    assert library.item() > 0
    for a, b in zip(library_grads, reference_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
    assert any(g.abs().sum() > 0 for g in library_grads)


def test_the_toy_critic_loss_is_the_wasserstein_gap_plus_the_toy_penalty():
    torch.manual_seed(4)
    net = fc_net(2, 1, (16, 16, 16), batch_norm=False, activation="relu")
    real, fake, mix = torch.randn(8, 2), torch.randn(8, 2), torch.rand(8, 1)
    loss = objectives.objective("wgan_gp_toy").critic_loss(net, real, fake, mix)
    expected = net(fake).mean() - net(real).mean() + _per_sample_penalty(net, real, fake, mix, LAMBDA_TOY)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_the_batched_penalty_equals_each_members_own_at_the_toy_settings():
    torch.manual_seed(5)
    nets = [fc_net(2, 1, (24, 24, 24), batch_norm=False, activation="relu") for _ in range(3)]
    stacked = StackedFC(nets)
    real, fake, mix = torch.randn(3, 20, 2), 1.5 * torch.randn(3, 20, 2), torch.rand(3, 20, 1)
    penalty = objectives.gradient_penalty(stacked, real, fake, mix, LAMBDA_TOY)
    assert penalty.shape == (3,)
    stacked_grads = _grads(penalty.sum(), stacked.parameters())
    for k, net in enumerate(nets):
        reference = _per_sample_penalty(net, real[k], fake[k], mix[k], LAMBDA_TOY)
        torch.testing.assert_close(penalty[k], reference, rtol=1e-5, atol=1e-7)
        reference_grads = _grads(reference, list(net.parameters()))
        for stacked_grad, grad in zip(stacked_grads, reference_grads):
            torch.testing.assert_close(stacked_grad[k].reshape(grad.shape), grad, rtol=1e-4, atol=1e-7)
