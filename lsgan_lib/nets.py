"""The papers' networks.

So far: the fully connected net of the geometric-view paper (002), used there for both generator and discriminator,
and the same builder without batch norm and with ReLU as the toy MLPs of the WGAN-GP toy code (3 × 512, ReLU).
"""

from __future__ import annotations

from typing import Sequence

from torch import nn

PAPER_002_WIDTHS: tuple[int, ...] = (20, 40, 100, 200, 200, 100, 40, 20)
TOY_MLP_WIDTHS: tuple[int, ...] = (512, 512, 512)  # Gulrajani et al.'s toy code (gan_toy.py), ReLU, no batch norm

ACTIVATIONS: dict[str, type[nn.Module]] = {"elu": nn.ELU, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}


def fc_net(in_dim: int, out_dim: int, widths: Sequence[int] = PAPER_002_WIDTHS, batch_norm: bool = True,
           activation: str = "elu") -> nn.Sequential:
    """Paper 002's fully connected net: ``Linear → BatchNorm → ELU`` per hidden width, then a linear output.

    Maps ``(batch, in_dim)`` to ``(batch, out_dim)``. With the paper's widths 20-40-100-200-200-100-40-20 it has
    90,381 linear weights and biases plus 1,440 batch-norm parameters (2 → 1 net). ``batch_norm=False,
    activation="relu", widths=TOY_MLP_WIDTHS`` is the WGAN-GP toy code's MLP. ``activation`` is a key of
    :data:`ACTIVATIONS` (LeakyReLU with PyTorch's slope 0.01).
    """
    if in_dim < 1 or out_dim < 1 or any(w < 1 for w in widths):
        raise ValueError(f"fc_net needs positive sizes, got in_dim={in_dim}, out_dim={out_dim}, widths={list(widths)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"fc_net: unknown activation {activation!r}; known: {', '.join(sorted(ACTIVATIONS))}")
    layers: list[nn.Module] = []
    previous = in_dim
    for width in widths:
        layers.append(nn.Linear(previous, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTIVATIONS[activation]())
        previous = width
    layers.append(nn.Linear(previous, out_dim))
    return nn.Sequential(*layers)
