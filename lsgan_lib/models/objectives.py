"""GAN objectives, one small object each.

An objective has two losses, both minimised:

* ``critic_loss(critic, real, fake)`` — the discriminator's (critic's) loss on a real batch ``(batch, dim)`` and a
  generated batch ``(batch, dim)`` (already detached from the generator);
* ``generator_loss(critic, fake)`` — the generator's loss on a generated batch that still carries its graph.

The critic is called once per batch (real and generated separately, so batch norm sees each batch on its own, as in
paper 002's original code). The formulas live in plain functions of the critic's outputs (logits), which the tests
check against hand-computed values. A new objective is one more dataclass and one line in ``OBJECTIVES``.

Every formula averages over the last two dimensions ``(batch, 1)`` (or ``(batch, dim)``), so the same objects serve
one run — batches ``(batch, dim)``, a scalar loss — and the batched trainer of :mod:`lsgan_lib.train.batched`, whose
stacked networks map ``(K, batch, dim)`` to ``(K, batch, 1)``: there every loss has shape ``(K,)``, one per member,
and the trainer back-propagates their sum, so the members' gradients stay independent.

Besides the two losses an objective says how it is trained (both trainers read these through :func:`traits`, which
gives an object that defines only the two losses the defaults: RMSprop, no clipping, no penalty, a critic):

* ``optimizer`` — ``"rmsprop"`` (lr, α, ε and weight decay from the run's configuration) or ``"adam"`` (lr and
  weight decay from the configuration, ``adam_betas`` from the objective, ε = 1e-8);
* ``clip`` — after every critic update its parameters are clamped to ``[−clip, clip]`` (WGAN), or ``None``;
* ``gradient_penalty`` — the weight λ of a gradient penalty (WGAN-GP), or 0; the trainer then passes the critic loss
  a tensor ``mix`` ``(…, batch, 1)`` of U(0, 1) interpolation weights drawn from the run's batch stream;
* ``critic_loss_real(critic, real)`` / ``critic_loss_fake(critic, fake)`` (minimax and non-saturating only) — the
  two halves of the critic loss, for the *split* discriminator update of paper 002's original code
  (``GANConfig.critic_update="split"``: one update on the real batch, then one on the generated batch);
* ``uses_critic`` — ``False`` for the minibatch-OT generator loss, which trains no critic: the trainer skips the
  critic steps, records a critic loss of 0, and passes the generator loss a real batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

Critic = Callable[[torch.Tensor], torch.Tensor]


def batch_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean over the last two dimensions: ``(batch, 1)`` → a scalar, ``(K, batch, 1)`` → ``(K,)``."""
    return values.mean(dim=(-2, -1))


def minimax_critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """−E[log D(x)] − E[log(1 − D(G(z)))] of Eq. (1), with D = sigmoid(logit). Logits of shape ``(batch, 1)``."""
    return batch_mean(F.softplus(-d_real)) + batch_mean(F.softplus(d_fake))


def minimax_critic_loss_real(d_real: torch.Tensor) -> torch.Tensor:
    """−E[log D(x)]: the real-batch half of the discriminator's loss (target label 1)."""
    return batch_mean(F.softplus(-d_real))


def minimax_critic_loss_fake(d_fake: torch.Tensor) -> torch.Tensor:
    """−E[log(1 − D(G(z)))]: the generated-batch half of the discriminator's loss (target label 0)."""
    return batch_mean(F.softplus(d_fake))


def minimax_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """E[log(1 − D(G(z)))], the generator's side of Eq. (1) (saturates when D rejects the samples)."""
    return -batch_mean(F.softplus(d_fake))


def non_saturating_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """−E[log D(G(z))], Goodfellow et al.'s non-saturating ("−log D") generator loss."""
    return batch_mean(F.softplus(-d_fake))


@dataclass(frozen=True)
class Minimax:
    """The original minimax GAN of Eq. (1); at the optimal discriminator the generator minimises the JSD."""

    name: str = "minimax"
    optimizer: str = "rmsprop"
    clip: float | None = None
    gradient_penalty: float = 0.0
    uses_critic: bool = True

    def critic_loss(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor, mix=None) -> torch.Tensor:
        return minimax_critic_loss(critic(real), critic(fake))

    # The two halves of critic_loss, for the split discriminator update (GANConfig.critic_update="split": paper 002's
    # original code updates the discriminator on the real batch alone, then on the generated batch alone).
    def critic_loss_real(self, critic: Critic, real: torch.Tensor) -> torch.Tensor:
        return minimax_critic_loss_real(critic(real))

    def critic_loss_fake(self, critic: Critic, fake: torch.Tensor) -> torch.Tensor:
        return minimax_critic_loss_fake(critic(fake))

    def generator_loss(self, critic: Critic, fake: torch.Tensor) -> torch.Tensor:
        return minimax_generator_loss(critic(fake))


@dataclass(frozen=True)
class NonSaturating(Minimax):
    """Eq. (1)'s discriminator with the −log D generator loss (what the original code of paper 002 trains)."""

    name: str = "non_saturating"

    def generator_loss(self, critic: Critic, fake: torch.Tensor) -> torch.Tensor:
        return non_saturating_generator_loss(critic(fake))


