"""Toy data distributions and latent samplers.

Every sampler takes ``(n, generator)`` and returns a float32 tensor of shape ``(n, dim)`` on the generator's device,
so one ``torch.Generator`` seeded from the run's ``seed`` drives every random choice.

Data distributions also know their *support*: ``distance_to_support(x)`` gives the Euclidean distance of each point
of ``x`` (shape ``(n, dim)``) to the set the data lives on. The metrics module turns that into the share of generated
samples that lie on the data manifold.

Adding a distribution is one function and one line in ``DATA`` (or ``LATENTS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

Sampler = Callable[[int, torch.Generator], torch.Tensor]


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    """Uniform samples on ``[low, high)`` with the given shape, on the generator's device."""
    u = torch.rand(shape, generator=generator, device=generator.device)
    return low + (high - low) * u


def _lattice_points(n: int, generator: torch.Generator, values=(-1.0, 0.0, 1.0), dim: int = 2) -> torch.Tensor:
    """Each coordinate uniform on ``values``: shape ``(n, dim)``."""
    grid = torch.tensor(values, device=generator.device)
    idx = torch.randint(len(values), (n, dim), generator=generator, device=generator.device)
    return grid[idx]


# ---------------------------------------------------------------------------------------------------------------------
# Data manifolds of the geometric-view paper (002), as the original code (innerlee/ELEG5491, project/) defines them.
# ---------------------------------------------------------------------------------------------------------------------

NINE_SQUARES_HALF_WIDTH = 1.0 / 6.0
SPIRAL_TURNS = 5.0


def lattice_3x3(n: int, generator: torch.Generator) -> torch.Tensor:
    """The 3×3 lattice, a 0-dimensional manifold: each coordinate uniform on {−1, 0, 1}. Shape ``(n, 2)``."""
    return _lattice_points(n, generator)


def spiral(n: int, generator: torch.Generator) -> torch.Tensor:
    """The spiral, a 1-dimensional manifold: t ~ U(0, π), x = (t cos 5t, t sin 5t). Shape ``(n, 2)``."""
    t = _uniform((n,), 0.0, math.pi, generator)
    return torch.stack([t * torch.cos(SPIRAL_TURNS * t), t * torch.sin(SPIRAL_TURNS * t)], dim=1)


def gaussian_plane(n: int, generator: torch.Generator) -> torch.Tensor:
    """The whole plane with a standard Gaussian, a 2-dimensional manifold. Shape ``(n, 2)``."""
    return torch.randn((n, 2), generator=generator, device=generator.device)


def uniform_square(n: int, generator: torch.Generator) -> torch.Tensor:
    """The unit square [0, 1]² with a uniform distribution: connected, 2-dimensional. Shape ``(n, 2)``."""
    return _uniform((n, 2), 0.0, 1.0, generator)


def nine_squares(n: int, generator: torch.Generator) -> torch.Tensor:
    """Nine small squares: the 3×3 lattice plus U(−1/6, 1/6) per coordinate; disconnected, 2-d. Shape ``(n, 2)``."""
    h = NINE_SQUARES_HALF_WIDTH
    return _lattice_points(n, generator) + _uniform((n, 2), -h, h, generator)


def _distance_to_boxes(x: torch.Tensor, centres: torch.Tensor, half_width: float) -> torch.Tensor:
    """Distance of each point ``(n, d)`` to the union of axis-aligned boxes ``centre ± half_width``. Shape ``(n,)``."""
    offset = (x[:, None, :] - centres[None, :, :]).abs() - half_width  # (n, boxes, d)
    return offset.clamp(min=0).norm(dim=2).min(dim=1).values


def _lattice_centres(device, values=(-1.0, 0.0, 1.0)) -> torch.Tensor:
    v = torch.tensor(values, device=device)
    return torch.cartesian_prod(v, v)  # (9, 2)


def _distance_lattice(x: torch.Tensor) -> torch.Tensor:
    return _distance_to_boxes(x, _lattice_centres(x.device), 0.0)


def _distance_nine_squares(x: torch.Tensor) -> torch.Tensor:
    return _distance_to_boxes(x, _lattice_centres(x.device), NINE_SQUARES_HALF_WIDTH)


