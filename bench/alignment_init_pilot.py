"""Pilot (issue 28): does the WGAN-GP toy code's He-uniform initialisation change what the manifold-alignment chapter's
JSD GANs cover, at their DCGAN reference optimizer?

    python bench/alignment_init_pilot.py [--seeds 700 701 702 703 704 705] [--iters 3000] [--width 128]
                                         [--objectives minimax non_saturating] [--data eight_gaussians]

Trains each objective with Adam 2e-4, β = (0.5, 0.999), one D step (Radford et al.; Gulrajani et al.'s
``gan_mnist.py`` in ``dcgan`` mode), 3 hidden ReLU layers of ``--width``, batch 256, Gaussian 2-d latent, once with
PyTorch's default initialisation and once with ``init="he_uniform"`` (``gan_toy.py``'s), on held-out seeds (the
chapter evaluates 0–4 and, at ``cpu``, 0–9; other pilots used 100–102, 200 and 300+), in a results cache of its own.
Prints per run, at the last iteration and at initialisation: modes covered and on-support share (3σ, ≥ 20 of 2,500
samples, :func:`lsgan_lib.chapters.manifold_alignment.support_statistics`) and the share within 10σ of a centre (the
candidate "learned" gate), then per objective the mean difference he_uniform − default of modes covered with its 95%
bootstrap interval, and the wall time per member-iteration. The rule and outcome are in bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.chapters.manifold_alignment import near_support_share, support_statistics  # noqa: E402
from lsgan_lib.measure.claims import bootstrap_interval  # noqa: E402
from lsgan_lib.train.batched import train_sweep  # noqa: E402
from lsgan_lib.train.toy import GANConfig  # noqa: E402

DCGAN = dict(optimizer="adam", lr=2e-4, adam_betas=(0.5, 0.999), lr_decay=1.0, n_critic=1)
INITS = ("default", "he_uniform")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[700, 701, 702, 703, 704, 705])
    parser.add_argument("--iters", type=int, default=3000)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--objectives", nargs="+", default=["minimax", "non_saturating"])
    parser.add_argument("--data", default="eight_gaussians")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    configs = {(o, i, s): GANConfig(data=args.data, objective=o, n_iter=args.iters, batch_size=256,
                                    widths=(args.width,) * 3, batch_norm=False, activation="relu",
                                    snapshots=(0, args.iters), n_eval=2500, seed=s, init=i, **DCGAN)
               for o in args.objectives for i in INITS for s in args.seeds}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        runs = dict(zip(configs, train_sweep(list(configs.values()), device="cpu", progress=False, results_root=root,
                                             desc="init pilot")))
    seconds = time.perf_counter() - start
    print(f"{len(runs)} runs x {args.iters} iterations in {seconds:.0f} s: "
          f"{1e3 * seconds / (len(runs) * args.iters):.2f} ms per member-iteration (width {args.width})")
    print("objective | init | seed | modes (3σ) | share (3σ) | share within 10σ | at init: modes, share, 10σ share")
    modes = {}
    for (o, i, s), run in runs.items():
        final, start_ = support_statistics(args.data, run.final), support_statistics(args.data, run.at(0))
        near, near0 = near_support_share(args.data, run.final), near_support_share(args.data, run.at(0))
        modes.setdefault((o, i), []).append(final["modes_covered"])
        print(f"{o} | {i} | {s} | {final['modes_covered']:.0f} | {final['high_quality']:.2f} | {near:.2f} | "
              f"{start_['modes_covered']:.0f}, {start_['high_quality']:.2f}, {near0:.2f}")
    for o in args.objectives:
        he, default = np.array(modes[(o, "he_uniform")]), np.array(modes[(o, "default")])
        interval = bootstrap_interval(he - default)
        print(f"{o}: modes covered default {default.mean():.2f}, he_uniform {he.mean():.2f}; difference (paired by "
              f"seed) {interval.mean:+.2f}, 95% interval [{interval.low:+.2f}, {interval.high:+.2f}]")


if __name__ == "__main__":
    main()
