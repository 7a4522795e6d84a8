"""Benchmark: how much arithmetic the latent-space chapter does at a profile, counted, not timed.

    python bench/latent_space_cost.py [--profile gpu] [-p name=value ...] [--tflops 100 200]

No GPU has run the chapter yet, so its ``gpu`` profile has never been timed. This script counts the floating-point
operations of each piece of the chapter with ``torch.utils.flop_counter``'s formulas (a multiply-add counts 2):
one WGAN-GP iteration (``n_critic`` critic steps with the gradient penalty, one generator step), one autoencoder
iteration and one inversion step are run on the CPU at a batch of 2 with the chapter's own code
(``lsgan_lib.train.images`` and ``lsgan_lib.measure.inversion``), the counts are scaled to the profile's batch sizes and
multiplied by how many of each the notebook runs (its loops, mirrored here: re-check them if the notebook changes).
It prints PFLOP per piece and the time that would take at the given sustained rates — a rate is an assumption, not a
measurement — and, with ``--measure-device cpu|cuda``, at a rate derived from a measurement: the device's float32
matrix-product rate (``torch.mm`` on 4096² matrices, timed here) times ``--efficiency``, the fraction of that rate the
chapter's image trainer reached where it was measured (default 0.31: 57 GFLOP/s for a WGAN-GP iteration against
184 GFLOP/s for ``torch.mm`` on this project's 2-core CPU, bench/README.md) — and the size of each trained generator's
checkpoint (what a GPU run must carry back). The feature and classifier networks (LeNet-5 for the Fréchet distance and
for Fig. 9) and the loss surfaces are small and not counted.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import defaultdict
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.book import parameters as profile_params
from lsgan_lib.train import images as image_training
from lsgan_lib.measure import inversion
from lsgan_lib.chapters import latent_space as ls
from lsgan_lib.models.nets import image_networks

COUNT_BATCH = 2  # images per counted step; operations scale linearly with the batch
CHANNELS = {"cifar10": 3, "celeba": 3, "mnist": 1}


class OperationCounter(TorchDispatchMode):
    """Adds up the operations of every aten call that ``torch.utils.flop_counter`` knows (matrix products and
    convolutions, forward and backward). FlopCounterMode itself cannot be used: its module tracker breaks the gradient
    penalty's ``autograd.grad`` on a leaf input."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def flops(fn) -> int:
    with OperationCounter() as counter:
        fn()
    return counter.total


def per_iteration(train, config) -> int:
    """Operations of one training iteration at ``COUNT_BATCH`` (two iterations minus one: set-up excluded)."""
    cpu = torch.device("cpu")
    one = flops(lambda: train(dataclasses.replace(config, n_iter=1), cpu, None))
    two = flops(lambda: train(dataclasses.replace(config, n_iter=2), cpu, None))
    return two - one


def per_inversion_step(dataset: str, dim: int, width: int, size: int) -> int:
    """Operations of one Adam step of the inversion, per image."""
    generator, _ = image_networks(ls.ARCHITECTURE, dim, CHANNELS[dataset], size, width, "none")
    images = torch.zeros(COUNT_BATCH, CHANNELS[dataset], size, size)
    one = flops(lambda: inversion.invert(generator, images, dim, steps=1, lr=0.1))
    two = flops(lambda: inversion.invert(generator, images, dim, steps=2, lr=0.1))
    return (two - one) // COUNT_BATCH


def latent_sizes(p: dict) -> dict[str, list[int]]:
    """dim(z) per data set, as the notebook's ``DIMS``."""
    return {"cifar10": sorted(set(p["latent_dims"])), "mnist": sorted(set(p["latent_dims"])),
            "celeba": sorted(set(p["latent_dims"]) | set(p["celeba_extra_dims"]))}


def inversions(p: dict) -> dict[tuple[str, int], int]:
    """Images inverted per (data set, dim(z)), as the notebook's cells do (cached repeats are not counted)."""
    dims = latent_sizes(p)
    count: dict[tuple[str, int], int] = defaultdict(int)
    for dataset in ("cifar10", "celeba"):
        for dim in dims[dataset]:
            count[dataset, dim] += 2 * p["n_recon"]  # training and validation images (Fig. 3, Table 2)
    for dim in dims["celeba"]:
        count["celeba", dim] += p["n_shift"] * len(p["shifts"]) + p["n_cross"] + p["n_noise"]  # Figs. 6, 7, 8
    for dim in dims["mnist"]:
        count["mnist", dim] += p["n_mnist_recon"]  # Fig. 9
    count["cifar10", dims["cifar10"][-1]] += 2 * p["n_recon"]  # Fig. 10, unprojected
    count["celeba", dims["celeba"][-1]] += 2 * p["n_recon"]  # the GPU-only bfloat16 probe (fp32 and bf16, uncached)
    # The untrained controls (the same generators at initialisation; the same arithmetic per step):
    for dataset in ("cifar10", "celeba"):
        for dim in dims[dataset]:
            count[dataset, dim] += 2 * p["n_recon"]  # Fig. 3, training and validation images
    for dim in (dims["celeba"][0], dims["celeba"][-1]):
        count["celeba", dim] += 2 * p["n_shift"] + p["n_cross"] + p["n_noise"]  # Figs. 6 (two shifts), 7, 8
    count["mnist", dims["mnist"][-1]] += p["n_mnist_recon"]  # Fig. 9
    count["cifar10", dims["cifar10"][-1]] += p["n_recon"]  # Fig. 10, unprojected
    return dict(count)


CPU_EFFICIENCY = 0.31  # WGAN-GP iteration / torch.mm rate, channels-last, 2-core CPU (bench/README.md, pilot)


