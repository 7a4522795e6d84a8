import math

import pytest
import torch

from lsgan_lib.data import distributions as d


MIXTURES = ["eight_gaussians", "twenty_five_gaussians", "four_of_eight_gaussians"]


@pytest.mark.parametrize("name", sorted(set(d.DATA) - set(MIXTURES)))
def test_samples_have_shape_and_lie_on_their_support(name, generator):
    manifold = d.data_manifold(name)
    x = manifold.sample(4000, generator)
    assert x.shape == (4000, manifold.dim) and x.dtype == torch.float32
    assert manifold.distance_to_support(x).max() < 2e-3


@pytest.mark.parametrize("name, modes, spacing", [("eight_gaussians", 8, 2 * math.sin(math.pi / 8) * 2 / 1.414),
                                                  ("twenty_five_gaussians", 25, 2 / 2.828)])
def test_mixtures_match_the_wgan_gp_toy_code(name, modes, spacing, generator):
    manifold = d.data_manifold(name)
    centres = torch.tensor(manifold.centres)
    assert centres.shape == (modes, 2) and manifold.components == modes
    assert torch.pdist(centres).min().item() == pytest.approx(spacing, rel=1e-5)
    x = manifold.sample(50_000, generator)
    nearest = torch.cdist(x, centres).argmin(dim=1)
    counts = torch.bincount(nearest, minlength=modes).float()
    assert (counts / counts.sum() - 1 / modes).abs().max() < 0.01  # equal weights
    residual = x - centres[nearest]
    assert residual.std().item() == pytest.approx(manifold.std, rel=0.03)
    # The "support" is the 3σ discs: a 2-d Gaussian leaves them with probability exp(−9/2) ≈ 1.1%.
    outside = (manifold.distance_to_support(x) > 0).float().mean().item()
    assert outside == pytest.approx(math.exp(-4.5), abs=0.003)
    assert manifold.distance_to_support(torch.tensor([[10.0, 10.0]])).item() > 5


@pytest.mark.parametrize("name", ["lattice_3x3", "spiral", "uniform_square", "nine_squares"])
def test_points_off_the_support_are_measured_as_such(name):
    manifold = d.data_manifold(name)
    far = torch.tensor([[10.0, 10.0]])
    assert manifold.distance_to_support(far).item() > 5


def test_lattice_takes_the_nine_values_equally(generator):
    x = d.lattice_3x3(90_000, generator)
    values, counts = torch.unique(x, dim=0, return_counts=True)
    assert values.shape == (9, 2)
    assert set(values.flatten().tolist()) == {-1.0, 0.0, 1.0}
    assert (counts.float() / 90_000 - 1 / 9).abs().max() < 0.01


def test_spiral_radius_is_its_parameter(generator):
    x = d.spiral(5000, generator)
    t = x.norm(dim=1)
    assert t.min() >= 0 and t.max() <= math.pi + 1e-5
    angle = 5 * t
    assert torch.allclose(x, torch.stack([t * torch.cos(angle), t * torch.sin(angle)], 1), atol=1e-4)


def test_nine_squares_fill_boxes_of_half_width_one_sixth(generator):
    x = d.nine_squares(20_000, generator)
    offset = x - x.round()
    assert offset.abs().max() <= 1 / 6 + 1e-6
    assert offset.abs().max() > 1 / 6 - 0.01
    assert torch.unique(x.round(), dim=0).shape[0] == 9


def test_distance_to_the_nine_squares_by_hand():
    points = torch.tensor([[0.5, 0.0], [0.0, 0.0], [1.5, 1.5]])
    expected = torch.tensor([0.5 - 1 / 6, 0.0, math.hypot(0.5 - 1 / 6, 0.5 - 1 / 6)])
    assert torch.allclose(d.data_manifold("nine_squares").distance_to_support(points), expected, atol=1e-6)


def test_gaussian_plane_moments(generator):
    x = d.gaussian_plane(100_000, generator)
    assert x.mean(0).abs().max() < 0.02 and (x.std(0) - 1).abs().max() < 0.02


@pytest.mark.parametrize("dim", [1, 2, 5])
@pytest.mark.parametrize("name", sorted(d.LATENTS))
def test_latent_shapes(name, dim, generator):
    fixed = d.latent(name).fixed_dim
    if fixed is not None and dim != fixed:
        with pytest.raises(ValueError, match=f"{fixed}-dimensional"):
            d.latent(name).sample(300, dim, generator)
        return
    z = d.latent(name).sample(300, dim, generator)
    assert z.shape == (300, dim)


def test_the_original_codes_latents_are_its_point_sets(generator):
    lattice = d.latent("lattice_3x3").sample(5000, 2, generator)
    assert sorted(torch.unique(lattice).tolist()) == [-1.0, 0.0, 1.0]
    assert torch.unique(lattice, dim=0).shape[0] == 9
    spiral = d.latent("spiral").sample(5000, 2, generator)
    assert float(d.data_manifold("spiral").distance_to_support(spiral).max()) < 5e-3  # the polyline's spacing
    square = d.latent("unit_square").sample(5000, 2, generator)
    assert square.min() >= 0 and square.max() <= 1 and square.min() < 0.01 and square.max() > 0.99


def test_uniform_latent_range(generator):
    z = d.uniform_latent(10_000, 2, generator)
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.99 and z.max() > 0.99


def test_disconnected_latent_leaves_gaps_between_boxes(generator):
    z = d.disconnected_latent(20_000, 2, generator)
    offset = (z - z.round()).abs()
    assert offset.max() <= 1 / 6 + 1e-6  # no sample in the gaps between boxes
    assert torch.unique(z.round(), dim=0).shape[0] == 9


def test_same_seed_same_numbers():
    a = d.spiral(10, torch.Generator().manual_seed(3))
    b = d.spiral(10, torch.Generator().manual_seed(3))
    c = d.spiral(10, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_latent_grid_is_row_major_over_the_latent_range():
    grid = d.latent_grid("uniform", 2, 5)
    assert grid.shape == (25, 2)
    assert grid[0].tolist() == [-1.0, -1.0] and grid[1].tolist() == [-1.0, -0.5] and grid[-1].tolist() == [1.0, 1.0]
    line = d.latent_grid("gaussian", 1, 7)
    assert line.shape == (7, 1) and line[0, 0] == -3 and line[-1, 0] == 3
    with pytest.raises(ValueError, match="1- or 2-dimensional"):
        d.latent_grid("gaussian", 3, 5)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match="spiral"):
        d.data_manifold("sprial")
    with pytest.raises(KeyError, match="gaussian"):
        d.latent("gauss")
