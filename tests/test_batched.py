import dataclasses

import pytest
import torch

from lsgan_lib.train import batched
from lsgan_lib import cache
from lsgan_lib.models import objectives
from lsgan_lib.train.batched import StackedFC, StackedOptimizer, train_batched
from lsgan_lib.train.config import ADAM_EPS, CACHE_KIND
from lsgan_lib.models.nets import fc_net
from lsgan_lib.train.toy import GANConfig, critic_steps, train_gan

# Widths and batch large enough that CPU matrix products take their ordinary kernels (at widths like 8 and out_dim 2
# a batched product of one matrix can round differently from torch's addmm, which RMSprop then amplifies).
SMALL = dict(data="nine_squares", latent="uniform", latent_dim=2, n_iter=4, batch_size=64, widths=(20, 20),
             snapshots=(0, 2, 4), n_eval=50)
PER_OBJECTIVE = {"wgan": dict(n_critic=2, lr=5e-5), "wgan_gp": dict(n_critic=2, lr=1e-4)}


def small(**changes) -> GANConfig:
    objective = changes.get("objective", "minimax")
    return GANConfig(**SMALL | PER_OBJECTIVE.get(objective, {}) | changes)


def assert_same_run(a, b, exact: bool):
    check = torch.testing.assert_close if not exact else (lambda x, y: torch.testing.assert_close(x, y, rtol=0, atol=0))
    check(a.losses, b.losses)
    check(a.snapshots, b.snapshots)
    check(a.grid_images, b.grid_images)
    for net_a, net_b in ((a.generator, b.generator), (a.critic, b.critic)):
        for (name, x), (_, y) in zip(net_a.state_dict().items(), net_b.state_dict().items()):
            check(x, y)


@pytest.mark.parametrize("name", sorted(objectives.OBJECTIVES))
def test_every_objective_trains_through_the_one_loop_and_a_single_run_is_a_batch_of_one(name, tmp_path):
    config = small(objective=name)
    single = train_gan(config, progress=False, results_root=tmp_path / "single")
    (member,) = train_batched([config], progress=False, results_root=tmp_path / "batched")
    assert torch.isfinite(single.losses).all() and not single.from_cache
    assert_same_run(single, member, exact=True)  # one loop: the same numbers under another cache key
    assert member.extra["diverged_at"] is None and not member.from_cache


def test_members_of_a_batch_match_their_single_runs_up_to_rounding(tmp_path):
    configs = [small(seed=s) for s in range(3)]
    runs = train_batched(configs, progress=False, results_root=tmp_path / "batched")
    for config, run in zip(configs, runs):
        single = train_gan(config, progress=False, results_root=tmp_path / "single")
        torch.testing.assert_close(single.losses, run.losses, rtol=1e-4, atol=1e-5)


def test_members_are_independent(tmp_path):
    base = [small(seed=s) for s in range(3)]
    other = list(base)
    other[1] = dataclasses.replace(base[1], seed=11, data="spiral", latent="gaussian", lr=3e-3, lr_decay=0.5,
                                   lr_decay_every=1, weight_decay=5e-4, rmsprop_alpha=0.9, rmsprop_eps=1.0)
    a = train_batched(base, progress=False, results_root=tmp_path / "a")
    b = train_batched(other, progress=False, results_root=tmp_path / "b")
    for i in (0, 2):
        assert_same_run(a[i], b[i], exact=True)
    assert not torch.equal(a[1].losses, b[1].losses)


def test_configurations_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="'widths'"):
        train_batched([small(), small(widths=(20, 30))], progress=False)
    with pytest.raises(ValueError, match="'n_critic'"):
        train_batched([small(), small(n_critic=2)], progress=False)
    with pytest.raises(ValueError, match="'objective'"):
        train_batched([small(), small(objective="non_saturating")], progress=False)


