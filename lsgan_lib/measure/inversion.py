"""Generator inversion: the latent vector whose image is closest to a given image, and the loss surface around it.

The latent-space paper (004) finds z* = argmin_z ‖g(z) − x‖² (Eq. 4) with Adam, projecting z after every step back
onto the ball of plausible latents ‖z‖² ≤ dim(z) + 3·√(2·dim(z)) (Eq. 5: the mean of a χ²(dim z) plus three standard
deviations; a standard normal z falls inside with probability ≈ 99.7%+). :func:`invert` does this for a whole batch of
images at once: the generator runs in eval mode (batch norm uses its running statistics), so every image's loss
depends on its own latent only, and Adam — elementwise — updates each latent exactly as if it were inverted alone.

:func:`loss_surface` is the paper's Fig. 2 (after Li et al.): f(a, b) = l(z₀ + aα + bβ) with α = z* − z₀ and β ⟂ α
built as the paper does (β = 0, β[0] = α[1], β[1] = −α[0], then scaled to ‖β‖ = ‖α‖).

Shapes: images ``(batch, channels, height, width)``, latents ``(batch, latent_dim)``.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import torch
from torch import nn


def outside_ball(z: torch.Tensor) -> torch.Tensor:
    """Whether each row of ``z`` ``(batch, latent_dim)`` lies outside Eq. (5)'s ball, i.e. where
    :func:`project_to_ball` changes it: ``(batch,)`` bool."""
    return z.norm(dim=-1) > math.sqrt(latent_ball_bound(z.shape[-1]))


def latent_ball_bound(latent_dim: int) -> float:
    """Eq. (5)'s bound on ‖z‖²: dim(z) + 3·√(2·dim(z)) (mean + 3 standard deviations of a χ² with dim(z) d.o.f.)."""
    if latent_dim < 1:
        raise ValueError(f"latent_ball_bound needs latent_dim >= 1, got {latent_dim}")
    return latent_dim + 3 * math.sqrt(2 * latent_dim)


def project_to_ball(z: torch.Tensor) -> torch.Tensor:
    """Each row of ``z`` ``(batch, latent_dim)`` scaled back onto the ball ‖z‖² ≤ :func:`latent_ball_bound` if it lies
    outside; rows inside are unchanged. Returns a new tensor."""
    radius = math.sqrt(latent_ball_bound(z.shape[-1]))
    norms = z.norm(dim=-1, keepdim=True)
    return z * torch.clamp(radius / norms.clamp_min(1e-12), max=1.0)


