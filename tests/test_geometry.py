"""The manifold-alignment chapter's exact quantities on cases with known answers (lsgan_lib.measure.alignment, the W1/W2
functions of lsgan_lib.measure.metrics, the circle in R^10 and the minimax GAN with a gradient penalty)."""

import math

import numpy as np
import pytest
import torch

from lsgan_lib.data import distributions
from lsgan_lib.measure import metrics
from lsgan_lib.models import objectives
from lsgan_lib.chapters import manifold_alignment as ma
from lsgan_lib.measure import alignment as G
from lsgan_lib.train.toy import GANConfig, train_gan

LOG2 = math.log(2)


def seg(a, b):
    return G.Segment(a, b)


# --- common-support measure -----------------------------------------------------------------------------------------


def test_crossing_segments_share_nothing_and_overlapping_ones_share_their_overlap():
    p = G.uniform_on(seg((-1, 0), (1, 0)))
    crossing = G.uniform_on(seg((0, -1), (0, 1)))
    assert G.common_support_measure(p, crossing) == 0.0
    overlapping = G.uniform_on(seg((0.25, 0), (3, 0)))
    assert G.common_support_measure(p, overlapping) == pytest.approx(0.75)
    reversed_ = G.uniform_on(seg((0.5, 0), (-0.5, 0)))  # orientation does not matter
    assert G.common_support_measure(p, reversed_) == pytest.approx(1.0)
    parallel = p.translated((0.0, 1e-3))
    assert G.common_support_measure(p, parallel) == 0.0


def test_arcs_on_one_circle_share_their_angular_overlap_times_radius():
    a = G.uniform_on(G.Arc((0, 0), 2.0, 0.0, math.pi))  # upper half circle of radius 2
    b = G.uniform_on(G.Arc((0, 0), 2.0, math.pi / 2, math.pi))  # from 90° to 270°
    assert G.common_support_measure(a, b) == pytest.approx(2.0 * math.pi / 2)
    # a rotation about the circle's centre slides the arc along itself; about another point it leaves the circle
    assert G.common_support_measure(a, a.rotated(0.5)) == pytest.approx(2.0 * (math.pi - 0.5))
    assert G.common_support_measure(a, a.rotated(0.5, about=(1.0, 0.0))) == 0.0
    full = G.uniform_on(G.circle((0, 0), 2.0))
    assert G.common_support_measure(full, b) == pytest.approx(2.0 * math.pi)
    assert G.common_support_measure(full, full.translated((0.1, 0.0))) == 0.0
    wrap = G.uniform_on(G.Arc((0, 0), 2.0, 1.5 * math.pi, math.pi))  # 270° → 450°: wraps past 0
    assert G.common_support_measure(a, wrap) == pytest.approx(2.0 * math.pi / 2)


def test_arcs_in_higher_dimension_and_other_planes():
    u, v, w = np.eye(3)
    a = G.uniform_on(G.Arc((0, 0, 0), 1.0, 0.0, math.pi, tuple(u), tuple(v)))
    tilted = G.uniform_on(G.Arc((0, 0, 0), 1.0, 0.0, math.pi, tuple(u), tuple(w)))  # shares only the point (1, 0, 0)
    assert G.common_support_measure(a, tilted) == 0.0
    mirrored = G.uniform_on(G.Arc((0, 0, 0), 1.0, 0.0, math.pi / 2, tuple(u), tuple(-v)))  # clockwise frame
    assert G.common_support_measure(a, mirrored) == 0.0  # it runs through the lower half
    same = G.uniform_on(G.Arc((0, 0, 0), 1.0, -math.pi / 2, math.pi / 2, tuple(u), tuple(-v)))  # = 0°..90° upper
    assert G.common_support_measure(a, same) == pytest.approx(math.pi / 2)


def test_overlapping_pieces_in_one_distribution_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        G.uniform_on(seg((0, 0), (1, 0)), seg((0.5, 0), (2, 0)))
    with pytest.raises(ValueError, match="masses"):
        G.CurveDistribution((seg((0, 0), (1, 0)),), (0.5,))


