"""The default-off GANConfig options of paper 002's translation (issue 31): the critic's batch norm, the loss
reduction, and the batch statistics with which snapshots are drawn."""

import pytest
import torch

from lsgan_lib.train.batched import StackedFC, train_batched
from lsgan_lib.train.toy import GANConfig, build_networks

ORIGINAL = dict(data="uniform_square", latent="unit_square", objective="non_saturating", critic_update="split",
                rmsprop_alpha=0.9, rmsprop_eps=1.0, weight_decay=5e-4, lr_decay_every=100)


def test_the_options_are_default_off_and_leave_earlier_cache_keys_alone():
    plain = GANConfig(data="spiral")
    for name in ("critic_batch_norm", "loss_reduction", "sample_statistics"):
        assert name not in plain.as_dict()
    chosen = GANConfig(data="spiral", critic_batch_norm="none", loss_reduction="sum", sample_statistics="batch")
    assert {k: chosen.as_dict()[k] for k in ("critic_batch_norm", "loss_reduction", "sample_statistics")} == {
        "critic_batch_norm": "none", "loss_reduction": "sum", "sample_statistics": "batch"}


@pytest.mark.parametrize("bad", [dict(critic_batch_norm="layer"), dict(loss_reduction="max"),
                                 dict(sample_statistics="eval"), dict(batch_norm=False, critic_batch_norm="running"),
                                 dict(batch_norm=False, sample_statistics="batch")])
def test_unknown_or_contradictory_options_are_refused(bad):
    with pytest.raises(ValueError):
        GANConfig(data="spiral", **bad)


def test_a_critic_without_batch_norm_keeps_the_generators():
    generator, critic = build_networks(GANConfig(data="spiral", critic_batch_norm="none"))
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in generator)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in critic)


def test_a_critic_with_running_statistics_sees_location_where_batch_statistics_do_not():
    _, net = build_networks(GANConfig(data="spiral"))
    x = torch.randn(1, 256, 2, generator=torch.Generator().manual_seed(0))
    shifted = x + torch.tensor([3.0, -2.0])
    batch = StackedFC([net])
    running = StackedFC([net], statistics="running")
    assert (batch(shifted) - batch(x)).abs().max() < 1e-3  # normalised away by the batch's own statistics
    before = running.buffers.clone()
    assert (running(shifted) - running(x)).abs().max() > 1e-2
    assert not torch.equal(running.buffers, before)  # both passes updated the shared running statistics


def test_the_summed_loss_is_the_mean_loss_times_the_batch(tmp_path):
    """With a vanishing learning rate (the updates do not change the next losses) the recorded losses scale by B."""
    mean, summed = (train_batched([GANConfig(**{**ORIGINAL, "lr": 1e-12}, seed=5, n_iter=3, snapshots=(3,),
                                             n_eval=100, loss_reduction=r)], progress=False,
                                  results_root=tmp_path / r)[0] for r in ("mean", "sum"))
    assert torch.allclose(summed.losses, mean.losses * 256, rtol=1e-4)


def test_the_untrained_control_is_drawn_with_batch_statistics_and_spreads(tmp_path):
    """Issue 31, bug 3: in eval mode the untrained generator's running statistics are still 0 and 1, so its
    iteration-0 samples collapse to a point; drawn as the authors' code draws (training mode, the batch's statistics)
    they spread, and drawing them changes neither the running statistics nor the training."""
    common = dict(**ORIGINAL, seed=7, n_iter=2, snapshots=(0, 2), n_eval=500)
    point, spread = (train_batched([GANConfig(**common, sample_statistics=s)], progress=False,
                                   results_root=tmp_path / s)[0]
                     for s in ("running", "batch"))
    assert float(point.snapshots[0].std(dim=0).max()) < 0.01
    assert float(spread.snapshots[0].std(dim=0).min()) > 0.1
    assert torch.equal(point.losses, spread.losses)  # the snapshots do not disturb training
    for name, value in point.generator.state_dict().items():
        assert torch.equal(value, spread.generator.state_dict()[name]), name
    assert spread.grid_images[0].std(dim=0).min() > 0.05  # the grid is normalised with the batch's statistics too