def test_per_member_gradient_penalty_equals_the_single_run_penalty():
    torch.manual_seed(0)
    nets = [fc_net(2, 1, (16, 16)) for _ in range(3)]
    stacked = StackedFC(nets)
    real, fake, mix = torch.randn(3, 32, 2), torch.randn(3, 32, 2), torch.rand(3, 32, 1)
    penalty = objectives.gradient_penalty(stacked, real, fake, mix, 10.0)
    assert penalty.shape == (3,)
    penalty.sum().backward()
    for k, net in enumerate(nets):
        single = objectives.gradient_penalty(net, real[k], fake[k], mix[k], 10.0)
        torch.testing.assert_close(penalty[k], single)
        single.backward()
        linear_weights = [m.weight for m in net if isinstance(m, torch.nn.Linear)]
        for stacked_weight, weight in zip(stacked.weights, linear_weights):
            torch.testing.assert_close(stacked_weight.grad[k], weight.grad, rtol=1e-4, atol=1e-5)


def test_stacked_network_and_batch_norm_match_fc_net_in_both_modes():
    torch.manual_seed(1)
    nets = [fc_net(2, 3, (8, 16)) for _ in range(2)]
    stacked = StackedFC(nets)
    x = torch.randn(2, 40, 2)
    for _ in range(2):  # training mode updates the running statistics per member
        out = stacked(x)
        for k, net in enumerate(nets):
            torch.testing.assert_close(out[k], net(x[k]))
    stacked.eval()
    for k, net in enumerate(nets):
        net.eval()
        torch.testing.assert_close(stacked(x)[k], net(x[k]))
        for name, value in stacked.member_state_dict(k).items():
            torch.testing.assert_close(value, net.state_dict()[name], rtol=1e-6, atol=1e-7)


def torch_optimizer(params, config):
    """torch.optim's RMSprop (or Adam for WGAN-GP) with the configuration's StepLR schedule: the reference."""
    how = objectives.traits(objectives.objective(config.objective))
    if how.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=config.lr, betas=how.adam_betas, eps=ADAM_EPS,
                               weight_decay=config.weight_decay)
    else:
        opt = torch.optim.RMSprop(params, lr=config.lr, alpha=config.rmsprop_alpha, eps=config.rmsprop_eps,
                                  weight_decay=config.weight_decay)
    return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=config.lr_decay_every, gamma=config.lr_decay)


@pytest.mark.parametrize("name", ["minimax", "wgan_gp"])
def test_stacked_optimizer_matches_torch_optim_per_member(name):
    configs = [small(objective=name, lr=1e-2, lr_decay=0.5, lr_decay_every=2),
               small(objective=name, lr=3e-3, lr_decay=0.9, lr_decay_every=3, weight_decay=5e-4, rmsprop_alpha=0.9,
                     rmsprop_eps=1.0)]
    torch.manual_seed(2)
    stacked = [torch.randn(2, 5, 7, requires_grad=True), torch.randn(2, 1, 7, requires_grad=True)]
    singles = [[p[k].detach().clone().requires_grad_(True) for p in stacked] for k in range(2)]
    opt = StackedOptimizer(stacked, configs)
    torch_opts = [torch_optimizer(ps, c) for ps, c in zip(singles, configs)]
    for it in range(1, 7):
        grads = [torch.randn_like(p) for p in stacked]
        for p, g in zip(stacked, grads):
            p.grad = g.clone()
        opt.step()
        opt.schedule_step(it)
        for k, (torch_opt, schedule) in enumerate(torch_opts):
            for p, g in zip(singles[k], grads):
                p.grad = g[k].clone()
            torch_opt.step()
            schedule.step()
    for k in range(2):
        for p, q in zip(stacked, singles[k]):
            torch.testing.assert_close(p[k], q, rtol=0, atol=0)  # the same operations in the same order


def test_a_frozen_member_keeps_its_parameters_and_state():
    configs = [small(seed=s) for s in range(2)]
    params = [torch.ones(2, 3, 4, requires_grad=True)]
    opt = StackedOptimizer(params, configs)
    params[0].grad = torch.ones(2, 3, 4)
    opt.step(frozen=torch.tensor([False, True]))
    assert not torch.equal(params[0][0], torch.ones(3, 4)) and torch.equal(params[0][1], torch.ones(3, 4))
    assert torch.equal(opt.state[0][0][1], torch.zeros(3, 4))