# --- JSD --------------------------------------------------------------------------------------------------------------


def test_jsd_of_disjoint_supports_is_log2_and_of_identical_ones_is_zero():
    p = G.uniform_on(seg((0, 0), (1, 0)), G.circle((3, 0), 0.5))
    assert G.jsd_exact(p, p) == pytest.approx(0.0, abs=1e-12)
    assert G.jsd_exact(p, p.translated((0.0, 0.2))) == LOG2
    assert G.jsd_exact(p, G.uniform_on(seg((0.5, -1), (0.5, 1)))) == LOG2  # crossing at a point: still log 2


def test_jsd_of_a_sub_interval_matches_the_hand_computed_closed_form():
    # P = U[0, 1], Q = U[0, 1/2]: p = 1, q = 2 on [0, 1/2], m = 3/2 there, m = 1/2 on (1/2, 1].
    # KL(P‖M) = ½ log(2/3) + ½ log 2, KL(Q‖M) = log(4/3); JSD = ½ (KL(P‖M) + KL(Q‖M)).
    by_hand = 0.5 * (0.5 * math.log(2 / 3) + 0.5 * math.log(2) + math.log(4 / 3))
    p = G.uniform_on(seg((0, 0), (1, 0)))
    q = G.uniform_on(seg((0, 0), (0.5, 0)))
    assert G.jsd_exact(p, q) == pytest.approx(by_hand, rel=1e-12)
    assert G.jsd_uniform_sub_interval(0.5) == pytest.approx(by_hand, rel=1e-12)
    assert G.jsd_uniform_sub_interval(1.0) == pytest.approx(0.0, abs=1e-12)
    assert G.jsd_uniform_sub_interval(1e-9) == pytest.approx(LOG2, abs=1e-6)


def test_smoothed_jsd_tends_to_the_exact_value_as_sigma_shrinks():
    p = G.uniform_on(seg((0, 0), (1, 0)))
    q = G.uniform_on(seg((0, 0), (0.5, 0)))
    exact = G.jsd_exact(p, q)
    errors = [abs(G.jsd_smoothed(p, q, s, n_samples=3000, seed=1) - exact) for s in (0.1, 0.01)]
    assert errors[1] < errors[0] and errors[1] < 0.02
    far = G.jsd_smoothed(p, p.translated((0.0, 1.0)), 0.02, n_samples=500)
    assert far == pytest.approx(LOG2, abs=1e-3)


def test_mcs_is_non_increasing_positive_below_log2_and_zero_at_log2():
    fractions = np.linspace(0.05, 1.0, 20)
    _, members = G.sub_interval_family(fractions, [0.0, 0.5, 1.0])
    alphas = np.linspace(0.0, LOG2, 30)
    mcs = G.minimal_common_support([m["jsd"] for m in members], [m["common"] for m in members], alphas)
    assert mcs[0] == pytest.approx(1.0)  # only Q = P reaches JSD 0
    assert np.all(np.diff(mcs) <= 1e-12)
    assert np.all(mcs[alphas < G.jsd_uniform_sub_interval(0.05) - 1e-9] > 0)
    assert mcs[-1] == 0.0  # w = 1 puts all mass off the support: JSD = log 2 with no common support


# --- Wasserstein distances -----------------------------------------------------------------------------------------


