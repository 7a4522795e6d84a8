"""Pilot: how many iterations the toy references (WGAN with clipping, WGAN-GP at the toy code's λ = 0.1, and the
manifold-alignment chapter's minimax and −log D GANs) need to pass the chapters' mode gates.

    python bench/toy_reference_pilot.py [--data eight_gaussians] [--objectives wgan wgan_gp_toy] [--seeds 200 201]
                                        [--width 128] [--iters wgan=10000 wgan_gp_toy=4000] [--snapshots 10]
                                        [--latent-dim 2] [--warmup] [--device cpu]

Trains each objective at the settings the chapters use (3 hidden ReLU layers of ``--width``, no batch norm, batch 256;
WGAN: RMSprop 5e-5, clip 0.01, 5 critic steps, uniform 2-d latent as in Fig. 1 of paper 000/001; WGAN-GP: Adam 1e-4,
β = (0.5, 0.9), 5 critic steps, Gaussian 2-d latent; minimax and −log D: the manifold-alignment chapter's Adam
settings: RMSprop 1e-3, one critic step, Gaussian 2-d latent), with ``--warmup`` Arjovsky et al.'s critic warm-up
(100 critic steps for the first 25 generator iterations and every 500th; ``GANConfig.critic_warmup``), batched over
held-out seeds (the chapters evaluate seeds 0–4 and select on 100–102), in a results cache of its own, and prints at
every snapshot the gate measurements of :func:`lsgan_lib.chapters.manifold_alignment.support_statistics` — modes covered
(≥ 20 of 2,500 samples on the support: within 3σ of a centre, or within 0.1 of the circle in R^10 cut into 12 arcs) and
the on-support ("high-quality") share — and on the Gaussian mixtures also the modes covered within 0.1 of a centre (the
level-set chapter's WGAN gate before 2026-12-04) and the level-set chapter's learned gate — the mean distance of the
samples to 2,500 data points over that of the same generator at iteration 0 (:func:`lsgan_lib.measure.metrics.
support_distance_ratio`, the data drawn as the chapter draws them), with the wall time per run-iteration.
``--latent-dim 1`` trains the 1-d latent of the level-set chapter's Fig. 1 (Gaussian noise, as the chapter). The
chapters' ``cpu`` iterations are set from this table (bench/README.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.data import distributions
from lsgan_lib.chapters.manifold_alignment import support_statistics  # noqa: E402
from lsgan_lib.chapters import level_set as ls  # noqa: E402
from lsgan_lib.train.batched import train_sweep  # noqa: E402
from lsgan_lib.measure.metrics import support_distance_ratio  # noqa: E402
from lsgan_lib.train.toy import GANConfig  # noqa: E402

# the references' settings, as the chapters set them (level_set: REFERENCE; manifold_alignment: its toy configs)
SETTINGS = {
    "wgan": dict(lr=5e-5, n_critic=5, latent="uniform"),
    "wgan_gp_toy": dict(lr=1e-4, n_critic=5, latent="gaussian"),
    "minimax": dict(lr=1e-3, n_critic=1, latent="gaussian"),
    "non_saturating": dict(lr=1e-3, n_critic=1, latent="gaussian"),
}


def parse_iters(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in SETTINGS or not value.isdigit():
            raise SystemExit(f"--iters takes OBJECTIVE=N with OBJECTIVE in {sorted(SETTINGS)}, got {item!r}")
        out[name] = int(value)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="eight_gaussians",
                        choices=["eight_gaussians", "twenty_five_gaussians", "circle_r10"])
    parser.add_argument("--objectives", nargs="+", default=["wgan", "wgan_gp_toy"], choices=sorted(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[200, 201])
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--iters", nargs="+", default=["wgan=10000", "wgan_gp_toy=4000"])
    parser.add_argument("--snapshots", type=int, default=10)
    parser.add_argument("--lr", type=float, default=None, help="override every objective's learning rate")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="torch device of the training, e.g. cuda (default cpu)")
    parser.add_argument("--latent-dim", type=int, default=2, choices=(1, 2),
                        help="latent dimension (1: Gaussian noise, the level-set chapter's Fig. 1 left panel)")
    parser.add_argument("--warmup", action="store_true", help="Arjovsky et al.'s critic warm-up (critic objectives)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    iters = parse_iters(args.iters)
    manifold = distributions.data_manifold(args.data)
    near = 0.1
    # the data the level-set chapter's learned gate measures against (its notebook draws them so)
    support_points = manifold.sample(2500, torch.Generator().manual_seed(12345))
    with tempfile.TemporaryDirectory() as results:
        for name in args.objectives:
            n = iters.get(name, 4000)
            snaps = ls.snapshot_schedule(n, args.snapshots)
            latent = {"latent": "gaussian"} if args.latent_dim == 1 else {}
            configs = [GANConfig(data=args.data, latent_dim=args.latent_dim, objective=name, batch_size=256,
                                 lr_decay=1.0, widths=(args.width,) * 3, batch_norm=False, activation="relu",
                                 n_eval=2500, seed=s, n_iter=n, snapshots=snaps, critic_warmup=args.warmup,
                                 **(SETTINGS[name] | ({"lr": args.lr} if args.lr else {}) | latent))
                       for s in args.seeds]
            started = time.perf_counter()
            runs = train_sweep(configs, device=args.device, progress=False, results_root=Path(results), desc=name)
            wall = time.perf_counter() - started
            print(f"\n# {name} on {args.data}, lr {configs[0].lr:g}, width {args.width} x 3, {n} iterations, "
                  f"{configs[0].latent} {args.latent_dim}-d latent, "
                  + ("critic warm-up, " if args.warmup else "") +
                  f"seeds {args.seeds}: {wall:.0f} s "
                  f"({1e3 * wall / (n * len(configs)):.1f} ms per run-iteration, {args.threads} thread(s), batched, "
                  f"{args.device})")
            n_modes = support_statistics(args.data, runs[0].final)["n_modes"]
            print(f"| iteration | modes covered per seed (of {n_modes}) | on-support share per seed "
                  f"| modes within {near:g} per seed | learned ratio per seed (level_set's gate: ≤ 0.25) |")
            print("|---:|---|---|---|---|")
            for it in runs[0].snapshot_iters:
                stats = [support_statistics(args.data, r.at(it)) for r in runs]
                if manifold.centres:
                    near_modes, _ = ls.mode_summary([r.at(it) for r in runs], manifold.centres, manifold.std, 20,
                                                    near / manifold.std)
                    near_text = ", ".join(str(int(v)) for v in near_modes)
                else:
                    near_text = "–"
                modes = ", ".join(str(int(s["modes_covered"])) for s in stats)
                shares = ", ".join(f"{s['high_quality']:.2f}" for s in stats)
                ratios = ", ".join(f"{support_distance_ratio(r.at(it), r.at(0), support_points):.3f}" for r in runs)
                print(f"| {it} | {modes} | {shares} | {near_text} | {ratios} |", flush=True)


if __name__ == "__main__":
    main()
