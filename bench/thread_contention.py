"""Benchmark: a small toy loop run in a notebook kernel, at one and two torch threads, on a quiet machine and while
another process holds a core.

Why: manifold_alignment's 2026-12-05 execution spent ≈ 60 of its 121 minutes in Sec. 4.2's continuations, which the
kernel runs itself (not on a Dask worker): ≈ 170 ms per critic step instead of ≈ 3 ms while another process ran on the
second of the machine's two cores. The kernel's torch used two threads. This script measures that step — one minimax
discriminator step of Sec. 4.2 (:func:`lsgan_lib.chapters.manifold_alignment._minimax_critic_step`: 3 × ``width`` ReLU
nets, batch 256, Adam) — at 1 and 2 threads, with the machine otherwise quiet and beside a competitor: a process that
spins on one core at normal priority, or under ``SCHED_IDLE`` (the lowest, as ``chrt -i 0`` gives). It prints
milliseconds per step (median of ``--repeats`` blocks of ``--steps`` steps). Since this benchmark, under
``lsgan-book run --scheduler`` the continuations run on a Dask worker (one torch thread in the book's recipe) instead
of in the kernel (:func:`lsgan_lib.chapters.manifold_alignment.continue_against_critic`).

    python bench/thread_contention.py [--width 128] [--steps 200] [--repeats 3]

Needs at least 2 cores, and nothing else running (the "quiet" rows assume it).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _competitor(idle: bool) -> subprocess.Popen:
    """The competitor: a pure-Python busy loop in a process of its own (``SCHED_IDLE`` when ``idle``)."""
    lowest = "import os; os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n" if idle else ""
    return subprocess.Popen([sys.executable, "-c", lowest + "while True:\n    pass\n"])


def _time_steps(threads: int, width: int, steps: int, repeats: int) -> float:
    """Median milliseconds per Sec. 4.2 critic step over ``repeats`` blocks of ``steps`` steps, at ``threads``."""
    from lsgan_lib.chapters import manifold_alignment as ma
    from lsgan_lib.data.distributions import data_manifold
    from lsgan_lib.train.config import build_networks, random_stream

    config = dataclasses.replace(ma.pretraining_config(900, 1, width), data="eight_gaussians")
    generator, critic = build_networks(config)
    optimizer = ma._adam(critic.parameters(), 2e-4)
    data, stream = data_manifold("eight_gaussians"), random_stream(900, 10, torch.device("cpu"))
    blocks, before = [], torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for _ in range(5):  # warm-up
            ma._minimax_critic_step(generator, critic, optimizer, data, 256, config.latent_dim, stream)
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                ma._minimax_critic_step(generator, critic, optimizer, data, 256, config.latent_dim, stream)
            blocks.append(1000 * (time.perf_counter() - start) / steps)
    finally:
        torch.set_num_threads(before)
    return statistics.median(blocks)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=128, help="the nets' width (the cpu profile's: 128)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("thread_contention.py: needs at least 2 cores (it compares 1 and 2 threads beside a "
                         "competitor on the other core)")
    print(f"Sec. 4.2 critic step, 3 × {args.width} ReLU, batch 256; torch {torch.__version__}, "
          f"{os.cpu_count()} cores; ms per step (median of {args.repeats} × {args.steps} steps)")
    print(f"{'competitor on another core':<34} {'1 thread':>9} {'2 threads':>10}")
    for label, competitor in (("none (quiet)", None), ("busy loop, normal priority", False),
                              ("busy loop, SCHED_IDLE", True)):
        process = _competitor(competitor) if competitor is not None else None
        if process is not None:
            time.sleep(1.0)
        try:
            times = [_time_steps(n, args.width, args.steps, args.repeats) for n in (1, 2)]
        finally:
            if process is not None:
                process.kill()
                process.wait()
        print(f"{label:<34} {times[0]:>9.2f} {times[1]:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