def test_w1_and_w2_of_a_shifted_distribution_equal_the_shift(generator):
    x = torch.randn(300, 2, generator=generator, dtype=torch.float64)
    shift = torch.tensor([0.3, -0.4], dtype=torch.float64)  # length 0.5
    assert float(metrics.wasserstein(x, x + shift, 2.0)) == pytest.approx(0.5, rel=1e-9)
    assert float(metrics.wasserstein(x, x + shift, 1.0)) == pytest.approx(0.5, rel=1e-9)
    a = torch.rand(500, generator=generator, dtype=torch.float64)
    assert float(metrics.wasserstein_1d(a, a + 0.7, 1.0)) == pytest.approx(0.7, rel=1e-9)
    assert float(metrics.wasserstein_1d(a, a + 0.7, 2.0)) == pytest.approx(0.7, rel=1e-9)
    p = G.uniform_on(G.Arc((0, 0), 1.0, 0.3, 2.0), seg((2, 0), (3, 1)))
    numbers = G.alignment_numbers(p, p.translated((0.0, 0.25)), n_points=400)
    assert numbers["w1"] == pytest.approx(0.25, rel=1e-9) and numbers["w2"] == pytest.approx(0.25, rel=1e-9)
    assert numbers["jsd"] == LOG2 and numbers["common"] == 0.0


def test_w2_of_gaussians_matches_the_closed_form(generator):
    u = (torch.arange(4000, dtype=torch.float64) + 0.5) / 4000
    a, b = torch.special.ndtri(u), 1.0 + 2.0 * torch.special.ndtri(u)
    assert float(metrics.wasserstein_1d(a, b, 2.0)) == pytest.approx(metrics.w2_gaussians_1d(0, 1, 1, 2), rel=1e-3)


def test_exact_ot_is_no_worse_than_the_identity_matching_and_needs_equal_sizes(generator):
    a, b = torch.randn(50, 3, generator=generator), torch.randn(50, 3, generator=generator)
    assert float(metrics.wasserstein(a, b, 2.0, power=True)) <= float(((a - b) ** 2).sum(1).mean()) + 1e-6
    with pytest.raises(ValueError, match="equal size"):
        metrics.wasserstein(a, b[:10])


# --- Propositions 4.1 and 4.2 -------------------------------------------------------------------------------------


def test_ot_map_gradient_formulas_agree_with_autograd():
    r = G.prop41_gradients((0.3, 1.2, 0.1), n_latent=20_001, n_grid=100_000)
    assert G.relative_error(r["autograd_w2"], r["eq3"]) < 1e-6
    assert G.relative_error(r["autograd_w1"], r["eq4"]) < 5e-3  # a jump where T(x) = x: first-order quadrature
    # d/dθ0 W2² = 2 (E[g_θ(z)] − E[x]) = 2 (0.3 − 0.1): the mean shift, by hand
    assert r["eq3"][0] == pytest.approx(0.4, rel=1e-6)


def test_gaussian_ot_map_gradient_by_hand():
    # P_r = N(0, 1) as a one-component mixture, g_θ(z) = θ0 + θ1 z: W2² = θ0² + (θ1 − 1)², gradient (2θ0, 2(θ1 − 1)).
    r = G.prop41_gradients((0.5, 2.0, 0.0), {"means": (0.0,), "stds": (1.0,), "weights": (1.0,)}, n_latent=20_001,
                           n_grid=100_000)
    assert r["w2_squared"] == pytest.approx(0.25 + 1.0, rel=1e-6)
    assert r["eq3"][:2] == pytest.approx([1.0, 2.0], rel=1e-6)
    assert r["autograd_w2"][:2] == pytest.approx([1.0, 2.0], rel=1e-6)


