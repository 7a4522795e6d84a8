"""The papers' networks.

So far: the fully connected net of the geometric-view paper (002), used there for both generator and discriminator,
and the same builder without batch norm and with ReLU as the toy MLPs of the WGAN-GP toy code (3 × 512, ReLU).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

PAPER_002_WIDTHS: tuple[int, ...] = (20, 40, 100, 200, 200, 100, 40, 20)
TOY_MLP_WIDTHS: tuple[int, ...] = (512, 512, 512)  # Gulrajani et al.'s toy code (gan_toy.py), ReLU, no batch norm



class _ELUFunction(torch.autograd.Function):
    """ELU (α = 1) as max(x, exp(min(x, 0)) − 1), with PyTorch's own ELU backward computed from the output."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = torch.maximum(x, torch.clamp(x, max=0).exp_().sub_(1))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.elu_backward(grad, 1.0, 1.0, 1.0, True, y)


def fast_elu(x: torch.Tensor) -> torch.Tensor:
    """ELU with α = 1, elementwise on any shape. PyTorch's CPU ELU evaluates ``expm1``, which is slow on these machines
    (2.6 ms forward for a (10, 256, 200) tensor); this form takes 0.7–1.0 ms forward and backward and agrees with
    ``F.elu`` to within 6e-8 in values and gradients (bench/README.md). Both toy trainers use it through
    :class:`FastELU`, so their numbers stay equal to each other."""
    return _ELUFunction.apply(x)


