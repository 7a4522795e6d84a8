"""`lsgan-book sweep` and training fanned out on Dask, on LocalClusters inside the suite (smoke sizes, 2 workers).

The sweeps run a tiny fixture chapter (a parameters cell, a small train_sweep, three claims shown with show_claims) in
a fixture project, so they test the sweep machinery whatever state the book's chapters are in."""

import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from lsgan_lib.train import batched
from lsgan_lib.book import cli, overview, parameters as profile_params
from lsgan_lib.book import sweep
from lsgan_lib.train import cluster as fanout
from lsgan_lib.train.images import AutoencoderConfig, ImageGANConfig, train_image_runs
from lsgan_lib.train.toy import GANConfig

from .test_image_training import TINY, tiny_mnist  # noqa: F401  (a fixture: 64 MNIST digits in LSGAN_DATA)

AE = dict(dataset="mnist", width=16, latent_dim=3, n_iter=5, batch_size=8, image_size=16)

PARAMETERS = """x: int = 0  # [0, 3] a swept value
y: int = 0  # [0, 3] another swept value
n_iter: int = 4  # [1, 100] training iterations
fail_if_exists: str = ""  # when this file exists the point (1 1) raises
kill_worker_marker: str = ""  # when set and this file is missing: create it and kill the kernel's parent (a worker)
protect_pid: int = 0  # [0, None] a process the kill must never hit (the test's)
profile: str = "smoke"
"""

BODY = """import os, signal
from lsgan_lib.measure import claims
from lsgan_lib.train.batched import train_sweep
from lsgan_lib.train.toy import GANConfig

runs = train_sweep([GANConfig(data="eight_gaussians", n_iter=n_iter, batch_size=64, widths=(16, 16), n_eval=50,
                              snapshots=(n_iter,), seed=s) for s in (x, x + 1)], progress=False)
loss = float(runs[0].losses[-1, 1])
if fail_if_exists and os.path.exists(fail_if_exists) and (x, y) == (1, 1):
    raise RuntimeError("fixture: made to fail")
if kill_worker_marker and not os.path.exists(kill_worker_marker) and os.getppid() not in (protect_pid, 1):
    open(kill_worker_marker, "w").close()
    os.kill(os.getppid(), signal.SIGKILL)  # the Dask worker that runs this point dies mid-point
    os._exit(1)
gate = claims.gate("finite loss", "the generator's last loss", [loss], -1e9, ">=",
                   independence="a fixture's gate: any finite loss passes, whatever the claim finds")
claims.show_claims([
    claims.Claim("Fixture", "x + y is what was asked", "x + y", str(x + y), "= x + y", True, kind="by construction"),
    claims.Claim("Fixture", "the loss is below 10", "generator loss", f"{loss:.7g}", "< 10", loss < 10,
                 kind="empirical", gates=(gate,), quote="Fixture, Sec. 1: 'the loss stays small.'"),
    claims.Claim("Fixture", "x is even", "x mod 2", str(x % 2), "= 0", x % 2 == 0, kind="numerical check"),
], profile, "cpu")
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project with one chapter, `fixture`, and a smoke profile; the working directory."""
    root = tmp_path / "project"
    (root / "notebooks" / "profiles").mkdir(parents=True)
    (root / "_config.yml").write_text("title: fixture\n")
    (root / "notebooks" / "profiles" / "smoke.yml").write_text("fixture:\n  n_iter: 3\n")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Fixture"),
        nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(BODY),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, root / "notebooks" / "fixture.ipynb")
    monkeypatch.chdir(root)
    # "none" (no client), and restored after the test even when `run --scheduler` sets it (delenv of an unset
    # variable would restore nothing)
    monkeypatch.setenv(fanout.SCHEDULER_ENV, "none")
    return root


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_grids_points_and_names(project):
    grids = sweep.parse_grids(["x=[0, 1]", "y=[2, 3]"])
    points = sweep.plan_points(project, "fixture", "smoke", [], grids)
    assert [p.name for p in points] == ["x=0__y=2", "x=0__y=3", "x=1__y=2", "x=1__y=3"]
    assert points[3].parameters | {} == {"x": 1, "y": 3, "n_iter": 3, "fail_if_exists": "", "kill_worker_marker": "",
                                         "protect_pid": 0, "profile": "smoke"}
    assert sweep.point_name({"lr": 1e-4, "seeds": [0, 1], "obj": "wgan_gp"}) == "lr=0.0001__seeds=0-1__obj=wgan_gp"
    for bad, match in [(["x=1"], "non-empty list"), (["x=[]"], "non-empty list"), (["x=[0, 0]"], "repeats"),
                       (["x=[0]", "x=[1]"], "twice"), (["x"], "name=")]:
        with pytest.raises(profile_params.ParameterError, match=match):
            sweep.parse_grids(bad)


