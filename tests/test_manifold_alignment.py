"""The manifold-alignment chapter's own logic (issue 28): the "learned" gate every objective is held to, the circle in
R^2, the W2² estimator's ranking of the data against a ring, the minimax + gradient-penalty weights of footnote 5, and
Sec. 4.2's missing-modes test (pre-training on 4 of the 8 Gaussians, a well-trained critic, two continued losses)."""

import pytest
import torch

from lsgan_lib.chapters import manifold_alignment as ma
from lsgan_lib.data import distributions
from lsgan_lib.models import objectives
from lsgan_lib.train.toy import GANConfig, train_gan


# --- the learned gate -------------------------------------------------------------------------------------------------


def test_learned_gate_passes_a_collapsed_generator_and_fails_one_that_did_not_move(generator):
    data = "eight_gaussians"
    manifold = distributions.data_manifold(data)
    untrained = [ma.near_support_share(data, 0.02 * torch.randn(500, 2, generator=generator)) for _ in range(5)]
    centre = manifold.sample(1, generator).repeat(500, 1)
    collapsed = centre + 0.5 * manifold.std * torch.randn(500, 2, generator=generator)
    trained = [ma.near_support_share(data, collapsed)] * 5
    assert ma.learned_gate("collapsed", data, trained, untrained).passed
    assert not ma.learned_gate("still", data, untrained, untrained).passed
    # the quorum: 4 of 5 seeds suffice, 3 do not
    assert ma.learned_gate("four", data, trained[:4] + untrained[:1], untrained).passed
    assert not ma.learned_gate("three", data, trained[:3] + untrained[:2], untrained).passed
    assert ma.learned_gate("x", data, trained, untrained).independence


def test_learned_gate_refuses_mismatched_seeds_and_a_bad_threshold():
    with pytest.raises(ValueError, match="per-seed"):
        ma.learned_gate("x", "circle", [0.9, 0.9], [0.1])
    with pytest.raises(ValueError, match="min_gain"):
        ma.learned_gate("x", "circle", [0.9], [0.1], min_gain=0.0)


# --- the circle in R^2 ------------------------------------------------------------------------------------------------


def test_the_circle_in_r2_has_arcs_and_a_near_support_share(generator):
    manifold = distributions.data_manifold("circle")
    x = manifold.sample(2500, generator)
    assert x.shape == (2500, 2) and manifold.dim == 2 and manifold.intrinsic_dim == 1
    assert float(manifold.distance_to_support(x).max()) < 1e-5
    stats = ma.support_statistics("circle", x)
    assert stats == {"modes_covered": 12.0, "n_modes": 12, "high_quality": 1.0}
    half = x[x[:, 1] > 0]  # the upper half circle: 6 of 12 arcs
    assert ma.support_statistics("circle", half)["modes_covered"] == 6
    assert ma.near_support_share("circle", x) == 1.0
    assert ma.near_support_share("circle", 1.3 * x) == 0.0  # 0.3 off the circle, beyond its 0.15
    assert ma.near_support_share("circle", torch.zeros(10, 2)) == 0.0


def test_four_of_eight_gaussians_are_the_even_modes(generator):
    manifold = distributions.data_manifold("four_of_eight_gaussians")
    assert manifold.centres == tuple(distributions.EIGHT_GAUSSIANS_CENTRES[k] for k in ma.KEPT_MODES)
    counts = ma.mode_counts(manifold.sample(2500, generator))
    assert counts == {"kept": 4, "missing": 0}
    assert ma.mode_counts(distributions.eight_gaussians(2500, generator)) == {"kept": 4, "missing": 4}


# --- the W2² estimator: data against a ring ---------------------------------------------------------------------------


def test_small_batch_minibatch_ot_ranks_the_ring_above_the_data():
    ranking = ma.estimator_ranking(64, 60, seed=3)
    assert ranking["prefers_data"] is False
    assert ranking["data"].mean > ranking["ring"].mean
    assert "ranks the ring above the data" in ma.estimator_reason(64, ranking)
    assert ma.estimator_reason(1024, {"prefers_data": True}) == ""
    with pytest.raises(ValueError, match="batch_size"):
        ma.estimator_ranking(1, 10)


def test_the_ring_is_uniform_on_its_circle(generator):
    ring = ma.uniform_ring(1000, 2.0, generator)
    assert ring.shape == (1000, 2)
    assert torch.allclose(ring.norm(dim=1), torch.full((1000,), 2.0), atol=1e-5)


# --- footnote 5: minimax + gradient penalty at several λ --------------------------------------------------------------


@pytest.mark.parametrize("weight, name", [(0.1, "minimax_gp_toy"), (1.0, "minimax_gp_1"), (10, "minimax_gp")])
def test_minimax_gp_objectives_carry_their_penalty_weight(weight, name):
    assert objectives.minimax_gp_objective(weight) == name
    loss = objectives.objective(name)
    assert loss.gradient_penalty == pytest.approx(weight) and loss.optimizer == "rmsprop"
    critic = torch.nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))  # ‖∇ logit‖ = 5: penalty λ · 16
    real, fake, mix = torch.randn(8, 2), torch.randn(8, 2), torch.rand(8, 1)
    plain = float(objectives.minimax_critic_loss(critic(real), critic(fake)).detach())
    penalised = float(loss.critic_loss(critic, real, fake, mix).detach())
    assert penalised == pytest.approx(plain + 16 * weight, rel=1e-5)


def test_an_unknown_penalty_weight_is_refused():
    with pytest.raises(ValueError, match="λ = 0.5"):
        objectives.minimax_gp_objective(0.5)


# --- Sec. 4.2: the missing-modes test ---------------------------------------------------------------------------------


def _tiny_pretrained(seed=0):
    return train_gan(ma.pretraining_config(seed, 3, 8, batch_size=16, n_eval=50), progress=False)