def reconstruction_error(reconstructions: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image over all its pixels and channels: ``(batch, C, H, W)`` × 2 → ``(batch,)``."""
    if reconstructions.shape != images.shape:
        raise ValueError(f"reconstruction_error: shapes differ, {tuple(reconstructions.shape)} vs "
                         f"{tuple(images.shape)}")
    return (reconstructions.float() - images.float()).pow(2).flatten(1).mean(dim=1)


@dataclass
class Inversion:
    """The result of :func:`invert`: latents ``z`` ``(batch, latent_dim)``, their images ``reconstructions``
    ``(batch, C, H, W)``, the per-image MSE ``errors`` ``(batch,)``, and the wall time (``seconds``) of the search.

    ``outside_ball`` ``(batch,)``: per image, the share of Adam steps after which its latent lay outside Eq. (5)'s
    ball — with ``projected`` the steps on which the projection acted (it then put the latent back on the ball's
    surface). All zeros with ``projected`` means the projection never acted: the projected inversion equals the
    unprojected one bit for bit. ``None`` for results that did not record it."""

    z: torch.Tensor
    reconstructions: torch.Tensor
    errors: torch.Tensor
    steps: int
    projected: bool
    seconds: float
    outside_ball: torch.Tensor | None = None

    @property
    def projection_active(self) -> float | None:
        """The share of all (image, step) pairs on which the latent left the ball (``None`` if not recorded)."""
        return None if self.outside_ball is None else float(self.outside_ball.float().mean())

    @property
    def images_per_second(self) -> float:
        """Images inverted per second (all ``steps`` Adam steps of each image counted)."""
        return self.z.shape[0] / max(self.seconds, 1e-9)


def _autocast(device: torch.device, amp: bool):
    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def invert(generator: nn.Module, images: torch.Tensor, latent_dim: int, steps: int = 10_000, lr: float = 1e-3,
           project: bool = True, z0: torch.Tensor | None = None, chunk: int = 1024, amp: bool = False,
           channels_last: bool = False, device: torch.device | str | None = None) -> Inversion:
    """Solve Eq. (5) (``project=True``) or Eq. (4) (``project=False``) for every image of ``images``
    ``(batch, C, H, W)``.

    Adam (β = (0.9, 0.999), the paper's "default hyperparameters") on the latents, ``steps`` steps of rate ``lr``,
    starting from ``z0`` ``(batch, latent_dim)`` (zeros when ``None``, the paper's z₀ = 0); with ``project`` every
    latent is projected onto the ball of :func:`latent_ball_bound` after every step. The loss of an image is the mean
    squared error over its pixels; the images are processed ``chunk`` at a time. ``amp`` runs the generator under
    bfloat16 autocast and ``channels_last`` in that memory format (the reported errors are always computed in
    float32). The generator is put in eval mode and gets no gradient; it is restored to its previous mode.
    """
    if steps < 0 or lr <= 0 or chunk < 1:
        raise ValueError(f"invert needs steps >= 0, lr > 0, chunk >= 1; got {steps}, {lr}, {chunk}")
    if images.ndim != 4:
        raise ValueError(f"invert takes images (batch, C, H, W), got shape {tuple(images.shape)}")
    if z0 is not None and tuple(z0.shape) != (images.shape[0], latent_dim):
        raise ValueError(f"invert: z0 must be ({images.shape[0]}, {latent_dim}), got {tuple(z0.shape)}")
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    if channels_last:
        generator.to(memory_format=torch.channels_last)
    flags = [p.requires_grad for p in generator.parameters()]
    generator.requires_grad_(False)
    started = time.perf_counter()
    latents, reconstructions, outside = [], [], []
    try:
        for start in range(0, images.shape[0], chunk):
            target = images[start:start + chunk].to(device)
            if channels_last:
                target = target.contiguous(memory_format=torch.channels_last)
            z = (torch.zeros(target.shape[0], latent_dim, device=device) if z0 is None
                 else z0[start:start + chunk].to(device).clone())
            if project:
                z = project_to_ball(z)
            z.requires_grad_(True)
            optimizer = torch.optim.Adam([z], lr=lr)
            left = torch.zeros(target.shape[0], device=device)
            for _ in range(steps):
                with _autocast(device, amp):
                    loss = (generator(z).float() - target).pow(2).flatten(1).mean(dim=1).sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    left += outside_ball(z)
                    if project:
                        z.copy_(project_to_ball(z))
            with torch.no_grad():
                outside.append((left / max(steps, 1)).cpu())
                latents.append(z.detach().cpu())
                reconstructions.append(generator(z).float().cpu())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    finally:
        for p, flag in zip(generator.parameters(), flags):
            p.requires_grad_(flag)
        if channels_last:
            generator.to(memory_format=torch.contiguous_format)
        generator.train(was_training)
    seconds = time.perf_counter() - started
    reconstructions_ = torch.cat(reconstructions)
    return Inversion(z=torch.cat(latents), reconstructions=reconstructions_,
                     errors=reconstruction_error(reconstructions_, images.cpu()), steps=steps, projected=project,
                     seconds=seconds, outside_ball=torch.cat(outside))


def orthogonal_direction(alpha: torch.Tensor) -> torch.Tensor:
    """The paper's β for a direction α ``(latent_dim,)``: β = 0, β[0] = α[1], β[1] = −α[0], scaled to ‖β‖ = ‖α‖.

    β ⟂ α always; it needs latent_dim ≥ 2 and α[0], α[1] not both zero."""
    if alpha.ndim != 1 or alpha.shape[0] < 2:
        raise ValueError(f"orthogonal_direction needs a vector of length >= 2, got shape {tuple(alpha.shape)}")
    beta = torch.zeros_like(alpha)
    beta[0], beta[1] = alpha[1], -alpha[0]
    if float(beta.norm()) == 0.0:
        raise ValueError("orthogonal_direction: α[0] = α[1] = 0, so the paper's β is zero; no plane to slice")
    return beta * (alpha.norm() / beta.norm())


@dataclass
class LossSurface:
    """f(a, b) = l(z₀ + aα + bβ) on a grid: ``a`` ``(n,)``, ``b`` ``(n,)``, ``values`` ``(n, n)`` indexed [a, b]."""

    a: torch.Tensor
    b: torch.Tensor
    values: torch.Tensor

    def at(self, a: float, b: float) -> float:
        """f at grid point (a, b) (must lie on the grid)."""
        i = int(torch.isclose(self.a, torch.tensor(float(a), dtype=self.a.dtype)).nonzero()[0, 0])
        j = int(torch.isclose(self.b, torch.tensor(float(b), dtype=self.b.dtype)).nonzero()[0, 0])
        return float(self.values[i, j])


@torch.no_grad()
def loss_surface(generator: nn.Module, image: torch.Tensor, z_star: torch.Tensor, z0: torch.Tensor | None = None,
                 n_points: int = 41, extent: float = 2.0, chunk: int = 512) -> LossSurface:
    """The paper's Fig. 2 slice around one image ``(C, H, W)``: l(z) = mean squared error of g(z) against the image,
    evaluated at z₀ + aα + bβ for a, b on an ``n_points`` grid over [−extent, extent], α = z* − z₀ (``z_star``
    ``(latent_dim,)``; ``z0`` defaults to zeros), β from :func:`orthogonal_direction`.

    ``n_points`` must be 1 more than a multiple of 2·extent so that a = 0 and a = 1 lie on the grid (then
    f(0, 0) = l(z₀) and f(1, 0) = l(z*)). The generator runs in eval mode, in chunks of ``chunk`` latents.
    """
    if (n_points - 1) % round(2 * extent) or n_points < 3:
        raise ValueError(f"loss_surface needs n_points - 1 divisible by 2·extent ({2 * extent:g}) so that a = 0 and "
                         f"a = 1 are grid points, got n_points={n_points}")
    z0 = torch.zeros_like(z_star) if z0 is None else z0
    alpha = z_star - z0
    beta = orthogonal_direction(alpha)
    grid = torch.linspace(-extent, extent, n_points, dtype=torch.float64)
    a, b = torch.meshgrid(grid, grid, indexing="ij")
    latents = (z0[None].double() + a.reshape(-1, 1) * alpha[None].double() + b.reshape(-1, 1) * beta[None].double())
    was_training = generator.training
    generator.eval()
    try:
        device = next(generator.parameters()).device
        target = image[None].to(device)
        values = torch.cat([(generator(part.float().to(device)) - target).pow(2).flatten(1).mean(dim=1).cpu()
                            for part in latents.split(chunk)])
    finally:
        generator.train(was_training)
    return LossSurface(a=grid.float(), b=grid.float(), values=values.reshape(n_points, n_points))
