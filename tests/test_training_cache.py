import warnings

import pytest
import torch

from lsgan_lib import cache
from lsgan_lib.train import toy as training
from lsgan_lib.models.objectives import objective
from lsgan_lib.train.toy import GANConfig, TrainingDiverged, train_gan, train_runs

TINY = dict(data="nine_squares", latent="uniform", latent_dim=2, n_iter=6, batch_size=16, widths=(8, 8),
            snapshots=(0, 3, 6), n_eval=50)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="n_iter"):
        GANConfig(**TINY | {"n_iter": 0})
    with pytest.raises(ValueError, match="snapshots"):
        GANConfig(**TINY | {"snapshots": (7,)})
    with pytest.raises(ValueError, match="lr"):
        GANConfig(**TINY | {"lr": -1.0})
    with pytest.raises(KeyError, match="known"):
        GANConfig(**TINY | {"data": "nowhere"})


def test_one_critic_step_lowers_the_critic_loss_on_a_trivial_problem():
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.ELU(), torch.nn.Linear(8, 1))
    opt = torch.optim.RMSprop(critic.parameters(), lr=1e-2)
    real, fake = torch.full((64, 1), 1.0), torch.full((64, 1), -1.0)  # two separated points
    loss = objective("minimax")
    before = training.critic_step(loss, critic, opt, real, fake)
    after = loss.critic_loss(critic, real, fake).detach()
    assert after < before


def test_generator_step_moves_only_the_generator():
    torch.manual_seed(0)
    generator, critic = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
    critic_before = [p.clone() for p in critic.parameters()]
    generator_before = [p.clone() for p in generator.parameters()]
    opt = torch.optim.RMSprop(generator.parameters(), lr=1e-2)
    training.generator_step(objective("non_saturating"), generator, critic, opt, torch.randn(8, 1))
    assert all(torch.equal(a, b) for a, b in zip(critic_before, critic.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(generator_before, generator.parameters()))
    assert all(p.grad is None for p in critic.parameters()) and all(p.requires_grad for p in critic.parameters())


def test_training_returns_snapshots_grids_and_losses():
    run = train_gan(GANConfig(**TINY), progress=False)
    assert run.snapshot_iters == [0, 3, 6]
    assert run.snapshots.shape == (3, 50, 2) and run.final.shape == (50, 2)
    assert run.grid_images.shape == (3, 41 * 41, 2) and run.grid.shape == (41 * 41, 2)
    assert run.losses.shape == (6, 2) and torch.isfinite(run.losses).all()
    assert not run.from_cache and not run.generator.training
    assert torch.equal(run.at(3), run.snapshots[1])


def test_the_same_seed_gives_the_same_numbers_and_another_seed_does_not(tmp_path):
    a = train_gan(GANConfig(**TINY), progress=False, results_root=tmp_path / "a")
    b = train_gan(GANConfig(**TINY), progress=False, results_root=tmp_path / "b")
    c = train_gan(GANConfig(**TINY | {"seed": 1}), progress=False, results_root=tmp_path / "c")
    assert not b.from_cache
    assert torch.equal(a.final, b.final) and torch.equal(a.losses, b.losses)
    assert not torch.equal(a.final, c.final)


def test_a_cache_hit_skips_training(monkeypatch):
    first = train_gan(GANConfig(**TINY), progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the run is cached")

    monkeypatch.setattr(training, "_train", no_training)
    second = train_gan(GANConfig(**TINY), progress=False)
    assert second.from_cache
    assert torch.equal(first.final, second.final)
    x = torch.randn(5, 2)
    with torch.no_grad():
        assert torch.equal(first.generator(x), second.generator(x))


def test_a_corrupt_cache_entry_is_reported_and_retrained():
    config = GANConfig(**TINY)
    first = train_gan(config, progress=False)
    path = cache.entry_path(training.CACHE_KIND, config.as_dict())
    path.write_bytes(path.read_bytes()[:100])  # truncated file
    with pytest.warns(UserWarning, match="cannot read"):
        again = train_gan(config, progress=False)
    assert not again.from_cache and torch.equal(first.final, again.final)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert train_gan(config, progress=False).from_cache  # the entry was replaced


def test_a_non_finite_loss_raises_naming_the_iteration_and_caches_nothing(monkeypatch):
    class Exploding:
        name = "minimax"

        def critic_loss(self, critic, real, fake):
            return critic(real).mean() * float("nan")

        def generator_loss(self, critic, fake):
            return critic(fake).mean()

    monkeypatch.setattr(training, "objective", lambda name: Exploding())
    config = GANConfig(**TINY)
    with pytest.raises(TrainingDiverged, match=r"critic loss became .*nan.* at iteration 1 "):
        train_gan(config, progress=False)
    assert not cache.entry_path(training.CACHE_KIND, config.as_dict()).exists()


def test_train_runs_trains_each_configuration_in_order():
    configs = [GANConfig(**TINY | {"seed": s}) for s in (0, 1)]
    runs = train_runs(configs, progress=False)
    assert [r.config.seed for r in runs] == [0, 1]
    assert train_runs(configs, progress=False)[1].from_cache


def test_net_form_fields_keep_earlier_cache_keys_and_build_the_net():
    config = GANConfig(data="spiral", n_iter=5, snapshots=(5,))
    assert "batch_norm" not in config.as_dict() and "activation" not in config.as_dict()  # keys as first published
    toy = GANConfig(data="spiral", n_iter=5, snapshots=(5,), batch_norm=False, activation="relu", widths=(8, 8))
    assert toy.as_dict()["batch_norm"] is False and toy.as_dict()["activation"] == "relu"
    generator, critic = training.build_networks(toy)
    assert [type(m).__name__ for m in critic] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    with pytest.raises(ValueError, match="activation"):
        GANConfig(data="spiral", activation="tanh")


def test_cache_hash_is_stable_and_sensitive(tmp_path):
    a = {"n_iter": 5, "data": "spiral"}
    assert cache.config_hash(a) == cache.config_hash({"data": "spiral", "n_iter": 5})
    assert cache.config_hash(a) != cache.config_hash(a | {"n_iter": 6})
    path = cache.entry_path("kind", a, tmp_path)
    cache.save_entry(path, a, {"x": torch.arange(3)})
    assert torch.equal(cache.load_entry(path, a)["x"], torch.arange(3))
    with pytest.raises(cache.CorruptCacheEntry, match="another configuration"):
        cache.load_entry(path, a | {"n_iter": 6})
    assert not list(path.parent.glob("*.tmp"))
