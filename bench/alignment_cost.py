"""Bench (issue 28): the CPU cost of one member-iteration of every run the manifold-alignment chapter trains at the
`cpu` profile's shape (3 × 128 ReLU nets, He-uniform, batch 256 unless stated), for the cost estimate in
``notebooks/profiles/cpu.yml``.

Each kind is trained from scratch in a throw-away results cache (``--results``) as the chapter trains it: ``K`` seeds
batched into one model (:func:`lsgan_lib.train.batched.train_batched`), ``--iters`` iterations, one torch thread. The
time is the process's **CPU time** (``time.process_time``), not the wall time, so a machine shared with other jobs
inflates it less (cache contention still does: read it as an upper bound); it includes the snapshots at iteration 0
and at the end, so short runs overstate the per-iteration cost a little. A benchmark that prints a table: nothing here
passes or fails.

    python bench/alignment_cost.py [--iters 20] [--members 10] [--w2-1024-members 2] [--results /tmp/ma-cost]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.train.batched import train_batched  # noqa: E402
from lsgan_lib.train.config import GANConfig  # noqa: E402

DCGAN = dict(optimizer="adam", adam_betas=(0.5, 0.999), lr=2e-4)
KINDS = {  # label: (data, objective, batch size, critic steps, optimizer settings)
    "minimax": ("eight_gaussians", "minimax", 256, 1, DCGAN),
    "non_saturating": ("eight_gaussians", "non_saturating", 256, 1, DCGAN),
    "minimax_gp_toy (λ 0.1)": ("eight_gaussians", "minimax_gp_toy", 256, 1, DCGAN),
    "wgan_gp_toy (5 critic steps)": ("eight_gaussians", "wgan_gp_toy", 256, 5, dict(lr=1e-4)),
    "w2 B = 256": ("eight_gaussians", "w2_minibatch_ot", 256, 1, dict(lr=1e-3)),
    "w2 B = 1024": ("eight_gaussians", "w2_minibatch_ot", 1024, 1, dict(lr=1e-3)),
    "minimax, circle in R^10": ("circle_r10", "minimax", 256, 1, DCGAN),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--w2-1024-members", type=int, default=2)
    parser.add_argument("--results", type=Path, default=Path("/tmp/ma-cost"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print("| run | K | iterations | CPU s | CPU ms per member-iteration |\n|---|---|---|---|---|")
    for label, (data, name, batch, n_critic, settings) in KINDS.items():
        k = args.w2_1024_members if batch == 1024 else args.members
        configs = [GANConfig(data=data, objective=name, n_iter=args.iters, batch_size=batch, lr_decay=1.0,
                             n_critic=n_critic, widths=(128, 128, 128), batch_norm=False, activation="relu",
                             snapshots=(0, args.iters), n_eval=2500, seed=900 + s, init="he_uniform", **settings)
                   for s in range(k)]
        start = time.process_time()
        train_batched(configs, "cpu", progress=False, results_root=args.results / label.replace(" ", "_"))
        seconds = time.process_time() - start
        print(f"| {label} | {k} | {args.iters} | {seconds:.1f} | {1000 * seconds / (k * args.iters):.1f} |", flush=True)


if __name__ == "__main__":
    main()