class NaNForMember1AtIteration3(objectives.Minimax):
    """Minimax, except that member 1's critic loss is NaN from the third critic step on."""

    def __init__(self):
        super().__init__()
        object.__setattr__(self, "calls", [0])

    def critic_loss(self, critic, real, fake, mix=None):
        value = super().critic_loss(critic, real, fake)
        self.calls[0] += 1
        if self.calls[0] >= 3:
            value = value * torch.tensor([1.0, float("nan"), 1.0])
        return value


def test_a_diverging_member_is_frozen_reported_and_cached_with_its_iteration(monkeypatch, tmp_path):
    configs = [small(seed=s, n_iter=6, snapshots=(0, 2, 3, 6)) for s in range(3)]
    clean = train_batched(configs, progress=False, results_root=tmp_path / "clean")
    monkeypatch.setattr(batched, "objective", lambda name: NaNForMember1AtIteration3())
    with pytest.warns(RuntimeWarning, match=r"member 1 became nan at iteration 3 \(data=nine_squares.*seed=1\)"):
        runs = train_batched(configs, progress=False, results_root=tmp_path / "nan")
    assert [r.extra["diverged_at"] for r in runs] == [None, 3, None]
    for i in (0, 2):
        assert_same_run(clean[i], runs[i], exact=True)
    frozen = runs[1]
    assert torch.equal(frozen.at(2), clean[1].at(2))
    assert torch.equal(frozen.at(3), frozen.at(2)) and torch.equal(frozen.at(6), frozen.at(2))  # no change after 2
    assert torch.isfinite(frozen.losses[:2]).all() and torch.isnan(frozen.losses[2:, 0]).all()
    # every member is cached (the diverged one with its iteration), so the batch is not trained again
    keys = batched.batch_keys(configs, GANConfig.as_dict)
    assert all(cache.entry_path(CACHE_KIND, k, tmp_path / "nan").exists() for k in keys)
    again = train_batched(configs, progress=False, results_root=tmp_path / "nan")
    assert all(r.from_cache for r in again) and [r.extra["diverged_at"] for r in again] == [None, 3, None]
    assert "reached" not in again[1].extra and torch.equal(again[1].final, frozen.final)


def test_a_batch_is_cached_as_a_batch_apart_from_train_gan(monkeypatch):
    configs = [small(seed=s) for s in range(3)]
    train_gan(configs[1], progress=False)
    trained = []
    real_train = batched._train_batched

    def spy(members, device, bar, *options):
        trained.append([c.seed for c in members])
        return real_train(members, device, bar, *options)

    monkeypatch.setattr(batched, "_train_batched", spy)
    runs = train_batched(configs, progress=False)
    assert trained == [[0, 1, 2]]  # train_gan's entry is another result: not loaded into the batch
    assert not any(r.from_cache for r in runs)
    again = train_batched(configs, progress=False)
    assert all(r.from_cache for r in again) and len(trained) == 1
    assert not train_batched(configs[:2], progress=False)[0].from_cache  # another batch: other entries
    assert trained[-1] == [0, 1]

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the run is cached")

    monkeypatch.setattr(batched, "_train_batched", no_training)
    assert train_gan(configs[1], progress=False).from_cache  # and the batches did not touch train_gan's entry


def test_returned_networks_are_ordinary_fc_nets_that_reproduce_the_snapshots():
    (run,) = train_batched([small()], progress=False)
    assert isinstance(run.generator, torch.nn.Sequential) and not run.generator.training
    with torch.no_grad():
        torch.testing.assert_close(run.generator(run.grid), run.grid_images[-1])
    assert run.snapshots.shape == (3, 50, 2) and run.losses.shape == (4, 2)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("name", ["wgan", "wgan_gp", "level_set"])
def test_nets_without_batch_norm_train_and_come_back_as_fc_nets(name, activation, tmp_path):
    config = small(objective=name, batch_norm=False, activation=activation, data="eight_gaussians")
    run = train_gan(config, progress=False, results_root=tmp_path)
    assert torch.isfinite(run.losses).all()
    assert [type(m).__name__ for m in run.critic][:2] == ["Linear", {"relu": "ReLU", "leaky_relu": "LeakyReLU"}[
        activation]]


