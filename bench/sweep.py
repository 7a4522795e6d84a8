"""Benchmark: the same N-point sweep serially and on an embedded Dask LocalCluster.

    python bench/sweep.py [--chapter synthetic|CHAPTER] [--profile smoke] [--points 4] [--workers 2] [--n-iter 400]

Runs ``lsgan-book sweep``'s machinery (:mod:`lsgan_lib.book.sweep`) three times over ``--points`` seeds, each time from
an empty results cache: serially in this process (``--scheduler none``; the kernels use torch's default thread count,
all cores), serially with one torch thread per kernel (``--threads 1``), and on a ``LocalCluster`` of ``--workers``
processes with one thread each (each kernel then runs torch on one thread). It prints the wall time of each, the
speed-up over the first, the cluster's start-up time, the mean time per point as papermill measured it, and the overhead
per point: ``(wall on the cluster × workers − serial one-thread wall) / points``, the core-seconds per point
that distributing adds (cluster start, task transfers, idle workers at the end).

``--chapter synthetic`` (the default) sweeps a one-cell chapter written into a temporary project: it trains paper 002's
FC GAN (batch 256, RMSprop) for ``--n-iter`` iterations with ``train_sweep`` and shows one claim — the work of a toy
chapter without its plots. Any other name sweeps that chapter of this project at ``--profile`` over ``seeds=[[0],
[1], ...]`` (the chapters' seeds parameter). It is a benchmark that prints a table, not a timed test.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.book import parameters as profile_params
from lsgan_lib.book import sweep  # noqa: E402
from lsgan_lib.train import cluster as fanout  # noqa: E402

SYNTHETIC_PARAMETERS = """seed: int = 0  # [0, None] the run's seed
n_iter: int = 400  # [1, None] training iterations
profile: str = "smoke"
"""

SYNTHETIC_BODY = """from lsgan_lib.measure import claims
from lsgan_lib.train.batched import train_sweep
from lsgan_lib.train.toy import GANConfig

(run,) = train_sweep([GANConfig(data="nine_squares", n_iter=n_iter, snapshots=(n_iter,), seed=seed)], progress=False)
loss = float(run.losses[-1, 1])
claims.show_claims([claims.Claim("bench", "the generator's loss is finite", "last generator loss", f"{loss:.4g}",
                                 "finite", loss == loss, kind="numerical check")], profile, "cpu")
"""


def synthetic_project(folder: Path) -> Path:
    """A project with one chapter, ``synthetic`` (see the module docstring)."""
    import nbformat

    (folder / "notebooks" / "profiles").mkdir(parents=True)
    (folder / "_config.yml").write_text("title: sweep benchmark\n")
    (folder / "notebooks" / "profiles" / "smoke.yml").write_text("synthetic: {}\n")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(SYNTHETIC_PARAMETERS, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(SYNTHETIC_BODY)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, folder / "notebooks" / "synthetic.ipynb")
    return folder


def timed_sweep(root: Path, chapter: str, profile: str, points, out: Path, workers: int | None, scheduler: str | None,
                threads: int | None) -> dict:
    """Execute the points once from an empty results cache; wall time, cluster start-up and per-point times."""
    os.environ["LSGAN_RESULTS"] = str(out / "results")  # before the cluster starts: its workers inherit it
    started = time.perf_counter()
    with fanout.open_client(workers, scheduler) as client:
        up = time.perf_counter() - started
        results = sweep.run_points(root, chapter, profile, points, out / "points", client, threads, progress=False)
    wall = time.perf_counter() - started
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} point(s) failed, e.g. {failed[0].name}: {failed[0].message}")
    return {"wall": wall, "start": up, "per_point": statistics.mean(r.seconds for r in results)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chapter", default="synthetic")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--points", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n-iter", type=int, default=400, help="training iterations of the synthetic chapter")
    args = parser.parse_args(argv)
    import torch

    with tempfile.TemporaryDirectory(prefix="lsgan-bench-sweep-") as scratch:
        scratch = Path(scratch)
        if args.chapter == "synthetic":
            root = synthetic_project(scratch / "project")
            grids, overrides = {"seed": list(range(args.points))}, [(None, "n_iter", args.n_iter)]
        else:
            root = profile_params.project_root(Path(__file__).resolve().parent.parent)
            grids, overrides = {"seeds": [[s] for s in range(args.points)]}, []
        points = sweep.plan_points(root, args.chapter, args.profile, overrides, grids)
        saved = os.environ.get("LSGAN_RESULTS")
        load = os.getloadavg()[0]
        try:
            serial = timed_sweep(root, args.chapter, args.profile, points, scratch / "serial", None, "none", None)
            serial_one = timed_sweep(root, args.chapter, args.profile, points, scratch / "serial1", None, "none", 1)
            dask = timed_sweep(root, args.chapter, args.profile, points, scratch / "dask", args.workers, None, 1)
        finally:
            if saved is None:
                os.environ.pop("LSGAN_RESULTS", None)
            else:
                os.environ["LSGAN_RESULTS"] = saved
    n = len(points)
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores; torch {torch.__version__}; "
          f"load average before: {load:.2f}, after: {os.getloadavg()[0]:.2f}")
    print(f"- chapter: {args.chapter} at {args.profile}"
          + (f" ({args.n_iter} iterations of paper 002's FC GAN per point)" if args.chapter == "synthetic" else "")
          + f"; {n} points; each from an empty results cache")
    print()
    print("| executor | wall (s) | cluster start (s) | mean per point, papermill (s) | speed-up over serial | "
          "speed-up over serial, 1 thread | overhead per point (core-s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| serial (`--scheduler none`, torch threads: all {os.cpu_count()}) | {serial['wall']:.1f} | – | "
          f"{serial['per_point']:.1f} | 1.00× | {serial_one['wall'] / serial['wall']:.2f}× | – |")
    print(f"| serial, torch threads: 1 (`--threads 1`) | {serial_one['wall']:.1f} | – | "
          f"{serial_one['per_point']:.1f} | "
          f"{serial['wall'] / serial_one['wall']:.2f}× | 1.00× | – |")
    overhead = (dask["wall"] * args.workers - serial_one["wall"]) / n
    print(f"| LocalCluster, {args.workers} workers × 1 thread | {dask['wall']:.1f} | {dask['start']:.1f} | "
          f"{dask['per_point']:.1f} | {serial['wall'] / dask['wall']:.2f}× | "
          f"{serial_one['wall'] / dask['wall']:.2f}× | "
          f"{overhead:.1f} |")


if __name__ == "__main__":
    main()