def wasserstein_critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """E[f(G(z))] − E[f(x)]: the critic maximises the gap of the Kantorovich-Rubinstein dual (Arjovsky et al.)."""
    return batch_mean(d_fake) - batch_mean(d_real)


def wasserstein_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """−E[f(G(z))]: the generator raises the critic's value on its samples."""
    return -batch_mean(d_fake)


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor, weight: float
                     ) -> torch.Tensor:
    """λ E[(‖∇f(x̂)‖ − 1)²] at x̂ = mix·x + (1 − mix)·G(z) (Gulrajani et al.).

    ``real`` and ``fake`` are ``(batch, dim)`` or ``(K, batch, dim)``, ``mix`` is ``(batch, 1)`` or ``(K, batch, 1)``.
    The gradient is taken of the *summed* critic output, which for a stacked critic equals each member's own gradient
    (members share no weights and batch norm normalises per member), so the penalty is ``(K,)``, one per member. The
    graph is kept, so the penalty back-propagates into the critic's weights.
    """
    interpolates = (mix * real + (1 - mix) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(interpolates).sum(), interpolates, create_graph=True)
    return weight * batch_mean((grad.norm(dim=-1, keepdim=True) - 1) ** 2)


def level_set_critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor, power: int = 2) -> torch.Tensor:
    """E[f(x)²] − E[f(G(z))²], Eq. (4) of the level-set paper (``power=1``: E|f(x)| − E|f(G(z))|, ℓ1 variant).

    Minimised by the critic: its zero level set should hold the data and generated points should lie far from it."""
    return batch_mean(d_real.abs() ** power) - batch_mean(d_fake.abs() ** power)


def level_set_generator_loss(d_fake: torch.Tensor, power: int = 2) -> torch.Tensor:
    """E[f(G(z))²] (``power=1``: E|f(G(z))|): the generator moves its samples onto the critic's zero level set."""
    return batch_mean(d_fake.abs() ** power)