def test_a_sweep_groups_runs_by_shape_and_keeps_their_order(monkeypatch, tmp_path):
    configs = [small(seed=0), small(seed=0, n_gen=2), small(seed=1), small(seed=1, n_gen=2),
               small(seed=2, batch_norm=False, activation="relu")]
    calls = []
    real = batched.train_batched
    monkeypatch.setattr(batched, "train_batched",
                        lambda group, *a, **k: calls.append(len(group)) or real(group, *a, **k))
    runs = batched.train_sweep(configs, progress=False, results_root=tmp_path)
    assert sorted(calls) == [1, 2, 2]  # three shapes: n_gen 1, n_gen 2, no batch norm
    assert [r.config for r in runs] == configs
    again = batched.train_sweep(configs, progress=False, results_root=tmp_path)
    for run, cached in zip(runs, again):  # each group is cached as the batch it was trained in
        assert cached.from_cache and torch.equal(cached.losses, run.losses)


@pytest.mark.parametrize("n, most, sizes", [(35, 7, [7] * 5), (35, 14, [12, 12, 11]), (21, 7, [7, 7, 7]),
                                             (3, 2, [2, 1]), (5, None, [5]), (4, 10, [4])])
def test_split_evenly_cuts_in_order_into_near_equal_parts(n, most, sizes):
    parts = batched.split_evenly(list(range(n)), most)
    assert [len(p) for p in parts] == sizes
    assert [j for p in parts for j in p] == list(range(n))


def test_split_evenly_refuses_an_empty_batch():
    with pytest.raises(ValueError, match="max_members=0"):
        batched.split_evenly([0, 1], 0)


def test_a_sweep_with_max_members_trains_each_part_as_its_own_batch(monkeypatch, tmp_path):
    configs = [small(seed=s) for s in range(3)]
    calls = []
    real = batched.train_batched
    monkeypatch.setattr(batched, "train_batched",
                        lambda group, *a, **k: calls.append(len(group)) or real(group, *a, **k))
    runs = batched.train_sweep(configs, progress=False, results_root=tmp_path / "split", max_members=2)
    assert calls == [2, 1] and [r.config for r in runs] == configs
    (alone,) = real([configs[2]], progress=False, results_root=tmp_path / "alone")
    assert torch.equal(runs[2].losses, alone.losses)  # the last part is exactly a batch of one
    whole = batched.train_sweep(configs, progress=False, results_root=tmp_path / "split")
    assert not any(r.from_cache for r in whole)  # another grouping is another batch: trained, not loaded


def test_a_compiled_batch_matches_the_eager_batch_up_to_rounding(tmp_path):
    # torch.compile fuses the forward pass and the optimizer update (on a GPU, "reduce-overhead" also replays them
    # as CUDA graphs); fused kernels round differently, so the runs agree to a tolerance, as batching does. Biases
    # whose shift a train-mode batch norm cancels (those before a batch norm, and the generator's output bias, before
    # the critic's first one) have a zero gradient up to rounding, which RMSprop normalises into steps of up to ~lr:
    # those biases, and the running means that follow them, differ by ~1e-3, and so do the eval-mode snapshots
    # (measured 1.1e-3). The train-mode losses and the weights agree closely.
    configs = [small(seed=s) for s in range(2)] + [small(seed=5, lr=3e-3, data="spiral")]
    eager = train_batched(configs, progress=False, results_root=tmp_path / "eager")
    compiled = train_batched(configs, progress=False, results_root=tmp_path / "compiled", compile_mode="default")
    for a, b in zip(eager, compiled):
        torch.testing.assert_close(a.losses, b.losses, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(a.snapshots, b.snapshots, rtol=0, atol=1e-2)
        for net_a, net_b in ((a.generator, b.generator), (a.critic, b.critic)):
            for (name, x), y in zip(net_a.named_parameters(), net_b.parameters()):
                if name.endswith(".weight"):
                    torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5)
        assert b.extra["diverged_at"] is None