@pytest.mark.parametrize("grid, match", [("x=[0, 9]", "point x=9: parameter 'x': 9"),
                                         ("z=[0, 1]", "point z=0: unknown parameter 'z'"),
                                         ("x=[0, 'a']", "point x=a: parameter 'x'")])
def test_a_bad_grid_value_exits_2_before_any_worker_starts(project, monkeypatch, capsys, grid, match):
    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started for a sweep with a bad point")

    monkeypatch.setattr(sweep, "open_client", no_cluster)
    assert cli.main(["sweep", "fixture", "--profile", "smoke", "--grid", grid, "--workers", "2"]) == 2
    assert match in capsys.readouterr().err
    assert not (project / "sweeps").exists()


@pytest.mark.slow
def test_a_sweep_on_two_workers_equals_the_serial_sweep_resumes_and_survives_a_failing_point(project, tmp_path,
                                                                                              capsys):
    marker = tmp_path / "fail"
    marker.touch()
    args = ["sweep", "fixture", "--profile", "smoke", "--grid", "x=[0, 1]", "--grid", "y=[0, 1]",
            "-p", f"fail_if_exists={marker}"]
    out = project / "sweeps" / "fixture"
    # one point raises: the other three complete, the failure is reported with its cell, the exit status is 1
    assert cli.main(args + ["--workers", "2", "--name", "dask"]) == 1
    err = capsys.readouterr().err
    assert "x=1__y=1: FAILED in cell 2 of notebooks/fixture.ipynb" in err and "fixture: made to fail" in err
    assert sorted(p.name for p in (out / "dask").glob("*.ipynb")) == [
        "x=0__y=0.ipynb", "x=0__y=1.ipynb", "x=1__y=0.ipynb", "x=1__y=1.failed.ipynb"]
    assert len(read_rows(out / "dask" / "claims.csv")) == 3 * 3
    assert "1 of 4 points failed" in (out / "dask" / "report.md").read_text()
    # the rerun executes only the failed point
    marker.unlink()
    assert cli.main(args + ["--workers", "2", "--name", "dask"]) == 0
    assert "4 point(s), 3 already done" in capsys.readouterr().out
    assert not (out / "dask" / "x=1__y=1.failed.ipynb").exists()
    assert cli.main(args + ["--workers", "2", "--name", "dask"]) == 0
    assert "4 point(s), 4 already done" in capsys.readouterr().out
    # the same points serially, at the workers' torch thread count: the same claims, value for value
    assert cli.main(args + ["--scheduler", "none", "--threads", "1", "--name", "serial"]) == 0
    distributed, serial = read_rows(out / "dask" / "claims.csv"), read_rows(out / "serial" / "claims.csv")
    assert len(distributed) == 4 * 3
    assert distributed == serial
    assert {r["verdict"] for r in serial if r["claim"] == "x is even"} == {"reproduced", "not reproduced"}
    report = (out / "dask" / "report.md").read_text()
    assert "| 3 | Fixture | x is even | numerical check | 50% | 50% | – | – |" in report
    assert (out / "dask" / "stability.png").is_file()
    provenance = json.loads((out / "dask" / "x=0__y=1.ipynb").read_text())["metadata"]["lsgan"]
    assert provenance["profile"] == "smoke" and provenance["parameters"]["y"] == 1