def _distance_uniform_square(x: torch.Tensor) -> torch.Tensor:
    return _distance_to_boxes(x, torch.full((1, 2), 0.5, device=x.device), 0.5)


def _distance_spiral(x: torch.Tensor, resolution: int = 20_000) -> torch.Tensor:
    """Distance to the spiral curve, against a polyline of ``resolution`` points (spacing < 1e-3)."""
    t = torch.linspace(0.0, math.pi, resolution, device=x.device, dtype=x.dtype)
    curve = torch.stack([t * torch.cos(SPIRAL_TURNS * t), t * torch.sin(SPIRAL_TURNS * t)], dim=1)
    return torch.cat([torch.cdist(chunk, curve).min(dim=1).values for chunk in x.split(4096)])


def _distance_plane(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)


# ---------------------------------------------------------------------------------------------------------------------
# Gaussian mixtures of the WGAN-GP toy code (Gulrajani et al., gan_toy.py), used by the level-set and the
# manifold-alignment chapters. Their "support" is taken as the union of the 3σ discs around the centres (the
# high-quality region of the unrolled-GAN / VEEGAN mode metrics), so precision and mode counts agree.
# ---------------------------------------------------------------------------------------------------------------------

EIGHT_GAUSSIANS_CENTRES: tuple[tuple[float, float], ...] = tuple(
    (2 * math.cos(k * math.pi / 4) / 1.414, 2 * math.sin(k * math.pi / 4) / 1.414) for k in range(8))
EIGHT_GAUSSIANS_STD = 0.02 / 1.414
TWENTY_FIVE_GAUSSIANS_CENTRES: tuple[tuple[float, float], ...] = tuple(
    (2 * i / 2.828, 2 * j / 2.828) for i in range(-2, 3) for j in range(-2, 3))
TWENTY_FIVE_GAUSSIANS_STD = 0.05 / 2.828
MODE_RADIUS_IN_STD = 3.0


def _mixture(n: int, generator: torch.Generator, centres: tuple[tuple[float, ...], ...], std: float) -> torch.Tensor:
    """Equal-weight isotropic Gaussians: a centre chosen uniformly, plus N(0, std²) noise. Shape ``(n, d)``."""
    grid = torch.tensor(centres, device=generator.device)
    idx = torch.randint(len(centres), (n,), generator=generator, device=generator.device)
    noise = torch.randn((n, grid.shape[1]), generator=generator, device=generator.device)
    return grid[idx] + std * noise


def eight_gaussians(n: int, generator: torch.Generator) -> torch.Tensor:
    """8 Gaussians: centres 2·(cos kπ/4, sin kπ/4), noise N(0, 0.02²), everything / 1.414. Shape ``(n, 2)``."""
    return _mixture(n, generator, EIGHT_GAUSSIANS_CENTRES, EIGHT_GAUSSIANS_STD)


def twenty_five_gaussians(n: int, generator: torch.Generator) -> torch.Tensor:
    """25 Gaussians: centres (2i, 2j), i, j ∈ {−2, …, 2}, noise N(0, 0.05²), everything / 2.828. Shape ``(n, 2)``."""
    return _mixture(n, generator, TWENTY_FIVE_GAUSSIANS_CENTRES, TWENTY_FIVE_GAUSSIANS_STD)


def _distance_to_discs(centres: tuple[tuple[float, ...], ...], radius: float) -> Callable[[torch.Tensor], torch.Tensor]:
    def distance(x: torch.Tensor) -> torch.Tensor:
        grid = torch.tensor(centres, device=x.device, dtype=x.dtype)
        return (torch.cdist(x, grid).min(dim=1).values - radius).clamp_min(0.0)
    return distance