def test_compile_modes_are_checked_before_training():
    with pytest.raises(ValueError, match="not a torch.compile mode"):
        train_batched([small()], progress=False, compile_mode="fast")
    with pytest.raises(ValueError, match="double backward"):
        train_batched([small(objective="wgan_gp")], progress=False, compile_mode="default")


def test_compiling_more_graphs_than_the_limit_raises_instead_of_falling_back_to_eager(monkeypatch):
    monkeypatch.setattr(batched, "COMPILE_RECOMPILE_LIMIT", 1)  # the first batched model needs about six graphs
    with pytest.raises(RuntimeError, match="compiled the stacked networks more than 1 times"):
        train_batched([small(n_iter=1, snapshots=(1,))], progress=False, compile_mode="default")


# Paper 002's original code: the split discriminator update and its RMSprop constants (α 0.9, ε 1, weight decay 5e-4,
# here with a decay every 2 iterations so that the schedule acts within the test).
ORIGINAL_CODE = dict(critic_update="split", rmsprop_alpha=0.9, rmsprop_eps=1.0, weight_decay=5e-4, lr_decay=0.5,
                     lr_decay_every=2)


@pytest.mark.parametrize("name", ["minimax", "non_saturating"])
def test_the_split_critic_update_changes_the_run(name, tmp_path):
    config = small(objective=name, **ORIGINAL_CODE)
    single = train_gan(config, progress=False, results_root=tmp_path / "single")
    assert torch.isfinite(single.losses).all()
    joint = train_gan(dataclasses.replace(config, critic_update="joint"), progress=False, results_root=tmp_path / "j")
    assert not torch.allclose(joint.losses, single.losses)  # the update order changes the run


def test_members_with_their_own_rmsprop_constants_match_their_single_runs(tmp_path):
    configs = [small(objective="non_saturating", critic_update="split", seed=1),
               small(objective="non_saturating", **ORIGINAL_CODE),
               small(objective="non_saturating", critic_update="split", rmsprop_alpha=0.5, rmsprop_eps=0.1)]
    runs = train_batched(configs, progress=False, results_root=tmp_path / "batched")
    for config, run in zip(configs, runs):
        single = train_gan(config, progress=False, results_root=tmp_path / "single")
        torch.testing.assert_close(single.losses, run.losses, rtol=1e-4, atol=1e-5)


def test_the_split_update_is_shared_by_a_batch():
    with pytest.raises(ValueError, match="critic_update"):
        batched.check_same_shape([small(), small(critic_update="split")])


def test_critic_warmup_follows_arjovskys_schedule():
    plain, warm = small(objective="wgan"), small(objective="wgan", critic_warmup=True)
    steps = [critic_steps(warm, it) for it in range(1, 1503)]
    assert steps[:25] == [100] * 25  # generator iterations 0..24 in main.py's count
    assert steps[25:500] == [plain.n_critic] * 475
    assert [it for it, n in enumerate(steps, start=1) if it > 25 and n == 100] == [501, 1001, 1501]
    assert {critic_steps(plain, it) for it in range(1, 1503)} == {plain.n_critic}


def test_critic_warmup_changes_the_run(tmp_path):
    config = small(objective="wgan", critic_warmup=True, n_iter=3, snapshots=(3,))
    single = train_gan(config, progress=False, results_root=tmp_path / "single")
    plain = train_gan(dataclasses.replace(config, critic_warmup=False), progress=False, results_root=tmp_path / "p")
    assert not torch.allclose(plain.losses, single.losses)  # 100 critic steps per iteration here, not 5
    assert "critic_warmup" not in plain.config.as_dict()  # results cached before the field keep their keys
    with pytest.raises(ValueError, match="critic_warmup needs an objective with a critic"):
        small(objective="w2_minibatch_ot", critic_warmup=True)
    with pytest.raises(ValueError, match="critic_warmup"):
        batched.check_same_shape([dataclasses.replace(config, critic_warmup=False), config])
