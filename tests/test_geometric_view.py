"""The geometric-view chapter's settings, panels and measurements."""

import pytest
import torch

from lsgan_lib.data import distributions
from lsgan_lib.chapters import geometric_view as gv
from lsgan_lib.models.nets import fc_net
from lsgan_lib.train.toy import build_networks


def test_the_two_settings_are_the_original_code_and_the_paper_text():
    p = gv.panel("gaussian", "lattice_3x3")
    code = gv.config("original_code", p, seed=3, n_iter=10, snapshots=(10,))
    assert (code.objective, code.critic_update, code.rmsprop_alpha, code.rmsprop_eps, code.weight_decay,
            code.lr_decay_every) == ("non_saturating", "split", 0.9, 1.0, 5e-4, 100)
    text = gv.config("paper_text", p, seed=3, n_iter=10, snapshots=(10,))
    assert (code.critic_batch_norm, code.loss_reduction) == ("running", "mean")  # the third screen's reading
    assert (text.objective, text.critic_update, text.lr_decay_every) == ("minimax", "joint", 300)
    assert (text.critic_batch_norm, text.loss_reduction) == ("batch", "mean")  # PyTorch's default
    assert code.latent_dim == text.latent_dim == 2 and code.seed == 3
    with pytest.raises(ValueError, match="original_code"):
        gv.config("code", p, seed=0)
    with pytest.raises(KeyError, match="gaussian→spiral"):
        gv.panel("gaussian", "gaussian_plane")


def test_the_panels_are_the_original_codes_pairings():
    assert {p.reference for p in gv.PANELS if p.reference} == set(gv.REFERENCE_READING) == set(gv.AGREEMENT_CRITERIA)
    for p in gv.PANELS:
        gv.config("original_code", p, seed=0, n_iter=1, snapshots=(1,))  # every pairing is a valid run


def test_reference_distances_of_a_point_and_a_line_on_the_gaussian_plane():
    x = torch.randn(200_000, 2, generator=torch.Generator().manual_seed(0))
    assert abs(float(x.norm(dim=1).mean()) - gv.POINT_MASS_DISTANCE) < 0.01
    assert abs(float(x[:, 0].abs().mean()) - gv.STRAIGHT_LINE_DISTANCE) < 0.01
    line = torch.stack([torch.zeros(4001), torch.linspace(-8, 8, 4001)], dim=1)
    assert abs(gv.data_to_sample_distance(x[:5000], line) - gv.STRAIGHT_LINE_DISTANCE) < 0.03


def lattice_with_bridges(g, bridge_share):
    points = distributions.lattice_3x3(5000, g)
    n = int(5000 * bridge_share)
    t = torch.rand(n, 1, generator=g)
    points[:n] = points[:n] * (1 - t) + points[n:2 * n] * t  # segments between lattice points
    return points


def test_points_with_bridges_agree_with_the_lattice_reference_and_points_alone_do_not():
    g = torch.Generator().manual_seed(1)
    p = gv.panel("gaussian", "lattice_3x3")
    bridged, bare = lattice_with_bridges(g, 0.2), distributions.lattice_3x3(5000, g)
    assert gv.components_reached(bridged, "lattice_3x3") == 9
    assert gv.agrees_with_reference(p, gv.reference_features(p, bridged, bare))
    assert not gv.agrees_with_reference(p, gv.reference_features(p, bare, bare))  # no bridges
    three = bare[bare[:, 0] == 0]
    assert gv.components_reached(three, "lattice_3x3") == 3
    generator, _ = build_networks(gv.config("original_code", p, seed=0, n_iter=1, snapshots=(1,)))
    untrained = generator.eval()(torch.randn(5000, 2, generator=g)).detach()
    assert not gv.agrees_with_reference(p, gv.reference_features(p, untrained, bare))


def test_cells_covered_tells_patches_from_the_whole_square():
    g = torch.Generator().manual_seed(2)
    assert gv.cells_covered(distributions.uniform_square(5000, g)) == 1.0
    patches = (distributions.disconnected_latent(5000, 2, g) + 1.5) / 3 * 0.6  # nine small boxes in [0, 0.6]²
    assert gv.cells_covered(patches) <= 0.4
    spread = distributions.disconnected_latent(5000, 2, g) * 0.4 + 0.5  # nine patches inside the square
    p = gv.panel("disconnected", "uniform_square")
    assert gv.agrees_with_reference(p, gv.reference_features(p, spread, spread))
    point_mass = torch.full((5000, 2), 0.5)  # an untrained eval-mode generator: one cell, so no agreement
    assert not gv.agrees_with_reference(p, gv.reference_features(p, point_mass, spread))


def test_sampling_in_training_mode_uses_the_batch_and_leaves_the_network_alone():
    torch.manual_seed(0)
    net = fc_net(2, 2, (8, 8)).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    z = torch.randn(500, 2) * 3 + 2
    trained_mode = gv.sample_in_training_mode(net, z)
    assert not torch.allclose(trained_mode, net(z))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items()) and not net.training
    torch.testing.assert_close(trained_mode.mean(), gv.sample_in_training_mode(net, z).mean())


def test_fit_ratio_is_one_without_learning_and_small_on_the_data():
    g = torch.Generator().manual_seed(3)
    data = distributions.lattice_3x3(2000, g)
    initial = torch.randn(2000, 2, generator=g) * 0.3 + 2
    assert gv.fit_ratio(initial, initial, data) == pytest.approx(1.0)
    assert gv.fit_ratio(lattice_with_bridges(g, 0.1), initial, data) < 0.1 < gv.LEARNED_RATIO


def test_the_best_nine_points_on_the_gaussian_plane_are_about_0_525_from_the_data():
    data = torch.randn(4000, 2, generator=torch.Generator().manual_seed(4))
    best = gv.nine_point_floor(data)
    assert 0.49 < best < 0.56 < gv.POINT_MASS_DISTANCE
    assert gv.gap_closed(1.0, 1.0, best) == pytest.approx(1.0) and gv.gap_closed(best, 1.0, best) == 0.0


def test_a_criterion_holds_only_when_it_holds_at_each_of_the_last_snapshots():
    assert gv.at_each_snapshot([True, True, True]) is True
    assert gv.at_each_snapshot([False, False, False]) is False
    assert gv.at_each_snapshot([True, False, True]) is None  # an oscillating generator: inconclusive
    assert gv.at_each_snapshot([True, None, True]) is None


def test_every_run_of_the_chapter_draws_its_snapshots_as_the_authors_code_does():
    for setting in gv.SETTINGS:
        assert gv.config(setting, gv.PANELS[0], seed=0).sample_statistics == "batch"