def matmul_tflops(device: str, size: int = 4096, repeats: int = 5) -> float:
    """The float32 ``torch.mm`` rate on ``device``, TFLOP/s (best of ``repeats`` after one warm-up)."""
    import time

    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--measure-device cuda: no CUDA device is visible")
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    best = float("inf")
    for i in range(repeats + 1):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        torch.mm(a, b)
        if device == "cuda":
            torch.cuda.synchronize()
        if i:
            best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e12


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="gpu", help="profile of notebooks/profiles/ (default gpu)")
    parser.add_argument("-p", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter override, as lsgan-book run takes it")
    parser.add_argument("--tflops", type=float, nargs="+", default=[100.0, 200.0],
                        help="assumed sustained TFLOP/s to convert operations into minutes (default 100 200)")
    parser.add_argument("--measure-device", choices=["cpu", "cuda"], default=None,
                        help="time torch.mm on this device and convert at --efficiency of that rate")
    parser.add_argument("--efficiency", type=float, default=CPU_EFFICIENCY,
                        help=f"fraction of the device's matmul rate the trainer sustains (default {CPU_EFFICIENCY})")
    parser.add_argument("--mm-size", type=int, default=4096, help="matrix size of the timed product (default 4096)")
    args = parser.parse_args(argv)
    if not 0 < args.efficiency <= 1:
        parser.error(f"--efficiency must be in (0, 1], got {args.efficiency}")
    root = profile_params.project_root(Path(__file__).resolve().parent)
    p = profile_params.resolve_parameters(root, "latent_space", args.profile,
                                          profile_params.parse_overrides(args.overrides))
    size = {"cifar10": p["image_size_cifar"], "celeba": p["image_size_celeba"], "mnist": p["image_size_mnist"]}
    dims = latent_sizes(p)
    scale = p["batch_size"] / COUNT_BATCH
    torch.set_grad_enabled(True)

    rows = []  # (piece, data set, dim, how many, PFLOP)
    checkpoints = []
    for dataset in ("cifar10", "celeba", "mnist"):
        for dim in dims[dataset]:
            gan = ls.gan_config(dataset, dim, p["width"], size[dataset], 2, COUNT_BATCH, 8, p["n_critic"], p["seed"])
            ae = ls.ae_config(dataset, dim, p["width"], size[dataset], 2, COUNT_BATCH, 8, p["seed"])
            gan_flops = per_iteration(image_training._train, gan) * scale
            ae_flops = per_iteration(image_training._train_autoencoder, ae) * scale
            rows.append(("WGAN-GP training", dataset, dim, f"{p['gan_iters']:,} it × {p['n_critic']} critic steps",
                         gan_flops * p["gan_iters"] / 1e15))
            rows.append(("AE training", dataset, dim, f"{p['ae_iters']:,} it", ae_flops * p["ae_iters"] / 1e15))
            generator, _ = image_networks(ls.ARCHITECTURE, dim, CHANNELS[dataset], size[dataset], p["width"], "none")
            checkpoints.append((dataset, dim, sum(t.numel() * t.element_size()
                                                  for t in generator.state_dict().values()) / 2 ** 20))
    for (dataset, dim), images in sorted(inversions(p).items()):
        step = per_inversion_step(dataset, dim, p["width"], size[dataset])
        rows.append(("inversion", dataset, dim, f"{images:,} images × {p['inversion_steps']:,} steps",
                     step * images * p["inversion_steps"] / 1e15))

    print(f"# The latent-space chapter at profile {args.profile!r}: operations counted (not timed)")
    print()
    print(f"torch {torch.__version__}; width {p['width']}, batch {p['batch_size']}, image sizes "
          + ", ".join(f"{d} {s}" for d, s in size.items()) + "; dim(z) " + ", ".join(map(str, dims["celeba"])))
    print()
    print("| piece | data | dim(z) | how many | PFLOP |")
    print("|---|---|---:|---|---:|")
    for piece, dataset, dim, many, pflop in rows:
        print(f"| {piece} | {dataset} | {dim} | {many} | {pflop:.3g} |")
    print()
    total = sum(r[-1] for r in rows)
    by_piece = defaultdict(float)
    for piece, *_, pflop in rows:
        by_piece[piece] += pflop
    print("| piece | PFLOP | share |")
    print("|---|---:|---:|")
    for piece, pflop in by_piece.items():
        print(f"| {piece} | {pflop:.3g} | {100 * pflop / total:.0f}% |")
    print(f"| **total** | **{total:.3g}** | |")
    print()
    print("At an assumed sustained rate (not measured): "
          + "; ".join(f"{rate:g} TFLOP/s → {total * 1e3 / rate / 60:.1f} min" for rate in args.tflops))
    if args.measure_device:
        rate = matmul_tflops(args.measure_device, args.mm_size)
        sustained = rate * args.efficiency
        print(f"Measured: torch.mm ({args.mm_size}², float32) on {args.measure_device} at {rate:.3g} TFLOP/s; at "
              f"{args.efficiency:g} of it ({sustained:.3g} TFLOP/s) the counted work takes "
              f"{total * 1e3 / sustained / 60:.1f} min (training and inversions only).")
    print()
    largest = max(checkpoints, key=lambda c: c[2])
    print(f"Generator checkpoints: {len(checkpoints)}, {sum(c[2] for c in checkpoints):.0f} MiB in all; the largest "
          f"{largest[2]:.1f} MiB ({largest[0]}, dim(z) = {largest[1]}). Critics and autoencoders are of similar size.")


if __name__ == "__main__":
    main()
