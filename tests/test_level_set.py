"""The level-set chapter's library: Eq. (4) and its ℓ1 variant, Algorithm 1's loop, the grid evaluation, the level-set
plot, the claims' measurements and the image loaders' missing-data error."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from lsgan_lib.data import images as datasets
from lsgan_lib.data import distributions
from lsgan_lib.models import objectives
from lsgan_lib import plots
from lsgan_lib.train import batched  # noqa: E402
from lsgan_lib.train import toy as training  # noqa: E402
from lsgan_lib.train.config import evaluation_inputs, random_stream  # noqa: E402
from lsgan_lib.train.images import generator_step  # noqa: E402
from lsgan_lib.chapters import level_set as ls  # noqa: E402
from lsgan_lib.measure import features, metrics as measure_metrics  # noqa: E402

from .test_image_training import tiny_mnist  # noqa: E402,F401  (a fixture)

D_REAL = torch.tensor([[1.0], [-2.0]])
D_FAKE = torch.tensor([[3.0], [0.0]])


def tiny(**overrides):
    base = dict(data="eight_gaussians", latent="uniform", latent_dim=2, objective="level_set", n_iter=6, batch_size=16,
                lr=1e-3, lr_decay=1.0, widths=(8, 8), batch_norm=False, activation="relu", snapshots=(0, 3, 6),
                n_eval=50, n_gen=3, seed=3)
    return training.GANConfig(**(base | overrides))


# ---------------------------------------------------------------------------------------------------------------------
# Objectives
# ---------------------------------------------------------------------------------------------------------------------


def test_level_set_objectives_by_hand():
    # Eq. (4): mean f(x)^2 - mean f(G(z))^2 = (1 + 4)/2 - (9 + 0)/2 = -2; generator: (9 + 0)/2 = 4.5
    l2, l1 = objectives.objective("level_set"), objectives.objective("level_set_l1")
    identity = lambda v: v  # noqa: E731  (the "critic" returns its input: f values given directly)
    assert l2.critic_loss(identity, D_REAL, D_FAKE).item() == pytest.approx(-2.0)
    assert l2.generator_loss(identity, D_FAKE).item() == pytest.approx(4.5)
    # l1: (1 + 2)/2 - (3 + 0)/2 = 0; generator (3 + 0)/2 = 1.5
    assert l1.critic_loss(identity, D_REAL, D_FAKE).item() == pytest.approx(0.0)
    assert l1.generator_loss(identity, D_FAKE).item() == pytest.approx(1.5)
    # WGAN: mean f(G(z)) - mean f(x) = 1.5 - (-0.5) = 2; generator -1.5
    wgan = objectives.objective("wgan")
    assert wgan.critic_loss(identity, D_REAL, D_FAKE).item() == pytest.approx(2.0)
    assert wgan.generator_loss(identity, D_FAKE).item() == pytest.approx(-1.5)


def test_objectives_train_as_their_papers_say():
    for name in ("level_set", "level_set_l1"):
        how = objectives.traits(objectives.objective(name))
        assert (how.optimizer, how.clip, how.gradient_penalty) == ("rmsprop", None, 0.0)
    wgan = objectives.traits(objectives.objective("wgan"))
    assert (wgan.optimizer, wgan.clip) == ("rmsprop", 0.01)
    gp = objectives.traits(objectives.objective("wgan_gp"))
    assert (gp.optimizer, gp.adam_betas, gp.gradient_penalty, gp.clip) == ("adam", (0.5, 0.9), 10.0, None)


@pytest.mark.parametrize("name", ["level_set", "level_set_l1"])
def test_critic_gradient_raises_f_at_generated_points_and_lowers_it_at_data(name):
    # The gradient of the critic's loss with respect to its outputs: a descent step moves f(x) towards 0 at data
    # points (grad has the sign of f) and away from 0 at generated points (grad has the opposite sign).
    d_real = torch.tensor([[0.7], [-1.2], [0.3]], requires_grad=True)
    d_fake = torch.tensor([[2.0], [-0.4], [0.9]], requires_grad=True)
    identity = lambda v: v  # noqa: E731
    objectives.objective(name).critic_loss(identity, d_real, d_fake).backward()
    assert torch.equal(d_real.grad.sign(), d_real.detach().sign())
    assert torch.equal(d_fake.grad.sign(), -d_fake.detach().sign())
    if name == "level_set":  # d/df of mean f^2 over 3 points: 2 f / 3
        torch.testing.assert_close(d_real.grad, 2 * d_real.detach() / 3)
        torch.testing.assert_close(d_fake.grad, -2 * d_fake.detach() / 3)


@pytest.mark.parametrize("name", ["level_set", "level_set_l1"])
def test_generator_step_moves_samples_towards_the_zero_level_set(name):
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, 0.0]])), critic.bias.zero_()  # f(x) = x_0, f^-1(0) the y axis
    generator = nn.Linear(2, 2)
    with torch.no_grad():
        generator.weight.copy_(torch.eye(2)), generator.bias.copy_(torch.tensor([2.0, 0.0]))
    z = torch.rand(32, 2)
    before = critic(generator(z)).abs().mean().item()
    generator_step(objectives.objective(name), generator, critic, torch.optim.SGD(generator.parameters(), lr=0.05), z)
    assert critic(generator(z)).abs().mean().item() < before
    assert critic.weight.grad is None  # the critic gets no gradient from the generator's step


# ---------------------------------------------------------------------------------------------------------------------
# Algorithm 1's loop
# ---------------------------------------------------------------------------------------------------------------------


def test_algorithm_1_loop_matches_the_toy_trainer_and_stores_the_critic_field():
    config = tiny()
    run = ls.train_level_set(config, field_points=11, progress=False)
    reference = training.train_gan(config, progress=False)
    # one loop, with a snapshot hook: the same numbers as train_gan, bit for bit
    torch.testing.assert_close(run.losses, reference.losses, rtol=0, atol=0)
    torch.testing.assert_close(run.run.snapshots, reference.snapshots, rtol=0, atol=0)
    torch.testing.assert_close(run.run.grid_images, reference.grid_images, rtol=0, atol=0)
    assert run.losses.shape == (6, 2) and run.diverged_at is None and run.reached == 3
    assert run.fields.shape == (3, 11, 11) and run.field_x.shape == (11,)
    # the stored field is the critic on the plane grid: the final snapshot equals the final critic there
    _, _, plane = ls.plane_grid(distributions.data_manifold("eight_gaussians").bounds, 11)
    with torch.no_grad():
        torch.testing.assert_close(run.fields[-1], run.run.critic(plane).reshape(11, 11))
    # L of Eq. (4) is column 0: recompute it at iteration 1 from the initial networks and the first batches
    generator, critic = training.build_networks(config)
    stream = random_stream(config.seed, 0, torch.device("cpu"))
    real = distributions.data_manifold(config.data).sample(config.batch_size, stream)
    with torch.no_grad():
        fake = generator(distributions.latent(config.latent).sample(config.batch_size, 2, stream))
        first_l = critic(real).pow(2).mean() - critic(fake).pow(2).mean()
    assert run.losses[0, 0].item() == pytest.approx(first_l.item(), rel=1e-5)
    again = ls.train_level_set(config, field_points=11, progress=False)
    assert again.run.from_cache and torch.equal(again.fields, run.fields)


def test_a_batched_sweep_matches_single_runs_and_is_cached_as_its_batches(tmp_path):
    configs = [tiny(seed=s, widths=(20, 20), batch_size=64) for s in (0, 1)] + [tiny(seed=2, n_gen=1)]
    runs = ls.train_level_set_runs(configs, field_points=7, progress=False, results_root=tmp_path / "batched")
    assert [r.config for r in runs] == configs and not any(r.run.from_cache for r in runs)
    for config, run in zip(configs, runs):
        single = ls.train_level_set(config, field_points=7, progress=False, results_root=tmp_path / "single")
        torch.testing.assert_close(run.losses, single.losses, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(run.fields, single.fields, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(run.field_x, single.field_x)
        assert run.diverged_at is None and run.reached == single.reached == 3
        # batching changes rounding: a batched run is not the single-run trainer's entry
        alone = ls.train_level_set(config, field_points=7, progress=False, results_root=tmp_path / "batched")
        assert not alone.run.from_cache
    again = ls.train_level_set_runs(configs, field_points=7, progress=False, results_root=tmp_path / "batched")
    for run, hit in zip(runs, again):
        assert hit.run.from_cache and torch.equal(hit.fields, run.fields)


def test_a_batched_member_whose_loss_explodes_is_recorded_and_cached(monkeypatch, tmp_path):
    original, calls = objectives.level_set_critic_loss, {"n": 0}

    def exploding(d_real, d_fake, power=2):
        value = original(d_real, d_fake, power)
        calls["n"] += 1
        if calls["n"] == 4:  # iteration 4: member 1's L becomes infinite
            value = value + torch.tensor([0.0, float("inf")])
        return value

    monkeypatch.setattr(objectives, "level_set_critic_loss", exploding)
    configs = [tiny(seed=0), tiny(seed=1)]
    with pytest.warns(RuntimeWarning, match="member 1 .* cached as a result"):
        runs = ls.train_level_set_runs(configs, field_points=5, progress=False, results_root=tmp_path)
    healthy, exploded = runs
    assert healthy.diverged_at is None and exploded.diverged_at == 4 and exploded.reached == 2
    assert torch.isnan(exploded.losses[3:]).all() and torch.isfinite(exploded.losses[:3]).all()
    torch.testing.assert_close(exploded.run.snapshots[2], exploded.run.snapshots[1])  # the last good snapshot repeats
    torch.testing.assert_close(exploded.fields[2], exploded.fields[1])
    assert torch.isfinite(healthy.losses).all()
    monkeypatch.setattr(objectives, "level_set_critic_loss", original)
    again = ls.train_level_set_runs(configs, field_points=5, progress=False, results_root=tmp_path)
    assert all(r.run.from_cache for r in again) and again[1].diverged_at == 4 and again[1].reached == 2


def test_algorithm_1_takes_n_gen_generator_steps_per_critic_step(monkeypatch):
    calls = []
    original_c, original_g = batched._critic_step, batched._generator_step  # the one toy loop's steps
    monkeypatch.setattr(batched, "_critic_step", lambda *a, **k: calls.append("c") or original_c(*a, **k))
    monkeypatch.setattr(batched, "_generator_step", lambda *a, **k: calls.append("g") or original_g(*a, **k))
    ls.train_level_set(tiny(n_iter=2, snapshots=(2,), n_gen=3), field_points=5, progress=False)
    assert "".join(calls) == "cggg" * 2


def test_an_explosion_of_L_is_recorded_and_cached_not_raised(monkeypatch):
    original = objectives.level_set_critic_loss
    count = {"n": 0}

    def exploding(d_real, d_fake, power=2):
        count["n"] += 1
        value = original(d_real, d_fake, power)
        return value + float("inf") if count["n"] == 4 else value  # iteration 4: L becomes infinite

    monkeypatch.setattr(objectives, "level_set_critic_loss", exploding)
    run = ls.train_level_set(tiny(), field_points=5, progress=False)
    assert run.diverged_at == 4 and run.reached == 2  # snapshots 0 and 3 were taken
    assert torch.isnan(run.losses[3:]).all() and torch.isfinite(run.losses[:3]).all()
    torch.testing.assert_close(run.run.snapshots[2], run.run.snapshots[1])  # the last good snapshot repeats
    assert ls.loss_explosion(run.losses, start=2, factor=100)["exploded"]
    monkeypatch.setattr(objectives, "level_set_critic_loss", original)
    cached = ls.train_level_set(tiny(), field_points=5, progress=False)
    assert cached.run.from_cache and cached.diverged_at == 4


# ---------------------------------------------------------------------------------------------------------------------
# The grid evaluation and Fig. 1's measures
# ---------------------------------------------------------------------------------------------------------------------


def test_latent_grid_is_evaluated_through_the_generator_as_a_square_mesh():
    config = tiny(latent_dim=2)
    _, grid = evaluation_inputs(config, torch.device("cpu"))
    assert grid.shape == (41 * 41, 2)
    mesh = grid.reshape(41, 41, 2)
    assert torch.allclose(mesh[0, :, 0], torch.full((41,), -1.0)) and torch.allclose(mesh[:, 0, 1], mesh[0, 0, 1])
    assert measure_metrics.orientation_consistency(grid) == 1.0  # the identity map keeps every cell's orientation
    folded = grid.clone()
    folded[:, 0] = folded[:, 0].abs()  # fold the plane along the y axis: half the cells flip
    assert measure_metrics.orientation_consistency(folded) == pytest.approx(0.5, abs=0.03)
    run = ls.train_level_set(tiny(n_iter=1, snapshots=(1,)), field_points=5, progress=False)
    with torch.no_grad():
        torch.testing.assert_close(run.run.grid_images[-1], run.run.generator(run.run.grid))


def test_jacobian_determinants_and_contraction_of_known_maps():
    linear = nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[2.0, 1.0], [0.0, -3.0]])), linear.bias.zero_()
    z = torch.rand(10, 2)
    torch.testing.assert_close(measure_metrics.jacobian_determinants(linear, z), torch.full((10,), 6.0))

    class Cube(nn.Module):  # G(z) = z^3 per coordinate: |det J| = 9 z0^2 z1^2, tiny near the origin
        def forward(self, v):
            return v ** 3

    grid = distributions.latent_grid("uniform", 2, 21)
    stats = measure_metrics.contraction_at_centres(Cube(), grid, torch.zeros(1, 2), near=0.01, far=0.3)
    assert stats["n_near"] > 0 and stats["n_between"] > 0
    assert stats["near_det"] < 1e-3 < stats["between_det"] and stats["ratio"] > 100
    same = measure_metrics.contraction_at_centres(nn.Identity(), grid, torch.zeros(1, 2), near=0.5, far=0.6)
    assert same["ratio"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        measure_metrics.contraction_at_centres(Cube(), grid, torch.zeros(1, 2), near=0.5, far=0.1)


# ---------------------------------------------------------------------------------------------------------------------
# The claims' measurements
# ---------------------------------------------------------------------------------------------------------------------


def _curve(values):
    """A synthetic loss trace ``(n, 2)`` with L in column 0."""
    values = torch.as_tensor(values, dtype=torch.float64)
    return torch.stack([values, torch.zeros_like(values)], dim=1)


def test_loss_explosion_is_measured_relative_to_the_scale_at_the_start():
    # 100 iterations near |L| = 2 (the reference window is iterations 50..99), then a run-away to 500: growth 250
    steady = [2.0] * 100
    exploding = ls.loss_explosion(_curve(steady + [-10.0, -100.0, -500.0, -400.0]), start=100, factor=100)
    assert exploding["reference"] == pytest.approx(2.0) and exploding["max_abs"] == pytest.approx(500.0)
    assert exploding["growth"] == pytest.approx(250.0) and exploding["exploded"] and not exploding["non_finite"]
    # the same absolute values on a problem whose L starts at 10 grow only 50-fold: not an explosion
    large = ls.loss_explosion(_curve([10.0] * 100 + [-500.0]), start=100, factor=100)
    assert large["growth"] == pytest.approx(50.0) and not large["exploded"]
    # a flat L does not explode however large it is; a NaN does, whatever came before
    assert not ls.loss_explosion(_curve([1e6] * 150), start=100, factor=100)["exploded"]
    nan = ls.loss_explosion(_curve([1.0] * 120 + [float("nan")] * 5), start=100, factor=100)
    assert nan["exploded"] and nan["non_finite"] and nan["growth"] == math.inf and nan["max_abs"] == pytest.approx(1.0)
    # the reference is a median: one spike inside the window does not set the scale
    spiky = ls.loss_explosion(_curve([1.0] * 60 + [1e4] + [1.0] * 39 + [5.0]), start=100, factor=100)
    assert spiky["reference"] == pytest.approx(1.0) and spiky["exploded"]  # the spike itself is a 1e4-fold growth


def test_loss_explosion_refuses_what_it_cannot_measure():
    with pytest.raises(ValueError, match="more than start"):
        ls.loss_explosion(_curve([1.0] * 100), start=100, factor=100)
    with pytest.raises(ValueError):
        ls.loss_explosion(_curve([1.0] * 10), start=1, factor=100)
    with pytest.raises(ValueError):
        ls.loss_explosion(_curve([1.0] * 10), start=4, factor=1.0)
    zero = ls.loss_explosion(_curve([0.0] * 10 + [1.0]), start=4, factor=10)
    assert zero["growth"] == math.inf and zero["exploded"]


def test_mode_gate_passes_samples_on_the_modes_and_fails_an_untrained_generator():
    from lsgan_lib.measure import claims

    eight = distributions.data_manifold("eight_gaussians")
    on_modes = eight.sample(2500, torch.Generator().manual_seed(0))
    config = tiny(widths=(64, 64, 64), n_eval=2500)
    untrained, _ = training.build_networks(config)
    with torch.no_grad():
        fresh = untrained.eval()(torch.rand(2500, 2) * 2 - 1)
    modes, quality = ls.mode_summary([on_modes, on_modes], eight.centres, eight.std, 20)
    assert claims.gate("modes", "m", modes.tolist(), 7).passed and claims.gate("hq", "q", quality.tolist(), 0.5).passed
    modes, quality = ls.mode_summary([on_modes, fresh], eight.centres, eight.std, 20)
    assert not claims.gate("modes", "m", modes.tolist(), 7).passed  # the worst seed decides
    assert not claims.gate("hq", "q", quality.tolist(), 0.5).passed
    # a looser radius counts samples a little off the centres
    shifted = on_modes + 0.06
    strict, _ = ls.mode_summary([shifted], eight.centres, eight.std, 20)
    loose, _ = ls.mode_summary([shifted], eight.centres, eight.std, 20, radius_in_std=0.1 / eight.std)
    assert strict.item() == 0 and loose.item() == 8


def test_circle_shares_and_curve_visits_by_hand():
    centres = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    angle = torch.tensor([0.0, math.pi / 4, 3 * math.pi / 4, 0.0])
    points = torch.stack([angle.cos(), angle.sin()], dim=1)  # on the circle: a centre, two between, a centre
    points[3] = torch.tensor([0.0, 0.0])  # ... and the origin, off the circle
    shares = ls.circle_shares(points, centres, band=0.1, near=0.1)
    assert shares == {"on_circle": 0.75, "near_centre": 0.25, "between_on_circle": 0.5}
    assert math.isnan(ls.circle_shares(torch.full((3, 2), float("nan")), centres, 0.1, 0.1)["on_circle"])
    t = torch.linspace(0, math.pi, 200)  # half the circle: passes through three of the four centres
    assert ls.curve_visits(torch.stack([t.cos(), t.sin()], dim=1), centres, near=0.05) == 3
    assert ls.curve_visits(torch.full((5, 2), float("nan")), centres, near=0.05) == 0
    with pytest.raises(ValueError):
        ls.circle_shares(points, centres, band=0.0, near=0.1)


def test_grid_choice_follows_the_learned_gate_then_the_median_then_n_gen():
    inf = float("inf")
    ratios = {(1e-4, 1): [0.9, 0.8, 0.7], (1e-3, 1): [0.1, 0.12, 0.5], (1e-3, 5): [0.2, 0.2, 0.2],
              (3e-4, 2): [0.05, inf, 0.05]}
    # every seed of (1e-3, 5) learned (3 of 3); the others 2 of 3 or fewer
    assert ls.choose_grid_point(ratios, 0.25, 3, 0.05) == (1e-3, 5)
    ratios[(1e-3, 1)] = [0.1, 0.12, 0.11]
    # both learned; medians 0.11 and 0.2 are more than the tie apart: the smaller wins
    assert ls.choose_grid_point(ratios, 0.25, 3, 0.05) == (1e-3, 1)
    # within the tie: the larger n_gen (the paper's remedy) wins
    assert ls.choose_grid_point(ratios, 0.25, 3, 0.1) == (1e-3, 5)
    # none learned: the most learned seeds, then the median; a NaN (diverged) seed counts as not learned
    nothing = {(1e-4, 1): [0.9, 0.3], (1e-3, 1): [0.2, float("nan")], (1e-3, 2): [0.5, 0.6]}
    assert ls.choose_grid_point(nothing, 0.25, 2, 0.0) == (1e-3, 1)
    with pytest.raises(ValueError):
        ls.choose_grid_point({}, 0.25, 1, 0.0)
    assert ls.phenomenon_shares({"a": [True, False, False, True], "b": [False]}) == {"a": 0.5, "b": 0.0}


def test_support_distance_ratio_by_hand():
    data = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    untrained = torch.tensor([[0.0, 2.0], [1.0, 2.0]])  # mean distance 2
    trained = torch.tensor([[0.0, 0.5], [1.0, 0.0]])  # mean distance 0.25
    assert measure_metrics.support_distance(untrained, data) == pytest.approx(2.0)
    assert measure_metrics.support_distance_ratio(trained, untrained, data) == pytest.approx(0.125)
    assert measure_metrics.support_distance_ratio(torch.tensor([[float("nan"), 0.0]]), untrained, data) == math.inf
    with pytest.raises(ValueError):
        measure_metrics.support_distance_ratio(trained, data, data)


def test_image_gate_measures_by_hand():
    torch.manual_seed(0)
    real = torch.randn(400, 4)
    assert features.frechet_ratio(real + 0.01, real + 3.0, real)["ratio"] < 0.01
    close, far = (features.frechet_ratio(real + 2.0, real + 1.0, real),
                  features.frechet_ratio(real + 1.0, real + 2.0, real))
    assert close["ratio"] == pytest.approx(4.0, rel=0.05) and far["ratio"] == pytest.approx(0.25, rel=0.05)
    net = features.random_feature_net(3, seed=1)
    images = torch.rand(5, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(net(images), features.random_feature_net(3, seed=1)(images))
    assert net(images).shape == (5, 128)
    assert features.classifier_features(features.mnist_classifier_net(), torch.zeros(3, 1, 28, 28)).shape == (3, 128)


def test_separation_auc_and_anomaly_curves_by_hand():
    assert measure_metrics.separation_auc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])) == 1.0
    assert measure_metrics.separation_auc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 0.0
    assert measure_metrics.separation_auc(torch.tensor([1.0, 1.0]), torch.tensor([1.0])) == 0.5  # ties count half
    # 1 of the 4 pairs is won: positive 1.5 > negative 1
    assert measure_metrics.separation_auc(torch.tensor([1.0, 2.0]), torch.tensor([0.5, 1.5])) == pytest.approx(0.25)
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, 0.0]])), critic.bias.zero_()  # |f| = |x_0|
    real = torch.tensor([[0.1, 5.0], [-0.2, 0.0]])
    generated = torch.tensor([[1.0, 0.0], [-3.0, 1.0], [0.05, 0.0]])
    curves = measure_metrics.anomaly_curves(critic, real, generated, torch.tensor([0.15, 0.5, 2.0]))
    torch.testing.assert_close(curves["real_inside"], torch.tensor([0.5, 1.0, 1.0]))
    torch.testing.assert_close(curves["generated_inside"], torch.tensor([1 / 3, 1 / 3, 2 / 3]))
    assert curves["auc"] == pytest.approx(4 / 6)  # (1.0, 3.0) beat both real; 0.05 beats neither


def test_class_coverage_mode_summary_and_snapshot_schedule():
    one = features.class_coverage(torch.full((50,), 3))
    assert one["classes"] == 1 and one["kl_from_uniform"] == pytest.approx(math.log(10))
    balanced = features.class_coverage(torch.arange(10).repeat(7))
    assert balanced["classes"] == 10 and balanced["kl_from_uniform"] == pytest.approx(0.0, abs=1e-12)
    rare = features.class_coverage(torch.tensor([0] * 99 + [1]), min_share=0.01)
    assert rare["classes"] == 1 and rare["histogram"][:2] == [99, 1]
    eight = distributions.data_manifold("eight_gaussians")
    on_modes = torch.tensor(eight.centres).repeat(5, 1)  # 5 samples exactly on every centre
    modes, quality = ls.mode_summary([on_modes, torch.full((40, 2), float("nan"))], eight.centres, eight.std, 5)
    assert modes.tolist() == [8.0, 0.0] and quality.tolist() == [1.0, 0.0]
    assert ls.snapshot_schedule(1000, 4) == (0, 250, 500, 750, 1000)
    assert ls.snapshot_schedule(3, 6) == (0, 1, 2, 3)


# ---------------------------------------------------------------------------------------------------------------------
# The level-set plot
# ---------------------------------------------------------------------------------------------------------------------


def test_critic_level_sets_draws_the_zero_level_set_where_f_vanishes():
    x, y, points = ls.plane_grid((-2.0, 2.0, -2.0, 2.0), 101)
    field = (points.norm(dim=1) ** 2 - 1).reshape(101, 101)  # f^-1(0) is the unit circle
    fig, ax = plt.subplots()
    eight = distributions.data_manifold("eight_gaussians")
    _, crosses = plots.critic_level_sets(ax, field, x, y, eight, torch.zeros(3, 2), torch.ones(3, 2))
    assert crosses
    import matplotlib.contour

    zero_sets = [c for c in ax.collections if isinstance(c, matplotlib.contour.ContourSet) and list(c.levels) == [0.0]]
    assert len(zero_sets) == 1  # f^-1(0) drawn once, bold
    vertices = torch.cat([torch.tensor(p.vertices) for p in zero_sets[0].get_paths() if len(p.vertices)])
    assert float((vertices.norm(dim=1) - 1).abs().max()) < 0.05  # and it is the unit circle
    assert max(zero_sets[0].get_linewidths()) > 1.0
    _, crosses = plots.critic_level_sets(ax, field.abs() + 1, x, y, eight)  # positive everywhere: no zero set
    assert not crosses
    filled, _ = plots.critic_level_sets(ax, field + 5, x, y, eight, centred=False)  # a WGAN-like offset critic
    assert filled.levels[0] == pytest.approx(float(field.min()) + 5) and filled.levels[-1] == pytest.approx(
        float(field.max()) + 5)
    filled, _ = plots.critic_level_sets(ax, field + 5, x, y, eight)  # centred: symmetric about 0
    assert filled.levels[0] == pytest.approx(-filled.levels[-1])
    with pytest.raises(ValueError, match="NaN"):
        plots.critic_level_sets(ax, field * float("nan"), x, y, eight)
    with pytest.raises(ValueError, match="field"):
        plots.critic_level_sets(ax, field[:-1], x, y, eight)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "celeba"])
def test_missing_image_data_raises_one_clear_error(name, tmp_path, monkeypatch):
    monkeypatch.setenv("LSGAN_DATA", str(tmp_path))
    with pytest.raises(datasets.DatasetMissing) as error:
        datasets.load_images(name, "train", 8)
    message = str(error.value)
    assert str(tmp_path) in message and "LSGAN_DATA" in message
    if name == "mnist":
        with pytest.raises(datasets.DatasetMissing):
            features.train_mnist_classifier(n_train=8, n_test=8)


def test_mnist_classifier_shapes_and_prediction():
    net = features.mnist_classifier_net()
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert features.predict_classes(net.eval(), torch.zeros(5, 1, 28, 28)).shape == (5,)


def test_image_gate_compares_a_run_with_its_own_generator_at_initialisation(tiny_mnist, tmp_path):
    from torch.nn import functional as F

    from lsgan_lib.train.images import ImageGANConfig, build_image_networks, train_image_gan

    config = ImageGANConfig(dataset="mnist", width=4, latent_dim=3, n_iter=6, batch_size=8, snapshots=(6,),
                            n_samples=5, objective="level_set", optimizer="rmsprop", lr=1e-2)
    run = train_image_gan(config, progress=False, results_root=tmp_path / "results")
    real = tiny_mnist[:, None].float() / 127.5 - 1  # (64, 1, 28, 28) in [-1, 1]
    pooled = lambda x: F.avg_pool2d(x, 7).flatten(1)  # noqa: E731  (16 features)
    trained = features.image_gate(run, pooled, real, 64)
    assert trained["samples"].shape == (64, 1, 28, 28) and math.isfinite(trained["ratio"])
    run.generator = build_image_networks(config, 1, 28)[0]  # the same net at initialisation: ratio exactly 1
    assert features.image_gate(run, pooled, real, 64)["ratio"] == pytest.approx(1.0)
