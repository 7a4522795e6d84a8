"""GAN objectives, one small object each.

An objective has two losses, both minimised:

* ``critic_loss(critic, real, fake)`` — the discriminator's (critic's) loss on a real batch ``(batch, dim)`` and a
  generated batch ``(batch, dim)`` (already detached from the generator);
* ``generator_loss(critic, fake)`` — the generator's loss on a generated batch that still carries its graph.

The critic is called once per batch (real and generated separately, so batch norm sees each batch on its own, as in
paper 002's original code). The formulas live in plain functions of the critic's outputs (logits), which the tests
check against hand-computed values. A new objective is one more dataclass and one line in ``OBJECTIVES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch.nn import functional as F

Critic = Callable[[torch.Tensor], torch.Tensor]


def minimax_critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """−E[log D(x)] − E[log(1 − D(G(z)))] of Eq. (1), with D = sigmoid(logit). Logits of shape ``(batch, 1)``."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def minimax_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """E[log(1 − D(G(z)))], the generator's side of Eq. (1) (saturates when D rejects the samples)."""
    return -F.softplus(d_fake).mean()


def non_saturating_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """−E[log D(G(z))], Goodfellow et al.'s non-saturating ("−log D") generator loss."""
    return F.softplus(-d_fake).mean()


@dataclass(frozen=True)
class Minimax:
    """The original minimax GAN of Eq. (1); at the optimal discriminator the generator minimises the JSD."""

    name: str = "minimax"

    def critic_loss(self, critic: Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return minimax_critic_loss(critic(real), critic(fake))

    def generator_loss(self, critic: Critic, fake: torch.Tensor) -> torch.Tensor:
        return minimax_generator_loss(critic(fake))


@dataclass(frozen=True)
class NonSaturating(Minimax):
    """Eq. (1)'s discriminator with the −log D generator loss (what the original code of paper 002 trains)."""

    name: str = "non_saturating"

    def generator_loss(self, critic: Critic, fake: torch.Tensor) -> torch.Tensor:
        return non_saturating_generator_loss(critic(fake))


OBJECTIVES = {o.name: o for o in [Minimax(), NonSaturating()]}


def objective(name: str):
    """Look up an objective by name; an unknown name raises ``KeyError`` listing the known ones."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise KeyError(f"unknown objective {name!r}; known: {', '.join(sorted(OBJECTIVES))}") from None