@dataclass(frozen=True)
class DataManifold:
    """A toy data distribution together with the geometry of its support.

    ``bounds`` is the plotting box ``(xmin, xmax, ymin, ymax)``; ``intrinsic_dim`` the manifold's dimension and
    ``components`` its number of connected components.
    """

    name: str
    label: str
    sample: Sampler
    distance_to_support: Callable[[torch.Tensor], torch.Tensor]
    intrinsic_dim: int
    components: int
    bounds: tuple[float, float, float, float]
    dim: int = 2
    centres: tuple[tuple[float, ...], ...] = ()  # a mixture's mode centres ``(components, dim)``; empty otherwise
    std: float = 0.0  # a mixture's per-mode standard deviation


DATA: dict[str, DataManifold] = {
    d.name: d
    for d in [
        DataManifold("lattice_3x3", "3×3 lattice (0-d)", lattice_3x3, _distance_lattice, 0, 9, (-1.6, 1.6, -1.6, 1.6)),
        DataManifold("spiral", "spiral (1-d)", spiral, _distance_spiral, 1, 1, (-3.4, 3.4, -3.4, 3.4)),
        DataManifold("gaussian_plane", "Gaussian plane (2-d)", gaussian_plane, _distance_plane, 2, 1, (-4, 4, -4, 4)),
        DataManifold("uniform_square", "uniform square (connected)", uniform_square, _distance_uniform_square, 2, 1,
                     (-0.4, 1.4, -0.4, 1.4)),
        DataManifold("nine_squares", "nine squares (disconnected)", nine_squares, _distance_nine_squares, 2, 9,
                     (-1.6, 1.6, -1.6, 1.6)),
        DataManifold("eight_gaussians", "8 Gaussians", eight_gaussians,
                     _distance_to_discs(EIGHT_GAUSSIANS_CENTRES, MODE_RADIUS_IN_STD * EIGHT_GAUSSIANS_STD), 2, 8,
                     (-2.0, 2.0, -2.0, 2.0), centres=EIGHT_GAUSSIANS_CENTRES, std=EIGHT_GAUSSIANS_STD),
        DataManifold("twenty_five_gaussians", "25 Gaussians", twenty_five_gaussians,
                     _distance_to_discs(TWENTY_FIVE_GAUSSIANS_CENTRES, MODE_RADIUS_IN_STD * TWENTY_FIVE_GAUSSIANS_STD),
                     2, 25, (-2.0, 2.0, -2.0, 2.0), centres=TWENTY_FIVE_GAUSSIANS_CENTRES,
                     std=TWENTY_FIVE_GAUSSIANS_STD),
    ]
}


def data_manifold(name: str) -> DataManifold:
    """Look up a data distribution by name; an unknown name raises ``KeyError`` listing the known ones."""
    try:
        return DATA[name]
    except KeyError:
        raise KeyError(f"unknown data distribution {name!r}; known: {', '.join(sorted(DATA))}") from None


# ---------------------------------------------------------------------------------------------------------------------
# Latent samplers: z of shape (n, dim).
# ---------------------------------------------------------------------------------------------------------------------