class FastELU(nn.ELU):
    """``nn.ELU()`` (α = 1) computed by :func:`fast_elu`: the activation of :func:`fc_net`'s ``"elu"``."""

    def __init__(self):
        super().__init__(alpha=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fast_elu(x)


ACTIVATIONS: dict[str, type[nn.Module]] = {"elu": FastELU, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}


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


INITIALISATIONS = ("default", "he_uniform")  # fc_net's weights: PyTorch's defaults, or the WGAN-GP toy code's


@torch.no_grad()
def he_uniform_init(net: nn.Sequential) -> nn.Sequential:
    """Re-initialise an :func:`fc_net` in place as Gulrajani et al.'s ``tflib`` ``Linear`` does in ``gan_toy.py``
    (and the FC layers of ``gan_mnist.py``): hidden layers He-uniform, U(±√3·√(2/fan_in)) (``initialization='he'``),
    the output layer Glorot-uniform, U(±√3·√(2/(fan_in + fan_out))) (``initialization=None``), every bias zero.
    PyTorch's default, U(±1/√fan_in), has a √6 ≈ 2.45× smaller standard deviation in the hidden layers. Draws from
    the global random state (callers fork and seed it). Returns ``net``."""
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        fan_out, fan_in = layer.weight.shape
        std = (2.0 / fan_in) ** 0.5 if i < len(linears) - 1 else (2.0 / (fan_in + fan_out)) ** 0.5
        layer.weight.uniform_(-std * 3 ** 0.5, std * 3 ** 0.5)
        layer.bias.zero_()
    return net


# ---------------------------------------------------------------------------------------------------------------------
# Image networks. Each architecture is one entry of IMAGE_NETS: a builder
# ``(latent_dim, channels, size, width, critic_norm) -> (generator, critic)`` with
# generator ``(batch, latent_dim) → (batch, channels, size, size)`` in [−1, 1] (tanh) and
# critic ``(batch, channels, size, size) → (batch, 1)``.
# ---------------------------------------------------------------------------------------------------------------------

CRITIC_NORMS = ("batch", "none")  # WGAN-GP's penalty is per sample: its critic takes "none" (Gulrajani et al.)


def _critic_norm(kind: str, channels: int) -> list[nn.Module]:
    if kind not in CRITIC_NORMS:
        raise ValueError(f"unknown critic_norm {kind!r}; known: {', '.join(CRITIC_NORMS)}")
    return [nn.BatchNorm2d(channels)] if kind == "batch" else []


def dcgan_generator(latent_dim: int, channels: int, size: int, width: int = 64) -> nn.Sequential:
    """Radford et al.'s DCGAN generator for ``size`` ∈ {28, 32, 64}: ``(batch, latent_dim) → (batch, channels, size,
    size)``. A projection to a 4×4 (7×7 for 28) map of ``width·2^(k−1)`` channels, then k transposed 4×4 stride-2
    convolutions halving the channels (BN + ReLU between), the last to ``channels`` with tanh."""
    if size not in (28, 32, 64):
        raise ValueError(f"dcgan_generator builds 28, 32 or 64 pixel images, not {size}")
    start, ups = (7, 2) if size == 28 else (4, {32: 3, 64: 4}[size])
    maps = width * 2 ** (ups - 1)
    layers: list[nn.Module] = [nn.Linear(latent_dim, maps * start * start, bias=False),
                               nn.Unflatten(1, (maps, start, start)), nn.BatchNorm2d(maps), nn.ReLU()]
    for _ in range(ups - 1):
        layers += [nn.ConvTranspose2d(maps, maps // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(maps // 2), nn.ReLU()]
        maps //= 2
    layers += [nn.ConvTranspose2d(maps, channels, 4, 2, 1), nn.Tanh()]
    return nn.Sequential(*layers)


def dcgan_critic(channels: int, size: int, width: int = 64, critic_norm: str = "batch") -> nn.Sequential:
    """The DCGAN discriminator mirrored: k strided 4×4 convolutions doubling the channels from ``width`` (LeakyReLU
    0.2; ``critic_norm`` after all but the first), then a linear output. ``(batch, channels, size, size) → (batch, 1)``;
    no sigmoid (the objectives take logits)."""
    if size not in (28, 32, 64):
        raise ValueError(f"dcgan_critic reads 28, 32 or 64 pixel images, not {size}")
    end, downs = (7, 2) if size == 28 else (4, {32: 3, 64: 4}[size])
    layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
    maps = width
    for _ in range(downs - 1):
        layers += [nn.Conv2d(maps, maps * 2, 4, 2, 1), *_critic_norm(critic_norm, maps * 2), nn.LeakyReLU(0.2)]
        maps *= 2
    layers += [nn.Flatten(), nn.Linear(maps * end * end, 1)]
    return nn.Sequential(*layers)


def _dcgan(latent_dim: int, channels: int, size: int, width: int, critic_norm: str) -> tuple[nn.Module, nn.Module]:
    return dcgan_generator(latent_dim, channels, size, width), dcgan_critic(channels, size, width, critic_norm)


IMAGE_NETS = {
    "dcgan": _dcgan,
}


def image_networks(architecture: str, latent_dim: int, channels: int, size: int, width: int,
                   critic_norm: str = "batch") -> tuple[nn.Module, nn.Module]:
    """Generator and critic of a registered image architecture (see :data:`IMAGE_NETS`)."""
    if architecture not in IMAGE_NETS:
        raise KeyError(f"unknown image architecture {architecture!r}; known: {', '.join(sorted(IMAGE_NETS))}")
    if latent_dim < 1 or width < 1:
        raise ValueError(f"image networks need latent_dim >= 1 and width >= 1, got {latent_dim} and {width}")
    return IMAGE_NETS[architecture](latent_dim, channels, size, width, critic_norm)


# ---------------------------------------------------------------------------------------------------------------------
# The latent-space paper's (004) Table 1: a resize-convolution generator and a strided critic, 5×5 kernels, Glorot
# initialisation. ``width`` is the number of maps at 4×4 of the 64-pixel net (the paper: 2048); the 32-pixel net (the
# paper's CIFAR-10 variant) has one up- and one down-block fewer and starts at width/2 (the paper: 1024). Every block
# halves (generator) or doubles (critic) the maps, so the last generator block has width/16 maps (the paper: 128) and
# the critic's first block width/8 (the paper: 256).
# ---------------------------------------------------------------------------------------------------------------------

RESIZE_CONV_SIZES = (16, 32, 64)


def _resize_conv_blocks(size: int, width: int) -> int:
    """The number of up-blocks (= down-blocks) of Table 1's nets for ``size`` pixels; checks the width."""
    if size not in RESIZE_CONV_SIZES:
        raise ValueError(f"the resize-conv nets of Table 1 build {RESIZE_CONV_SIZES} pixel images, not {size}; resize "
                         "the data (ImageGANConfig.image_size)")
    if width < 16 or width % 16:
        raise ValueError(f"the resize-conv nets need a width divisible by 16 (width/16 maps in the last block), "
                         f"got {width}")
    return {16: 2, 32: 3, 64: 4}[size]


def glorot_init(net: nn.Module) -> nn.Module:
    """Glorot (Xavier) uniform weights and zero biases for every convolution and dense layer of ``net`` (in place)."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return net


def resize_conv_generator(latent_dim: int, channels: int, size: int, width: int = 2048) -> nn.Sequential:
    """Table 1's generator: ``(batch, latent_dim) → (batch, channels, size, size)`` in [−1, 1].

    Dense/BN/ReLU to a 4×4 map of ``width·2^(k−4)`` channels (k = log2(size/4) blocks), then k blocks of
    [nearest-neighbour resize ×2, 5×5 conv halving the maps, BN, ReLU], then a 5×5 conv to ``channels`` and tanh.
    """
    blocks = _resize_conv_blocks(size, width)
    maps = width // 2 ** (4 - blocks)
    layers: list[nn.Module] = [nn.Linear(latent_dim, maps * 16), nn.Unflatten(1, (maps, 4, 4)), nn.BatchNorm2d(maps),
                               nn.ReLU()]
    for _ in range(blocks):
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(maps, maps // 2, 5, padding=2),
                   nn.BatchNorm2d(maps // 2), nn.ReLU()]
        maps //= 2
    layers += [nn.Conv2d(maps, channels, 5, padding=2), nn.Tanh()]
    return glorot_init(nn.Sequential(*layers))


def resize_conv_critic(channels: int, size: int, width: int = 2048, critic_norm: str = "none", out_dim: int = 1
                       ) -> nn.Sequential:
    """Table 1's discriminator: ``(batch, channels, size, size) → (batch, out_dim)``.

    k blocks of [strided 5×5 conv (halves the size, maps width/8, width/4, …), LReLU, 5×5 conv, LReLU], then a dense
    output. LeakyReLU slope 0.2 (the paper does not state it; Gulrajani et al.'s code). ``critic_norm="none"`` is the
    paper's (no normalisation); ``out_dim = dim(z)`` makes it the autoencoder's encoder.
    """
    blocks = _resize_conv_blocks(size, width)
    layers: list[nn.Module] = []
    previous, maps = channels, width // 8
    for _ in range(blocks):
        layers += [nn.Conv2d(previous, maps, 5, stride=2, padding=2), *_critic_norm(critic_norm, maps),
                   nn.LeakyReLU(0.2), nn.Conv2d(maps, maps, 5, padding=2), *_critic_norm(critic_norm, maps),
                   nn.LeakyReLU(0.2)]
        previous, maps = maps, maps * 2
    layers += [nn.Flatten(), nn.Linear(previous * 16, out_dim)]
    return glorot_init(nn.Sequential(*layers))


def _resize_conv(latent_dim: int, channels: int, size: int, width: int, critic_norm: str
                 ) -> tuple[nn.Module, nn.Module]:
    return resize_conv_generator(latent_dim, channels, size, width), resize_conv_critic(channels, size, width,
                                                                                        critic_norm)


IMAGE_NETS["resize_conv"] = _resize_conv


def lenet5(channels: int = 1, n_classes: int = 10) -> nn.Sequential:
    """LeCun et al.'s LeNet-5 for 32×32 inputs: ``(batch, channels, 32, 32) → (batch, n_classes)`` logits.

    conv 5×5 → 6 maps, tanh, avg-pool 2, conv 5×5 → 16, tanh, avg-pool 2, dense 120, tanh, dense 84, tanh, dense out.
    ``net[:-1]`` gives the 84 features of the F6 layer.
    """
    return nn.Sequential(nn.Conv2d(channels, 6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                         nn.Linear(84, n_classes))