def optimal_matching(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """For a generated batch ``(batch, dim)`` and a real batch ``(batch, dim)``, the index of the real point matched to
    each generated one by the exact optimal transport plan for squared Euclidean cost (a permutation, ``(batch,)``)."""
    from scipy.optimize import linear_sum_assignment

    cost = torch.cdist(fake.detach().double(), real.detach().double()) ** 2
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    order = np.empty_like(cols)
    order[rows] = cols
    return torch.as_tensor(order, device=fake.device)


def minibatch_w2_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """The squared W2 distance between two equal-size batches, (1/batch) Σ ‖G(z_i) − x_σ(i)‖² for the optimal
    assignment σ (held fixed for the gradient). ``(batch, dim)`` → a scalar; ``(K, batch, dim)`` → ``(K,)``, each
    member matched on its own."""
    if fake.dim() == 2:
        return ((fake - real[optimal_matching(fake, real)]) ** 2).sum(dim=-1).mean()
    matched = torch.stack([r[optimal_matching(f, r)] for f, r in zip(fake, real)])
    return ((fake - matched) ** 2).sum(dim=-1).mean(dim=-1)


@dataclass(frozen=True)
class WGAN:
    """Wasserstein GAN with weight clipping (Arjovsky et al.): the critic's weights are clamped to ±0.01 after every
    update. The paper trains with RMSprop, lr 5e-5 and ``n_critic=5`` — set those in the run's configuration."""

    name: str = "wgan"
    optimizer: str = "rmsprop"
    clip: float | None = 0.01
    gradient_penalty: float = 0.0
    uses_critic: bool = True

    def critic_loss(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor, mix=None) -> torch.Tensor:
        return wasserstein_critic_loss(critic(real), critic(fake))

    def generator_loss(self, critic: Critic, fake: torch.Tensor) -> torch.Tensor:
        return wasserstein_generator_loss(critic(fake))


@dataclass(frozen=True)
class WGANGP(WGAN):
    """WGAN with a gradient penalty, λ = 10, trained with Adam β = (0.5, 0.9) (Gulrajani et al.; they use lr 1e-4
    and ``n_critic=5`` — set those in the configuration). The critic is called on real, generated and interpolated
    batches, in that order."""

    name: str = "wgan_gp"
    optimizer: str = "adam"
    adam_betas: tuple[float, float] = (0.5, 0.9)
    clip: float | None = None
    gradient_penalty: float = 10.0

    def critic_loss(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor, mix=None) -> torch.Tensor:
        if mix is None:
            raise ValueError("wgan_gp's critic loss needs the interpolation weights `mix` (batch, 1)")
        distance = wasserstein_critic_loss(critic(real), critic(fake))
        return distance + gradient_penalty(critic, real, fake, mix, self.gradient_penalty)


@dataclass(frozen=True)
class WGANGPToy(WGANGP):
    """WGAN-GP at the settings of Gulrajani et al.'s toy script (``gan_toy.py``): λ = 0.1 — the script sets
    ``LAMBDA = .1`` with the comment that a smaller λ helps on toy tasks — with Adam β = (0.5, 0.9), lr 1e-4 and 5
    critic steps like the image setting. Use it for the 2-d problems; ``wgan_gp`` (λ = 10) is the image setting."""

    name: str = "wgan_gp_toy"
    gradient_penalty: float = 0.1


@dataclass(frozen=True)
class LevelSet:
    """The Level Set GAN of Sagel & Gottwald, Eq. (4) with the corrected reading f(x_i)² (see the papers' README);
    ``power=1`` is the ℓ1 variant with |f|. Trained with RMSprop."""

    name: str = "level_set"
    power: int = 2
    optimizer: str = "rmsprop"
    clip: float | None = None
    gradient_penalty: float = 0.0
    uses_critic: bool = True

    def critic_loss(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor, mix=None) -> torch.Tensor:
        return level_set_critic_loss(critic(real), critic(fake), self.power)

    def generator_loss(self, critic: Critic, fake: torch.Tensor) -> torch.Tensor:
        return level_set_generator_loss(critic(fake), self.power)


@dataclass(frozen=True)
class MinibatchW2:
    """No critic: the generator minimises the exact optimal-transport cost (squared W2) between its batch and a real
    batch of the same size, matched with ``scipy.optimize.linear_sum_assignment``. ``generator_loss`` takes the real
    batch as a third argument; the critic loss is 0 (no critic is trained)."""

    name: str = "w2_minibatch_ot"
    optimizer: str = "rmsprop"
    clip: float | None = None
    gradient_penalty: float = 0.0
    uses_critic: bool = False

    def critic_loss(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor, mix=None) -> torch.Tensor:
        return torch.zeros(real.shape[:-2], device=real.device)

    def generator_loss(self, critic: Critic, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        if real is None:
            raise ValueError("w2_minibatch_ot's generator loss needs the real batch")
        return minibatch_w2_loss(fake, real)


@dataclass(frozen=True)
class Traits:
    """How an objective is trained (see the module docstring); what both trainers read."""

    optimizer: str = "rmsprop"
    adam_betas: tuple[float, float] = (0.9, 0.999)
    clip: float | None = None
    gradient_penalty: float = 0.0
    uses_critic: bool = True


def traits(loss) -> Traits:
    """The training traits of an objective object; an object that defines only the two losses trains like minimax
    (RMSprop, no clipping, no penalty, with a critic)."""
    default = Traits()
    return Traits(**{name: getattr(loss, name, getattr(default, name)) for name in Traits.__dataclass_fields__})


OBJECTIVES = {o.name: o for o in [Minimax(), NonSaturating(), WGAN(), WGANGP(), WGANGPToy(), LevelSet(),
                                    LevelSet("level_set_l1", 1), MinibatchW2()]}


def objective(name: str):
    """Look up an objective by name; an unknown name raises ``KeyError`` listing the known ones."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise KeyError(f"unknown objective {name!r}; known: {', '.join(sorted(OBJECTIVES))}") from None


@dataclass(frozen=True)
class MinimaxGP(Minimax):
    """The minimax (JSD) GAN of Eq. (1) with Gulrajani et al.'s gradient penalty λ E[(‖∇ logit(x̂)‖ − 1)²] on the
    discriminator's logit, trained like minimax (RMSprop). Lui et al.'s footnote 5: with this Lipschitz constraint
    the standard JSD generator "trains as well as the −log D trick". ``minimax_gp`` is λ = 10 (the image setting);
    ``minimax_gp_toy`` λ = 0.1 (the WGAN-GP toy code's ``LAMBDA``) and ``minimax_gp_1`` λ = 1 (:data:`MINIMAX_GP`)."""

    name: str = "minimax_gp"
    gradient_penalty: float = 10.0

    def critic_loss(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor, mix=None) -> torch.Tensor:
        if mix is None:
            raise ValueError("minimax_gp's critic loss needs the interpolation weights `mix` (batch, 1)")
        return (minimax_critic_loss(critic(real), critic(fake))
                + gradient_penalty(critic, real, fake, mix, self.gradient_penalty))


OBJECTIVES[MinimaxGP.name] = MinimaxGP()

# Footnote 5 at the toy code's λ and at 1: the penalty weight → the registered objective's name.
MINIMAX_GP = {10.0: "minimax_gp", 0.1: "minimax_gp_toy", 1.0: "minimax_gp_1"}
for _weight, _name in MINIMAX_GP.items():
    OBJECTIVES.setdefault(_name, MinimaxGP(name=_name, gradient_penalty=_weight))


def minimax_gp_objective(weight: float) -> str:
    """The name of the minimax + gradient-penalty objective with penalty weight λ = ``weight`` (one of
    :data:`MINIMAX_GP`'s keys); any other weight raises ``ValueError`` naming the choices."""
    for known, name in MINIMAX_GP.items():
        if math.isclose(float(weight), known, rel_tol=1e-9):
            return name
    raise ValueError(f"no minimax + gradient-penalty objective with λ = {weight}: choose one of "
                     f"{sorted(MINIMAX_GP)}")