def gaussian_latent(n: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """z ~ N(0, I_dim). Shape ``(n, dim)``."""
    return torch.randn((n, dim), generator=generator, device=generator.device)


def uniform_latent(n: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """z ~ U([−1, 1]^dim): a connected latent space. Shape ``(n, dim)``."""
    return _uniform((n, dim), -1.0, 1.0, generator)


def disconnected_latent(n: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """A disconnected latent space: the union of 3^dim separated boxes, centres in {−1, 0, 1}^dim, half-width 1/6.

    Each box is chosen with equal probability and z is uniform inside it. Shape ``(n, dim)``.
    """
    h = NINE_SQUARES_HALF_WIDTH
    return _lattice_points(n, generator, dim=dim) + _uniform((n, dim), -h, h, generator)


def _fixed_dim(name: str, dim: int, fixed: int) -> None:
    if dim != fixed:
        raise ValueError(f"the {name} latent is {fixed}-dimensional (a point set of R^{fixed}); got latent_dim={dim}")


def unit_square_latent(n: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """z ~ U([0, 1]^dim): the connected latent of paper 002's original code (``uniform_uniform``).
    Shape ``(n, dim)``."""
    return _uniform((n, dim), 0.0, 1.0, generator)


def lattice_latent(n: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """The 3×3 lattice as a latent space (the original code's ``lattice3x3`` latent): a 0-dimensional manifold of
    R², each coordinate uniform on {−1, 0, 1}. ``dim`` must be 2. Shape ``(n, 2)``."""
    _fixed_dim("lattice_3x3", dim, 2)
    return lattice_3x3(n, generator)


def spiral_latent(n: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """The spiral as a latent space (the original code's ``spiral`` latent): a 1-dimensional manifold of R²,
    t ~ U(0, π), z = (t cos 5t, t sin 5t). ``dim`` must be 2. Shape ``(n, 2)``."""
    _fixed_dim("spiral", dim, 2)
    return spiral(n, generator)


@dataclass(frozen=True)
class Latent:
    """A latent distribution: ``sample(n, dim, generator) -> (n, dim)``, and the box its grids cover.

    ``fixed_dim`` is the only ``dim`` a point set of a fixed space accepts (the lattice and the spiral as latents live
    in R²; ``intrinsic_dim`` is their manifold dimension, 0 and 1), or ``None`` for latents of any dimension."""

    name: str
    label: str
    sample: Callable[[int, int, torch.Generator], torch.Tensor]
    grid_range: tuple[float, float]
    connected: bool = True
    fixed_dim: int | None = None
    intrinsic_dim: int | None = None  # None: the latent's dimension itself


LATENTS: dict[str, Latent] = {
    z.name: z
    for z in [
        Latent("gaussian", "Gaussian", gaussian_latent, (-3.0, 3.0)),
        Latent("uniform", "uniform (connected)", uniform_latent, (-1.0, 1.0)),
        Latent("disconnected", "disconnected boxes", disconnected_latent, (-7 / 6, 7 / 6), connected=False),
        Latent("unit_square", "uniform on [0, 1]² (connected)", unit_square_latent, (0.0, 1.0)),
        Latent("lattice_3x3", "3×3 lattice (0-d)", lattice_latent, (-1.5, 1.5), connected=False, fixed_dim=2,
               intrinsic_dim=0),
        Latent("spiral", "spiral (1-d)", spiral_latent, (-3.4, 3.4), fixed_dim=2, intrinsic_dim=1),
    ]
}


def latent(name: str) -> Latent:
    """Look up a latent distribution by name; an unknown name raises ``KeyError`` listing the known ones."""
    try:
        return LATENTS[name]
    except KeyError:
        raise KeyError(f"unknown latent distribution {name!r}; known: {', '.join(sorted(LATENTS))}") from None


def latent_grid(name: str, dim: int, points_per_axis: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """A regular grid over the latent's range, for drawing what the generator does to it.

    Returns shape ``(points_per_axis ** dim, dim)``, row-major (the last coordinate varies fastest), so a 2-d grid
    reshapes to ``(points_per_axis, points_per_axis, 2)``.
    """
    if dim not in (1, 2):
        raise ValueError(f"latent_grid draws 1- or 2-dimensional latents, got dim={dim}")
    low, high = latent(name).grid_range
    axis = torch.linspace(low, high, points_per_axis, device=device)
    if dim == 1:
        return axis[:, None]
    return torch.cartesian_prod(axis, axis)


# ---------------------------------------------------------------------------------------------------------------------
# A circle embedded in R^10 (the manifold-alignment chapter): a 1-d manifold of a 10-d ambient space, the setting of
# Lui et al.'s Assumption A (k < n). The plane is spanned by u = (1, …, 1)/√10 and v = (1, −1, 1, −1, …)/√10, which
# are orthonormal and tilted against every coordinate axis.
# ---------------------------------------------------------------------------------------------------------------------

CIRCLE_R10_DIM = 10
CIRCLE_R10_RADIUS = 1.0


def circle_r10_basis(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The orthonormal basis ``(2, 10)`` of the circle's plane: rows u and v."""
    u = torch.ones(CIRCLE_R10_DIM, device=device, dtype=dtype)
    v = torch.tensor([(-1.0) ** i for i in range(CIRCLE_R10_DIM)], device=device, dtype=dtype)
    return torch.stack([u, v]) / CIRCLE_R10_DIM ** 0.5


def circle_r10(n: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform on the unit circle in the plane of :func:`circle_r10_basis`, in R^10. Shape ``(n, 10)``."""
    phi = _uniform((n,), -math.pi, math.pi, generator)
    coords = CIRCLE_R10_RADIUS * torch.stack([torch.cos(phi), torch.sin(phi)], dim=1)
    return coords @ circle_r10_basis(generator.device)


def circle_r10_angle(x: torch.Tensor) -> torch.Tensor:
    """The angle in [−π, π] of each point ``(n, 10)`` projected onto the circle's plane: shape ``(n,)``."""
    coords = x @ circle_r10_basis(x.device, x.dtype).T
    return torch.atan2(coords[:, 1], coords[:, 0])


def _distance_circle_r10(x: torch.Tensor) -> torch.Tensor:
    """Exact distance to the circle: √(‖x − proj(x)‖² + (‖proj(x)‖ − r)²), proj the projection onto its plane."""
    basis = circle_r10_basis(x.device, x.dtype)
    coords = x @ basis.T
    off_plane = x - coords @ basis
    return (off_plane.pow(2).sum(dim=1) + (coords.norm(dim=1) - CIRCLE_R10_RADIUS).pow(2)).sqrt()


DATA["circle_r10"] = DataManifold("circle_r10", "circle in R^10 (1-d)", circle_r10, _distance_circle_r10, 1, 1,
                                  (-1.5, 1.5, -1.5, 1.5), dim=CIRCLE_R10_DIM)


# ---------------------------------------------------------------------------------------------------------------------
# The manifold-alignment chapter's other data: a unit circle in the plane (a 1-d support in R^2: Lui et al.'s
# Assumption A, k < n, and the curve data of their Fig. 1), and the 8 Gaussians' even-numbered modes alone (the data a
# generator is pre-trained on before Sec. 4.2's missing-modes test).
# ---------------------------------------------------------------------------------------------------------------------

CIRCLE_RADIUS = 1.0


def circle(n: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform on the unit circle of the plane. Shape ``(n, 2)``."""
    phi = _uniform((n,), -math.pi, math.pi, generator)
    return CIRCLE_RADIUS * torch.stack([torch.cos(phi), torch.sin(phi)], dim=1)


def circle_angle(x: torch.Tensor) -> torch.Tensor:
    """The angle in [−π, π] of each point ``(n, 2)`` about the origin: shape ``(n,)``."""
    return torch.atan2(x[:, 1], x[:, 0])


def _distance_circle(x: torch.Tensor) -> torch.Tensor:
    """Exact distance of each point ``(n, 2)`` to the unit circle: |‖x‖ − 1|, shape ``(n,)``."""
    return (x.norm(dim=1) - CIRCLE_RADIUS).abs()


FOUR_OF_EIGHT_GAUSSIANS_CENTRES = EIGHT_GAUSSIANS_CENTRES[::2]  # modes 0, 2, 4, 6: every other one


def four_of_eight_gaussians(n: int, generator: torch.Generator) -> torch.Tensor:
    """The 8 Gaussians' modes 0, 2, 4, 6 alone (same centres and σ), equal weights. Shape ``(n, 2)``."""
    return _mixture(n, generator, FOUR_OF_EIGHT_GAUSSIANS_CENTRES, EIGHT_GAUSSIANS_STD)


DATA["circle"] = DataManifold("circle", "unit circle in R^2 (1-d)", circle, _distance_circle, 1, 1,
                              (-1.5, 1.5, -1.5, 1.5))
DATA["four_of_eight_gaussians"] = DataManifold(
    "four_of_eight_gaussians", "4 of the 8 Gaussians", four_of_eight_gaussians,
    _distance_to_discs(FOUR_OF_EIGHT_GAUSSIANS_CENTRES, MODE_RADIUS_IN_STD * EIGHT_GAUSSIANS_STD), 2, 4,
    (-2.0, 2.0, -2.0, 2.0), centres=FOUR_OF_EIGHT_GAUSSIANS_CENTRES, std=EIGHT_GAUSSIANS_STD)
