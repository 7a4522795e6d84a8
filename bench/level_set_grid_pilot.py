"""Pilot: does the level-set chapter's *learned gate* separate the Level Set GAN's learning rates 1e-3 and 1e-4?

    python bench/level_set_grid_pilot.py [--lrs 1e-4 3e-4 1e-3] [--n-gens 2 5] [--seeds 300] [--width 128]
                                         [--iters 3000] [--snapshots 6] [--threads 1]

Trains Level Set GANs as the chapter builds them (Algorithm 1 with Eq. (4): one critic step, n_gen generator steps,
RMSprop at ``lr``, 3 × ``--width`` ReLU MLPs, batch 256, 2-d uniform latent, 8 Gaussians), batched per n_gen over the
learning rates and held-out seeds (the chapter evaluates seeds 0–9 and selects on 100–102; this pilot uses 300 on),
in a throw-away cache, and prints at every snapshot each run's learned-gate measurement — the mean distance of its
samples to the data (2,500 held-out data points) over that of the same generator at initialisation
(:func:`lsgan_lib.measure.metrics.support_distance_ratio`) — beside the modes covered and the high-quality share,
with the wall time per run-iteration (the chapter's cost estimate is built from it).

**Rule, fixed before the first run (2026-12-04):** the chapter's learned gate is a ratio ≤ 0.25 at the last snapshot.
It *separates* lr 1e-3 from lr 1e-4 as the review of issue 30 says if, at every n_gen piloted and every seed, the run
at lr 1e-3 passes (≤ 0.25) and the run at lr 1e-4 fails (> 0.25). Otherwise the review's observation is not borne out
by the gate (recorded as such; the gate is kept: it certifies training, not the review's reading).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.chapters import level_set as ls  # noqa: E402
from lsgan_lib.data import distributions  # noqa: E402
from lsgan_lib.measure.metrics import support_distance_ratio  # noqa: E402
from lsgan_lib.train.batched import train_sweep  # noqa: E402
from lsgan_lib.train.toy import GANConfig  # noqa: E402

LEARNED = 0.25  # the chapter's learned gate (fixed before the run, see the docstring)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lrs", nargs="+", type=float, default=[1e-4, 3e-4, 1e-3])
    parser.add_argument("--n-gens", nargs="+", type=int, default=[2, 5])
    parser.add_argument("--seeds", nargs="+", type=int, default=[300])
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--iters", type=int, default=3000)
    parser.add_argument("--snapshots", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if set(args.seeds) & (set(range(10)) | {100, 101, 102}):
        raise SystemExit("use held-out seeds: the chapter evaluates 0-9 and selects on 100-102")
    torch.set_num_threads(args.threads)
    eight = distributions.data_manifold("eight_gaussians")
    data = eight.sample(2500, torch.Generator().manual_seed(12345))
    snaps = ls.snapshot_schedule(args.iters, args.snapshots)
    outcome = []
    with tempfile.TemporaryDirectory() as results:
        for n_gen in args.n_gens:
            configs = [GANConfig(data="eight_gaussians", latent="uniform", latent_dim=2, objective="level_set",
                                 batch_size=256, lr=lr, lr_decay=1.0, n_critic=1, n_gen=n_gen,
                                 widths=(args.width,) * 3, batch_norm=False, activation="relu", n_eval=2500, seed=s,
                                 n_iter=args.iters, snapshots=snaps) for lr in args.lrs for s in args.seeds]
            started = time.perf_counter()
            runs = train_sweep(configs, device="cpu", progress=False, results_root=Path(results),
                               desc=f"n_gen {n_gen}", record_divergence=True)
            wall = time.perf_counter() - started
            print(f"\n# Level Set GAN, n_gen {n_gen}, width {args.width} x 3, {args.iters} iterations, lrs {args.lrs}, "
                  f"seeds {args.seeds}: {wall:.0f} s ({1e3 * wall / (args.iters * len(configs)):.2f} ms per "
                  f"run-iteration, K = {len(configs)}, {args.threads} thread(s))", flush=True)
            print("| iteration | " + " | ".join(f"lr {c.lr:g}, seed {c.seed}: ratio (modes, hq)" for c in configs)
                  + " |")
            print("|---:|" + "---|" * len(configs))
            for it in runs[0].snapshot_iters:
                cells = []
                for r in runs:
                    ratio = support_distance_ratio(r.at(it), r.snapshots[0], data)
                    modes, quality = ls.mode_summary([r.at(it)], eight.centres, eight.std, 20)
                    cells.append(f"{ratio:.3f} ({int(modes[0])}, {float(quality[0]):.2f})")
                print(f"| {it} | " + " | ".join(cells) + " |", flush=True)
            for c, r in zip(configs, runs):
                outcome.append((n_gen, c.lr, c.seed, support_distance_ratio(r.final, r.snapshots[0], data)))
    hi, lo = max(args.lrs), min(args.lrs)
    separated = all((ratio <= LEARNED) == (lr == hi) for n_gen, lr, s, ratio in outcome if lr in (hi, lo))
    print(f"\nRule: lr {hi:g} passes (ratio <= {LEARNED}) and lr {lo:g} fails at every n_gen and seed: "
          f"{'SEPARATED' if separated else 'NOT SEPARATED'}")


if __name__ == "__main__":
    main()
