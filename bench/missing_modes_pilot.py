"""Pilot (issue 28, item 5): do the `cpu` profile's settings of Sec. 4.2's missing-modes test meet the test's premise?

Rule, fixed 2026-12-04 before the run. Held-out seeds 500 and 501 (the chapter evaluates 0-9; other pilots used
100-102, 200, 300+, 700+, 800+). Pre-training: :func:`lsgan_lib.chapters.manifold_alignment.pretraining_config`
(WGAN-GP toy reference on the 8 Gaussians' modes 0, 2, 4, 6; 3 × 128 ReLU, He-uniform, batch 256) for 2,000
iterations; the critic: 500 Adam steps (2e-4, β (0.5, 0.999)) against the fixed pre-trained generator. The premise
gates (:func:`missing_modes_gates`): ≥ 3 of the 4 kept modes covered and 0 of the 4 missing modes at the start, and the
critic's mean D on the missing modes' real samples ≥ 0.9. Decision: if both seeds meet all three, the `cpu` profile
keeps 2,000 pre-training iterations and 500 critic steps; otherwise it takes 4,000 and 2,000 (no second pilot, and the
chapter's gates judge whatever comes). The continuation (2,000 iterations, 5 critic steps per generator step) is run
only to time it and to check that it runs; its modes recovered are printed but decide nothing (the claim is not tuned).

    python bench/missing_modes_pilot.py [--seeds 500 501] [--results /tmp/ma-pilot]  (ran with --results /tmp/ma-pilot)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[500, 501])
    parser.add_argument("--pretrain-iter", type=int, default=2000)
    parser.add_argument("--critic-iter", type=int, default=500)
    parser.add_argument("--n-iter", type=int, default=2000)
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--results", type=Path, default=None, help="a results cache of its own (LSGAN_RESULTS)")
    args = parser.parse_args(argv)
    if args.results is not None:
        os.environ["LSGAN_RESULTS"] = str(args.results)
    torch.set_num_threads(1)
    from lsgan_lib.chapters import manifold_alignment as ma
    from lsgan_lib.train.batched import train_sweep

    start = time.process_time()
    runs = train_sweep([ma.pretraining_config(s, args.pretrain_iter, args.width) for s in args.seeds], "cpu",
                       progress=False)
    pre_seconds = time.process_time() - start
    print(f"pre-training: {pre_seconds:.0f} CPU-s for {len(runs)} runs x {args.pretrain_iter} iterations "
          f"({1000 * pre_seconds / len(runs) / args.pretrain_iter:.1f} ms per member-iteration)")
    rows = []
    for run in runs:
        start = time.process_time()
        out = ma.continue_against_critic(run, args.critic_iter, args.n_iter, n_critic=args.n_critic)
        seconds = time.process_time() - start
        pre = ma.mode_counts(run.final)
        after = {name: ma.mode_counts(out[name][-1]) for name in ma.CONTINUED_LOSSES}
        rows.append((run.config.seed, pre, out["critic_on_missing"], out["critic_on_generated"], after, seconds))
        print(f"seed {run.config.seed}: pre-trained kept {pre['kept']}/4, missing {pre['missing']}/4; critic D on the "
              f"missing modes {out['critic_on_missing']:.3f}, on generated {out['critic_on_generated']:.3f}; after "
              + ", ".join(f"{n}: kept {a['kept']}, recovered {a['missing']}" for n, a in after.items())
              + f"; continuation {seconds:.0f} CPU-s", flush=True)
    met = all(pre["kept"] >= 3 and pre["missing"] == 0 and critic >= 0.9 for _, pre, critic, *_ in rows)
    print("premise met in every seed:", met, "->", "keep 2,000 / 500" if met else "take 4,000 / 2,000")


if __name__ == "__main__":
    main()