def test_minibatch_w2_loss_is_the_exact_ot_cost_and_its_gradient_points_to_the_matched_points(generator):
    fake = torch.randn(64, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    real = torch.randn(64, 2, generator=generator, dtype=torch.float64)
    loss = objectives.minibatch_w2_loss(fake, real)
    assert float(loss.detach()) == pytest.approx(float(metrics.wasserstein(fake, real, 2.0, power=True).detach()),
                                                 rel=1e-12)
    (grad,) = torch.autograd.grad(loss, fake)
    plan = metrics.optimal_assignment(fake, real)
    # Eq. (3) per sample: the gradient is −2 (x − T(y)) / m, adaptive in the distance to the matched point
    assert torch.allclose(grad, 2 * (fake - real[plan]).detach() / 64)


def test_optimal_discriminator_gradients_match_eqs_5_and_6():
    r = G.prop42_gradients((0.5, 1.5))
    assert G.relative_error(r["fd_eq5"], r["eq5"]) < 1e-6
    assert G.relative_error(r["fd_eq6"], r["eq6"]) < 1e-6


def test_gradient_weights_monotonicity():
    q = torch.tensor(1.0, dtype=torch.float64)
    p = torch.logspace(-3, 3, 200, dtype=torch.float64)
    w5, w6 = G.eq5_weight(p, q), G.eq6_weight(p, q)
    assert bool((w5.diff() < 0).all())  # the −log D weight falls as p_r grows
    assert bool((w6[p < q].diff() < 0).all()) and bool((w6[p > q].diff() > 0).all())  # minimum 0 at p_r = q_θ
    assert float(G.eq6_weight(q, q)) == 0.0


# --- the GAN comparison's pieces -----------------------------------------------------------------------------------


def test_circle_r10_lies_on_its_support_and_distances_are_exact(generator):
    manifold = distributions.data_manifold("circle_r10")
    x = manifold.sample(200, generator)
    assert x.shape == (200, 10)
    assert float(manifold.distance_to_support(x).max()) < 1e-5
    assert float(manifold.distance_to_support(torch.zeros(1, 10))) == pytest.approx(1.0)
    basis = distributions.circle_r10_basis()
    off = 2.0 * basis[0:1] + 0.3 * torch.eye(10)[0:1] - 0.3 * basis[0:1] * basis[0, 0]  # off the plane
    coords = off @ basis.T
    expected = ((off - coords @ basis).norm() ** 2 + (coords.norm() - 1) ** 2).sqrt()
    assert float(manifold.distance_to_support(off)) == pytest.approx(float(expected), rel=1e-5)
    stats = metrics.circle_statistics(x, manifold.distance_to_support, distributions.circle_r10_angle, 0.01, 4, 20)
    assert stats["modes_covered"] == 4 and stats["high_quality"] == 1.0


def test_minimax_gp_adds_the_penalty_and_trains():
    loss = objectives.objective("minimax_gp")
    critic = torch.nn.Linear(2, 1)
    real, fake, mix = torch.randn(8, 2), torch.randn(8, 2), torch.rand(8, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))  # ‖∇ logit‖ = 5 everywhere: penalty 10 · 4² = 160
    plain = objectives.minimax_critic_loss(critic(real), critic(fake))
    penalised = float(loss.critic_loss(critic, real, fake, mix).detach())
    assert penalised == pytest.approx(float(plain.detach()) + 160.0, rel=1e-5)
    with pytest.raises(ValueError, match="mix"):
        loss.critic_loss(critic, real, fake)
    run = train_gan(GANConfig(data="circle_r10", objective="minimax_gp", n_iter=3, batch_size=16, widths=(8,),
                              batch_norm=False, activation="relu", snapshots=(3,), n_eval=10), progress=False)
    assert run.final.shape == (10, 10)


# --- the GAN comparison: coverage, gates, combined criteria, the minibatch W2 estimator -----------------------------


def _samples_on_modes(data, n, generator):
    return distributions.data_manifold(data).sample(n, generator)


def _untrained_samples(data, n, seed=0):
    from lsgan_lib.train.toy import build_networks

    config = GANConfig(data=data, objective="wgan_gp_toy", widths=(32, 32, 32), batch_norm=False, activation="relu",
                       seed=seed)
    net, _ = build_networks(config)
    with torch.no_grad():
        return net(torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)))


def test_support_statistics_counts_one_mode_for_a_collapsed_generator():
    centre = torch.tensor(distributions.EIGHT_GAUSSIANS_CENTRES[3])
    stats = ma.support_statistics("eight_gaussians", centre.repeat(100, 1), min_per_mode=20)
    assert stats == {"modes_covered": 1.0, "n_modes": 8, "high_quality": 1.0}
    with pytest.raises(ValueError, match="circle_r10"):
        ma.support_statistics("spiral", torch.zeros(10, 2))


