"""The papers' networks.

So far: the fully connected net of the geometric-view paper (002), used there for both generator and discriminator.
"""

from __future__ import annotations

from typing import Sequence

from torch import nn

PAPER_002_WIDTHS: tuple[int, ...] = (20, 40, 100, 200, 200, 100, 40, 20)


def fc_net(in_dim: int, out_dim: int, widths: Sequence[int] = PAPER_002_WIDTHS, batch_norm: bool = True) -> nn.Sequential:
    """Paper 002's fully connected net: ``Linear → BatchNorm → ELU`` per hidden width, then a linear output.

    Maps ``(batch, in_dim)`` to ``(batch, out_dim)``. With the paper's widths 20-40-100-200-200-100-40-20 it has
    90,381 linear weights and biases plus 1,440 batch-norm parameters (2 → 1 net).
    """
    if in_dim < 1 or out_dim < 1 or any(w < 1 for w in widths):
        raise ValueError(f"fc_net needs positive sizes, got in_dim={in_dim}, out_dim={out_dim}, widths={list(widths)}")
    layers: list[nn.Module] = []
    previous = in_dim
    for width in widths:
        layers.append(nn.Linear(previous, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ELU())
        previous = width
    layers.append(nn.Linear(previous, out_dim))
    return nn.Sequential(*layers)
