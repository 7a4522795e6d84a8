"""The level-set chapter's library: Eq. (4) and its ℓ1 variant, Algorithm 1's loop, the grid evaluation, the level-set
plot, the claims' measurements and the image loaders' missing-data error."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from lsgan_lib import datasets, distributions, objectives, plots, training  # noqa: E402
from lsgan_lib import level_set as ls  # noqa: E402

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
    training.generator_step(objectives.objective(name), generator, critic,
                            torch.optim.SGD(generator.parameters(), lr=0.05), z)
    assert critic(generator(z)).abs().mean().item() < before
    assert critic.weight.grad is None  # the critic gets no gradient from the generator's step


# ---------------------------------------------------------------------------------------------------------------------
# Algorithm 1's loop
# ---------------------------------------------------------------------------------------------------------------------


def test_algorithm_1_loop_matches_the_toy_trainer_and_stores_the_critic_field():
    config = tiny()
    run = ls.train_level_set(config, field_points=11, progress=False)
    reference = training.train_gan(config, progress=False)
    # the same random draws in the same order: one critic step, then n_gen generator steps on fresh latent batches
    torch.testing.assert_close(run.losses, reference.losses)
    torch.testing.assert_close(run.run.snapshots, reference.snapshots)
    torch.testing.assert_close(run.run.grid_images, reference.grid_images)
    assert run.losses.shape == (6, 2) and run.diverged_at is None and run.reached == 3
    assert run.fields.shape == (3, 11, 11) and run.field_x.shape == (11,)
    # the stored field is the critic on the plane grid: the final snapshot equals the final critic there
    _, _, plane = ls.plane_grid(distributions.data_manifold("eight_gaussians").bounds, 11)
    with torch.no_grad():
        torch.testing.assert_close(run.fields[-1], run.run.critic(plane).reshape(11, 11))
    # L of Eq. (4) is column 0: recompute it at iteration 1 from the initial networks and the first batches
    generator, critic = training.build_networks(config)
    stream = training._stream(config.seed, 0, torch.device("cpu"))
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
    original_c, original_g = training.critic_step, training.generator_step  # the loop is training._train's
    monkeypatch.setattr(training, "critic_step", lambda *a, **k: calls.append("c") or original_c(*a, **k))
    monkeypatch.setattr(training, "generator_step", lambda *a, **k: calls.append("g") or original_g(*a, **k))
    ls.train_level_set(tiny(n_iter=2, snapshots=(2,), n_gen=3), field_points=5, progress=False)
    assert "".join(calls) == "cggg" * 2


def test_an_explosion_of_L_is_recorded_and_cached_not_raised(monkeypatch):
    original = training.critic_step
    count = {"n": 0}

    def exploding(*args, **kwargs):
        count["n"] += 1
        value = original(*args, **kwargs)
        return torch.tensor(float("inf")) if count["n"] == 4 else value

    monkeypatch.setattr(training, "critic_step", exploding)
    run = ls.train_level_set(tiny(), field_points=5, progress=False)
    assert run.diverged_at == 4 and run.reached == 2  # snapshots 0 and 3 were taken
    assert torch.isnan(run.losses[3:]).all() and torch.isfinite(run.losses[:3]).all()
    torch.testing.assert_close(run.run.snapshots[2], run.run.snapshots[1])  # the last good snapshot repeats
    assert ls.loss_explosion(run.losses, 1e3)["diverged"]
    monkeypatch.setattr(training, "critic_step", original)
    cached = ls.train_level_set(tiny(), field_points=5, progress=False)
    assert cached.run.from_cache and cached.diverged_at == 4


# ---------------------------------------------------------------------------------------------------------------------
# The grid evaluation and Fig. 1's measures
# ---------------------------------------------------------------------------------------------------------------------


def test_latent_grid_is_evaluated_through_the_generator_as_a_square_mesh():
    config = tiny(latent_dim=2)
    _, grid = training.evaluation_inputs(config, torch.device("cpu"))
    assert grid.shape == (41 * 41, 2)
    mesh = grid.reshape(41, 41, 2)
    assert torch.allclose(mesh[0, :, 0], torch.full((41,), -1.0)) and torch.allclose(mesh[:, 0, 1], mesh[0, 0, 1])
    assert ls.orientation_consistency(grid) == 1.0  # the identity map keeps every cell's orientation
    folded = grid.clone()
    folded[:, 0] = folded[:, 0].abs()  # fold the plane along the y axis: half the cells flip
    assert ls.orientation_consistency(folded) == pytest.approx(0.5, abs=0.03)
    run = ls.train_level_set(tiny(n_iter=1, snapshots=(1,)), field_points=5, progress=False)
    with torch.no_grad():
        torch.testing.assert_close(run.run.grid_images[-1], run.run.generator(run.run.grid))


def test_jacobian_determinants_and_contraction_of_known_maps():
    linear = nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[2.0, 1.0], [0.0, -3.0]])), linear.bias.zero_()
    z = torch.rand(10, 2)
    torch.testing.assert_close(ls.jacobian_determinants(linear, z), torch.full((10,), 6.0))

    class Cube(nn.Module):  # G(z) = z^3 per coordinate: |det J| = 9 z0^2 z1^2, tiny near the origin
        def forward(self, v):
            return v ** 3

    grid = distributions.latent_grid("uniform", 2, 21)
    stats = ls.contraction_at_centres(Cube(), grid, torch.zeros(1, 2), near=0.01, far=0.3)
    assert stats["n_near"] > 0 and stats["n_between"] > 0
    assert stats["near_det"] < 1e-3 < stats["between_det"] and stats["ratio"] > 100
    same = ls.contraction_at_centres(nn.Identity(), grid, torch.zeros(1, 2), near=0.5, far=0.6)
    assert same["ratio"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ls.contraction_at_centres(Cube(), grid, torch.zeros(1, 2), near=0.5, far=0.1)


# ---------------------------------------------------------------------------------------------------------------------
# The claims' measurements
# ---------------------------------------------------------------------------------------------------------------------


def test_loss_explosion_by_hand():
    losses = torch.tensor([[0.1, 0.0], [-5.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    result = ls.loss_explosion(losses, threshold=10.0)
    assert result == {"max_abs": 5.0, "diverged": False, "final_abs": 1.0}
    assert ls.loss_explosion(losses, threshold=4.0)["diverged"]
    nan_tail = torch.tensor([[0.1, 0.0], [float("nan"), float("nan")]])
    assert ls.loss_explosion(nan_tail, threshold=1e9) == {"max_abs": pytest.approx(0.1), "diverged": True,
                                                         "final_abs": pytest.approx(0.1)}


def test_separation_auc_and_anomaly_curves_by_hand():
    assert ls.separation_auc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 3.0])) == 1.0
    assert ls.separation_auc(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 0.0
    assert ls.separation_auc(torch.tensor([1.0, 1.0]), torch.tensor([1.0])) == 0.5  # ties count half
    # 1 of the 4 pairs is won: positive 1.5 > negative 1
    assert ls.separation_auc(torch.tensor([1.0, 2.0]), torch.tensor([0.5, 1.5])) == pytest.approx(0.25)
    critic = nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, 0.0]])), critic.bias.zero_()  # |f| = |x_0|
    real = torch.tensor([[0.1, 5.0], [-0.2, 0.0]])
    generated = torch.tensor([[1.0, 0.0], [-3.0, 1.0], [0.05, 0.0]])
    curves = ls.anomaly_curves(critic, real, generated, torch.tensor([0.15, 0.5, 2.0]))
    torch.testing.assert_close(curves["real_inside"], torch.tensor([0.5, 1.0, 1.0]))
    torch.testing.assert_close(curves["generated_inside"], torch.tensor([1 / 3, 1 / 3, 2 / 3]))
    assert curves["auc"] == pytest.approx(4 / 6)  # (1.0, 3.0) beat both real; 0.05 beats neither


def test_class_coverage_mode_summary_and_snapshot_schedule():
    one = ls.class_coverage(torch.full((50,), 3))
    assert one["classes"] == 1 and one["kl_from_uniform"] == pytest.approx(math.log(10))
    balanced = ls.class_coverage(torch.arange(10).repeat(7))
    assert balanced["classes"] == 10 and balanced["kl_from_uniform"] == pytest.approx(0.0, abs=1e-12)
    rare = ls.class_coverage(torch.tensor([0] * 99 + [1]), min_share=0.01)
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
            ls.train_mnist_classifier(n_train=8, n_test=8)


def test_mnist_classifier_shapes_and_prediction():
    net = ls.mnist_classifier_net()
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert ls.predict_classes(net.eval(), torch.zeros(5, 1, 28, 28)).shape == (5,)