def test_fewer_modes_outcome_uses_intervals_of_per_seed_differences():
    more = [1.0, 2.0, 1.0, 3.0, 2.0]
    assert ma.fewer_modes_outcome({"a": more, "b": [0.0] * 5}) is True
    assert ma.fewer_modes_outcome({"a": [0.0] * 5, "b": [0.0] * 5}) is None  # nothing collapsed: nothing to reduce
    assert ma.fewer_modes_outcome({"a": more, "b": [-1.0, -2.0, -1.0, -1.0, -3.0]}) is False
    assert ma.fewer_modes_outcome({"a": [-1.0, 2.0, -1.0, 2.0, 0.0], "b": more}) is None  # straddles 0
    assert ma.fewer_modes_outcome({"a": more, "b": [0.0] * 5}, strictly_more_than=["b"]) is None


def test_minibatch_w2_is_biased_upwards_and_the_bias_shrinks_with_the_batch(generator):
    x = distributions.eight_gaussians(4000, generator)
    y = distributions.eight_gaussians(4000, generator)
    small = G.minibatch_w2_squared(x, y, 16, 40, seed=0).mean()
    large = G.minibatch_w2_squared(x, y, 256, 10, seed=0).mean()
    exact = float(metrics.wasserstein(x[:1500].double(), y[:1500].double(), 2.0, power=True))
    assert small > large > exact >= 0
    with pytest.raises(ValueError, match="batch_size"):
        G.minibatch_w2_squared(x[:10], y[:10], 16, 1)


@pytest.mark.parametrize("data", ["eight_gaussians", "twenty_five_gaussians", "circle_r10"])
def test_near_support_share_passes_a_collapsed_generator_and_fails_an_untrained_one(data, generator):
    manifold = distributions.data_manifold(data)
    real = manifold.sample(500, generator)
    assert ma.near_support_share(data, real) == 1.0
    collapsed = real[:1].repeat(500, 1) + 0.5 * manifold.std * torch.randn(500, real.shape[1], generator=generator) \
        if manifold.centres else real[:1].repeat(500, 1)
    assert ma.near_support_share(data, collapsed) > 0.95
    off_support = torch.zeros(real.shape[1])  # the origin, or between two centres of the 25 Gaussians (one is at 0)
    if data == "twenty_five_gaussians":
        off_support[0] = 0.5 / 1.414
    untrained = 0.02 * torch.randn(500, real.shape[1], generator=generator) + off_support  # a blob off the support
    assert ma.near_support_share(data, untrained) < 0.05


# --- the debiased Sinkhorn divergence ---------------------------------------------------------------------------------


def test_sinkhorn_divergence_is_zero_on_itself_symmetric_and_the_squared_shift_for_a_translation(generator):
    x, y = torch.randn(60, 2, generator=generator), 0.5 * torch.randn(50, 2, generator=generator) + 1.0
    assert float(G.sinkhorn_divergence(x, x, 0.05)) == 0.0
    assert float(G.sinkhorn_divergence(x, y, 0.05)) == pytest.approx(float(G.sinkhorn_divergence(y, x, 0.05)), rel=1e-3)
    assert float(G.sinkhorn_divergence(x, y, 0.05)) > 0
    t = torch.tensor([0.3, -0.4])
    assert float(G.sinkhorn_divergence(x, x + t, 0.05)) == pytest.approx(0.25, rel=1e-3)  # to the iterations' tolerance


def test_entropic_ot_tends_to_the_exact_w2_squared_as_epsilon_shrinks(generator):
    x, y = torch.randn(40, 2, generator=generator), torch.randn(40, 2, generator=generator) + 0.5
    exact = float(metrics.wasserstein(x.double(), y.double(), 2.0, power=True))
    errors = [abs(float(G.entropic_ot(x, y, e)) - exact) for e in (0.1, 0.01, 0.001)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.01 * exact

