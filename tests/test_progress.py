"""Progress bars: none when nothing ran (cache hits), one printed line instead of a widget in ``summary`` mode."""

import pytest
import tqdm.auto

from lsgan_lib.train.batched import train_batched
from lsgan_lib.train.toy import GANConfig, ProgressBar, train_gan, train_runs

TINY = dict(data="eight_gaussians", latent_dim=2, n_iter=60, batch_size=16, widths=(8, 8), snapshots=(0, 60),
            n_eval=32, seed=0)


@pytest.fixture
def bars(monkeypatch):
    """Every tqdm bar created, by its total."""
    created = []

    class Recording(tqdm.auto.tqdm):
        def __init__(self, *args, **kwargs):
            created.append(kwargs.get("total"))
            super().__init__(*args, **kwargs, disable=True)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    monkeypatch.setenv("LSGAN_PROGRESS", "bar")
    return created


def test_a_bar_appears_when_training_runs_and_not_when_the_cache_answers(bars):
    train_gan(GANConfig(**TINY))
    assert bars == [60]
    train_gan(GANConfig(**TINY))  # a cache hit: no bar at 0%
    assert bars == [60]
    train_batched([GANConfig(**TINY)])  # batched runs are cached per batch (batched.batch_keys): this one trains
    assert bars == [60, 60]
    train_batched([GANConfig(**TINY)])  # and now answers from the cache
    assert bars == [60, 60]


def test_a_shared_bar_counts_only_the_runs_that_train(bars):
    train_gan(GANConfig(**TINY))
    train_runs([GANConfig(**TINY), GANConfig(**TINY | {"seed": 1})])
    assert bars == [60, 60]  # the cached run was taken out of the total before the bar appeared


def test_summary_mode_prints_one_line_for_what_ran_and_nothing_for_cache_hits(monkeypatch, capsys, bars):
    monkeypatch.setenv("LSGAN_PROGRESS", "summary")
    train_gan(GANConfig(**TINY))
    first = capsys.readouterr().out
    assert first.count("\n") == 1 and "60 iterations in" in first
    train_gan(GANConfig(**TINY))
    train_runs([GANConfig(**TINY)])
    assert capsys.readouterr().out == ""
    assert bars == []  # no widget in summary mode


def test_progress_off_and_bad_modes(monkeypatch, capsys):
    bar = ProgressBar(10, "x", enabled=False)
    bar.update(10), bar.close()
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("LSGAN_PROGRESS", "loud")
    with pytest.raises(ValueError, match="LSGAN_PROGRESS"):
        ProgressBar(10, "x")


def test_skip_shrinks_the_total_and_close_prints_once(monkeypatch, capsys):
    monkeypatch.setenv("LSGAN_PROGRESS", "summary")
    bar = ProgressBar(100, "two runs")
    bar.skip(50)
    bar.update(50)
    assert bar.total == 50
    bar.close(), bar.close()
    assert capsys.readouterr().out.count("two runs: 50 iterations") == 1


def test_iterations_that_ran_on_a_worker_report_the_workers_time_not_the_wait(monkeypatch, capsys):
    monkeypatch.setenv("LSGAN_PROGRESS", "summary")
    bar = ProgressBar(2000, "a run on a worker")
    bar.ran_elsewhere(12.5)  # the task waited in the queue far longer than it ran
    assert bar.n == 2000
    bar.close()
    assert capsys.readouterr().out == "a run on a worker: 2,000 iterations in 12.5 s on Dask workers (160 it/s)\n"


def test_a_part_counts_its_share_of_a_shared_bar_here_and_on_a_worker(monkeypatch, capsys):
    monkeypatch.setenv("LSGAN_PROGRESS", "summary")
    bar = ProgressBar(30, "three seeds")
    first, second = bar.part(10), bar.part(10)
    first.update(4), first.update(20)  # never more than its share
    assert (first.n, bar.n) == (10, 10)
    second.update(3)
    second.ran_elsewhere(2.0)  # the rest of this seed ran on a worker
    assert (second.n, bar.n) == (10, 20)
    bar.close()
    assert capsys.readouterr().out == "three seeds: 20 iterations in 2.0 s on Dask workers (10 it/s)\n"