@pytest.mark.slow
def test_a_worker_killed_mid_point_is_rescheduled_and_leaves_nothing_half_written(project, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"  # the killed worker's scratch folders stay behind (a later run removes them)
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", None)
    marker = tmp_path / "killed-once"
    assert cli.main(["sweep", "fixture", "--profile", "smoke", "--grid", "x=[0, 2]", "--workers", "2",
                      "-p", f"kill_worker_marker={marker}", "-p", f"protect_pid={os.getpid()}"]) == 0
    assert marker.exists()  # a worker was killed while it ran a point
    out = project / "sweeps" / "fixture" / "smoke_x"
    assert sorted(p.name for p in out.iterdir()) == ["claims.csv", "report.md", "stability.png", "sweep.json",
                                                     "x=0.ipynb", "x=2.ipynb"]
    for name in ("x=0", "x=2"):
        assert sweep.completed(out / f"{name}.ipynb", "smoke", json.loads(
            (out / f"{name}.ipynb").read_text())["metadata"]["lsgan"]["parameters"])
    assert len(read_rows(out / "claims.csv")) == 2 * 3
    results = tmp_path / "results"
    assert not [p for p in results.rglob("*") if p.is_file() and not p.name.endswith(".pt")]  # no temporary files


@pytest.mark.slow
def test_training_under_a_client_equals_training_without_one_bit_for_bit(tiny_mnist, tmp_path, monkeypatch):
    from distributed import Client, LocalCluster, get_task_stream

    configs = [GANConfig(data="eight_gaussians", n_iter=6, batch_size=64, widths=(16, 16), n_eval=50,
                         snapshots=(0, 6), seed=s) for s in (0, 1)]
    configs += [GANConfig(data="spiral", n_iter=6, batch_size=64, widths=(16, 16), n_eval=50, snapshots=(6,), n_gen=2,
                          seed=3)]
    images = [ImageGANConfig(**TINY), ImageGANConfig(**TINY, seed=1), AutoencoderConfig(**AE)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' thread count: CPU products round differently with another
    try:
        serial = batched.train_sweep(configs, progress=False, results_root=tmp_path / "serial")
        serial_images = train_image_runs(images, progress=False, results_root=tmp_path / "serial")
    finally:
        torch.set_num_threads(threads)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        monkeypatch.setenv(fanout.SCHEDULER_ENV, cluster.scheduler_address)
        assert fanout.active_client() is client
        with get_task_stream(client) as stream:
            fanned = batched.train_sweep(configs, progress=False, results_root=tmp_path / "dask")
        assert sorted(t["key"].split("-")[0] for t in stream.data) == ["train_on_worker"] * 2  # one per shape group
        with get_task_stream(client) as stream:
            fanned_images = train_image_runs(images, progress=False, results_root=tmp_path / "dask")
        assert sorted(t["key"].split("-")[0] for t in stream.data) == ["train_on_worker"] * 3  # one per image run
    for a, b in zip(serial_images, fanned_images):
        assert a.config == b.config and not b.from_cache and torch.equal(a.losses, b.losses)
        nets = ("generator", "critic") if isinstance(a.config, ImageGANConfig) else ("encoder", "decoder")
        for x, y in [(getattr(a, "snapshots", a.losses), getattr(b, "snapshots", b.losses)),
                     *[(x, y) for net in nets for x, y in zip(getattr(a, net).state_dict().values(),
                                                               getattr(b, net).state_dict().values())]]:
            assert torch.equal(x, y)
    for a, b in zip(serial, fanned):
        assert a.config == b.config and not b.from_cache
        for x, y in [(a.losses, b.losses), (a.snapshots, b.snapshots), (a.grid_images, b.grid_images),
                     *zip(a.generator.state_dict().values(), b.generator.state_dict().values()),
                     *zip(a.critic.state_dict().values(), b.critic.state_dict().values())]:
            assert torch.equal(x, y)
    # this process wrote the cache: the same runs load from it without a cluster
    monkeypatch.delenv(fanout.SCHEDULER_ENV)
    again = batched.train_sweep(configs, progress=False, results_root=tmp_path / "dask")
    assert all(r.from_cache and torch.equal(r.losses, a.losses) for r, a in zip(again, serial))


def test_a_sweep_report_becomes_a_page_of_the_book_for_one_build(project):
    (project / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    report = project / "sweeps" / "fixture" / "quick_seed"
    report.mkdir(parents=True)
    (report / "report.md").write_text("# Verdict stability\n\n![map](stability.png)\n")
    (report / "stability.png").write_bytes(b"png")
    toc = sweep.stage_book_pages(project, ["fixture/quick_seed"])
    import yaml

    assert yaml.safe_load(toc.read_text())["parts"] == [{"caption": "Sweeps",
                                                          "chapters": [{"file": "book/sweeps/fixture-quick_seed"}]}]
    page = project / "book" / "sweeps" / "fixture-quick_seed.md"
    assert "(fixture-quick_seed.png)" in page.read_text() and page.with_suffix(".png").read_bytes() == b"png"
    sweep.unstage_book_pages(project)
    assert not (project / "book" / "sweeps").exists()
    with pytest.raises(FileNotFoundError, match="run `lsgan-book sweep fixture ... --name other`"):
        sweep.stage_book_pages(project, ["fixture/other"])


@pytest.mark.slow
def test_run_with_a_scheduler_trains_the_chapters_groups_on_the_cluster(project, tmp_path):
    from distributed import Client, LocalCluster, get_task_stream

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, get_task_stream(client) as stream:
        assert cli.main(["run", "fixture", "--profile", "smoke", "--output-dir", str(tmp_path / "out"),
                          "--scheduler", cluster.scheduler_address]) == 0
    assert [t["key"].split("-")[0] for t in stream.data] == ["train_on_worker"]  # the chapter's one shape group
    assert len(list((tmp_path / "results").rglob("*.pt"))) == 2  # its two runs, cached by the kernel
    assert len(overview.chapter_claims(tmp_path / "out" / "fixture.ipynb")) == 3


@pytest.mark.parametrize("n_points", [6, 30])
def test_the_verdict_map_reads_in_the_books_column(n_points):
    from lsgan_lib.measure.claims import VERDICTS
    from lsgan_lib.plots import text_layout_problems, verdict_map

    points = [f"seeds={i}__n_iter={n}" for i in range(n_points // 2) for n in (500, 1000)]
    rows = [{"point": p, "paper": "P", "claim": f"claim {k}", "verdict": VERDICTS[(j + k) % 4]}
            for j, p in enumerate(points) for k in range(5) if (j, k) != (0, 0)]  # one point lacks one claim
    fig = verdict_map(rows, points, title="a sweep")
    assert text_layout_problems(fig, clipped=False) == []
    panel = np.ma.filled(fig.axes[0].images[0].get_array(), np.nan)
    # rows in order of first appearance: claims 1-4, then claim 0 (missing at the first point: white)
    assert np.isnan(panel[4, 0]) and panel[4, 1] == 1 and panel[0, 0] == 1 and panel[3, 2] == 2


def test_the_sweeps_workers_and_kernels_run_without_dasks_malloc_trim_threshold(monkeypatch):
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers, which makes the toy trainer ≈ 1.8× slower
    # (bench/README.md); the sweep's LocalCluster workers and the kernels its points start must not have it.
    monkeypatch.setenv(fanout.MALLOC_ENV, "65536")
    with sweep._kernel_environment(1, fan_out=False):
        assert fanout.MALLOC_ENV not in os.environ
    assert os.environ[fanout.MALLOC_ENV] == "65536"  # restored for the worker itself
    monkeypatch.delenv(fanout.MALLOC_ENV)
    with fanout.open_client(1, None) as client:
        assert client.submit(os.environ.get, fanout.MALLOC_ENV, pure=False).result() is None
        assert client.submit(os.environ.get, "OMP_NUM_THREADS", pure=False).result() == "1"


def test_the_projects_dask_configuration_removes_the_nannys_malloc_trim_threshold():
    # The README's `dask worker` recipe exports DASK_CONFIG=<project>/dask-config; a nanny started under it must spawn
    # its workers without MALLOC_TRIM_THRESHOLD_ (the variable Dask sets by default; an environment-variable override of
    # the config key does not remove it, because Dask lower-cases keys read from the environment).
    root = Path(__file__).resolve().parents[1]
    probe = ("from distributed.nanny import _get_env_variables; "
             "print(sorted(_get_env_variables('distributed.nanny.pre-spawn-environ')))")

    def spawn_environment(**env):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("DASK_") and k != fanout.MALLOC_ENV}
        out = subprocess.run([sys.executable, "-c", probe], env=clean | env, capture_output=True, text=True, check=True)
        return out.stdout

    assert fanout.MALLOC_ENV in spawn_environment()  # Dask's default: the reason for the file
    unset_by_environment = {"DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__MALLOC_TRIM_THRESHOLD_": "None"}
    assert fanout.MALLOC_ENV in spawn_environment(**unset_by_environment)
    assert fanout.MALLOC_ENV not in spawn_environment(DASK_CONFIG=str(root / "dask-config"))
