"""Bench (issue 28, item 3): which estimator of W2² prefers the data to a ring? The W2 GAN's loss is the exact OT cost
between a generated and a real batch of B points; its expectation is biased upwards by an amount that shrinks with B,
and at B = 64 a uniform ring through the 8 Gaussians' centres scores *lower* than the data itself (issue 28: 0.283
against 0.358). This script measures, on the 8 Gaussians, each candidate on data-vs-data and ring-vs-data:

* minibatch exact OT (``minibatch_w2_loss``, one pair of independent batches per evaluation) at each ``--batches``;
* the debiased Sinkhorn divergence S_ε (:func:`lsgan_lib.measure.alignment.sinkhorn_divergence`, cost ‖x − y‖²) on
  ``--n-sinkhorn`` samples of each side, at each ``--epsilons``;

each over ``--repeats`` independent draws (held-out random streams from 800), with the mean, its 95% bootstrap
interval and the wall time per evaluation (one thread). An estimator *prefers the data* when the data-vs-data interval
lies wholly below the ring-vs-data interval (the rule of bench/README.md, fixed before the run).

    python bench/w2_estimators.py [--batches 64 256 1024] [--epsilons 0.01 0.001] [--n-sinkhorn 1000] [--repeats 20]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.data.distributions import data_manifold  # noqa: E402
from lsgan_lib.measure.alignment import sinkhorn_divergence  # noqa: E402
from lsgan_lib.measure.claims import bootstrap_interval  # noqa: E402
from lsgan_lib.models.objectives import minibatch_w2_loss  # noqa: E402


def uniform_ring(n: int, radius: float, generator: torch.Generator) -> torch.Tensor:
    """``(n, 2)`` points uniform on the circle of ``radius`` about the origin."""
    angle = 2 * math.pi * torch.rand(n, generator=generator)
    return radius * torch.stack([angle.cos(), angle.sin()], dim=1)


def measure(estimator, n: int, repeats: int, seed: int) -> dict:
    """``estimator(x, y)`` on ``repeats`` fresh draws of data-vs-data and ring-vs-data of ``n`` points each."""
    manifold = data_manifold("eight_gaussians")
    radius = float(torch.tensor(manifold.centres[0]).norm())
    out = {"data": [], "ring": [], "seconds": []}
    for r in range(repeats):
        g = torch.Generator().manual_seed(seed + r)
        x, y, ring = manifold.sample(n, g), manifold.sample(n, g), uniform_ring(n, radius, g)
        start = time.perf_counter()
        out["data"].append(float(estimator(x.double(), y.double())))
        out["seconds"].append(time.perf_counter() - start)
        out["ring"].append(float(estimator(ring.double(), y.double())))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--epsilons", type=float, nargs="+", default=[0.01, 0.001])
    parser.add_argument("--n-sinkhorn", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    candidates = {f"minibatch OT, B = {b}": (minibatch_w2_loss, b) for b in args.batches}
    candidates |= {f"Sinkhorn divergence, eps = {e:g}, n = {args.n_sinkhorn}":
                   (lambda x, y, e=e: sinkhorn_divergence(x, y, e), args.n_sinkhorn) for e in args.epsilons}
    print("| estimator | data vs data (95% interval) | ring vs data (95% interval) | prefers the data "
          "| s per evaluation |")
    print("|---|---|---|---|---|")
    for name, (estimator, n) in candidates.items():
        m = measure(estimator, n, args.repeats, seed=800)
        data, ring = bootstrap_interval(m["data"]), bootstrap_interval(m["ring"])
        prefers = "yes" if data.high < ring.low else ("no (ring lower)" if ring.high < data.low else "undecided")
        print(f"| {name} | {data.mean:.4f} [{data.low:.4f}, {data.high:.4f}] | {ring.mean:.4f} [{ring.low:.4f}, "
              f"{ring.high:.4f}] | {prefers} | {sum(m['seconds']) / len(m['seconds']):.3f} |", flush=True)


if __name__ == "__main__":
    main()