def test_pretraining_config_is_the_wgan_gp_reference_on_four_modes():
    config = ma.pretraining_config(5, 2000, 128)
    assert (config.data, config.objective, config.n_critic, config.lr, config.init) == (
        "four_of_eight_gaussians", "wgan_gp_toy", 5, 1e-4, "he_uniform")
    assert config.snapshots == (0, 2000) and config.widths == (128, 128, 128) and config.seed == 5


def test_continuation_starts_both_losses_from_the_same_generator_and_is_cached():
    run = _tiny_pretrained()
    out = ma.continue_against_critic(run, critic_iter=3, n_iter=4, snapshots=[2], batch_size=16)
    assert out["snapshot_iters"] == [0, 2, 4]
    for name in ma.CONTINUED_LOSSES:
        assert out[name].shape == (3, 50, 2) and torch.isfinite(out[name]).all()
    assert torch.equal(out["minimax"][0], out["non_saturating"][0])  # the same start
    with torch.no_grad():
        assert torch.allclose(out["minimax"][0], run.final, atol=1e-6)  # the pre-trained generator, same latents
    assert not torch.equal(out["minimax"][-1], out["non_saturating"][-1])  # the losses differ
    assert 0 <= out["critic_on_missing"] <= 1 and 0 <= out["critic_on_generated"] <= 1
    again = ma.continue_against_critic(run, critic_iter=3, n_iter=4, snapshots=[2], batch_size=16)
    assert torch.equal(again["minimax"], out["minimax"])


@pytest.mark.slow
def test_under_a_scheduler_the_continuations_run_on_workers_and_equal_runs_here(monkeypatch, tmp_path):
    from distributed import Client, LocalCluster, get_task_stream

    from lsgan_lib.train.progress import ProgressBar

    run, other = _tiny_pretrained(), _tiny_pretrained(seed=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the worker's count: CPU products round differently with another
    try:
        here = ma.continue_against_critic(run, critic_iter=3, n_iter=4, snapshots=[2], batch_size=16)
        here_other = ma.continue_against_critic(other, critic_iter=3, n_iter=4, snapshots=[2], batch_size=16)
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setenv("LSGAN_RESULTS", str(tmp_path / "other"))  # an empty cache: the worker must train
    monkeypatch.setenv("LSGAN_PROGRESS", "off")
    bar = ProgressBar(2 * (3 + 2 * 4), "two seeds share this bar")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, get_task_stream(client) as stream:
        monkeypatch.setenv("LSGAN_SCHEDULER", cluster.scheduler_address)
        there = ma.continue_against_critic(run, critic_iter=3, n_iter=4, snapshots=[2], batch_size=16, progress=bar)
        assert bar.n == 3 + 2 * 4  # this seed's share of the bar, not the whole bar
        both = ma.continue_seeds([run, other], critic_iter=3, n_iter=4, snapshots=[2], batch_size=16, progress=bar)
    assert [t["key"].split("-")[0] for t in stream.data] == ["train_on_worker"] * 2  # the first seed was cached
    assert bar.n == bar.total
    for name in ma.CONTINUED_LOSSES:
        assert torch.equal(there[name], here[name])
        assert torch.equal(both[0][name], here[name]) and torch.equal(both[1][name], here_other[name])
    assert there["critic_on_missing"] == here["critic_on_missing"]
    assert len(list((tmp_path / "other").rglob("*.pt"))) == 2  # cached by this process


def test_continue_seeds_runs_the_seeds_at_once_under_a_client_and_in_order_without(monkeypatch):
    import threading

    from lsgan_lib.train import cluster

    runs = ["seed 0", "seed 1", "seed 2"]
    barrier = threading.Barrier(3, timeout=10)  # passes only if all three seeds run at the same time

    def continued(run, *args, **kwargs):
        barrier.wait()
        return {"run": run, "args": args, "n_critic": kwargs["n_critic"]}

    monkeypatch.setattr(ma, "continue_against_critic", continued)
    monkeypatch.setattr(cluster, "active_client", lambda: object())
    out = ma.continue_seeds(runs, 3, 4, [2], n_critic=5)
    assert [o["run"] for o in out] == runs and out[0]["args"] == (3, 4, [2]) and out[0]["n_critic"] == 5
    order = []
    monkeypatch.setattr(ma, "continue_against_critic", lambda run, *a, **k: order.append(run) or run)
    monkeypatch.setattr(cluster, "active_client", lambda: None)
    assert ma.continue_seeds(runs, 3, 4) == runs and order == runs  # here: one after another


def test_continuation_refuses_a_generator_not_pretrained_on_four_modes_and_bad_sizes():
    run = _tiny_pretrained()
    other = train_gan(GANConfig(data="eight_gaussians", n_iter=2, batch_size=8, widths=(8,), batch_norm=False,
                                activation="relu", snapshots=(2,), n_eval=10), progress=False)
    with pytest.raises(ValueError, match="four_of_eight_gaussians"):
        ma.continue_against_critic(other, 2, 2)
    with pytest.raises(ValueError, match="n_critic"):
        ma.continue_against_critic(run, 2, 2, n_critic=0)


def test_missing_modes_gates_check_the_premise_and_the_critic():
    passing = ma.missing_modes_gates([4, 4, 3, 4, 4], [0] * 5, [0.95] * 5)
    assert all(g.passed for g in passing) and all(g.independence for g in passing)
    already = ma.missing_modes_gates([4] * 5, [0, 1, 1, 0, 0], [0.95] * 5)
    assert not already[1].passed  # two seeds already cover a "missing" mode: below the quorum
    weak = ma.missing_modes_gates([4] * 5, [0] * 5, [0.5] * 5)
    assert not weak[2].passed

