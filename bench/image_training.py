"""Benchmark: one image WGAN-GP iteration and one autoencoder iteration on Table 1's nets, plain loop vs the library.

    python bench/image_training.py [--dataset celeba] [--size 32] [--width 64] [--batch 64] [--dim 100]
                                   [--iters 10] [--repeats 3] [--threads N] [--channels-last]

The latent-space chapter's networks (paper 004, Table 1: resize-convolution generator, strided-convolution critic,
Glorot initialisation) at the given sizes, trained by

- a plain PyTorch loop written in this benchmark (the reference): 5 critic steps with WGAN-GP's gradient penalty
  (λ = 10) and one generator step, Adam 1e-4 with β = (0, 0.9); also without the penalty, and in channels-last memory
  format, to measure what the penalty's double backward and the memory format cost;
- the library's trainer (``lsgan_lib.train.images._train``, what ``train_image_gan`` runs): timed at two iteration
  counts, so that the difference gives the time per iteration and the intercept the fixed cost of a run (building the
  nets, loading and resizing the images from the decoded-image cache);
- the same two for the autoencoder (``_train_autoencoder``); both library trainers also with ``channels_last=True``,
  and channels-last in ``precision="bf16"`` (the networks' training forward passes under ``torch.autocast`` with
  bfloat16; the issue's target: ≥ 1.5× the fp32 channels-last row).

Operations are counted with ``torch.utils.flop_counter``'s formulas (bench/latent_space_cost.py's counter; a
multiply-add counts 2), checked first against a hand count for one convolution, and turned into achieved GFLOP/s;
the rate of a 1024² ``torch.mm`` measured in the same process, in float32 for the fp32 rows and in bfloat16 for the
bf16 rows, is the reference (the issue's target: ≥ 50% of it). Rows are timed round robin ``--repeats`` times after one
warm-up; the table gives medians and ranges. It is a benchmark that prints a table, not a test: nothing here passes or
fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from latent_space_cost import flops, per_iteration  # noqa: E402 (the chapter's operation counter)

from lsgan_lib.train import images as image_training  # noqa: E402
from lsgan_lib.chapters import latent_space as ls  # noqa: E402
from lsgan_lib.models.nets import image_networks  # noqa: E402

CHANNELS = {"cifar10": 3, "celeba": 3, "mnist": 1}
LAMBDA = 10.0


def matmul_rate(n: int = 1024, repeats: int = 20, dtype: torch.dtype = torch.float32) -> float:
    """GFLOP/s of ``torch.mm`` on two n×n matrices of ``dtype`` (best of ``repeats`` after a warm-up)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    best = min(_time(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _time(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def check_counter() -> tuple[int, int]:
    """(counted, by hand) operations of one 5×5 stride-2 convolution 3 → 64 maps on a 2×3×32×32 batch, forward."""
    conv = torch.nn.Conv2d(3, 64, 5, stride=2, padding=2)
    x = torch.zeros(2, 3, 32, 32)
    with torch.no_grad():
        counted = flops(lambda: conv(x))
    out_h = out_w = 16
    by_hand = 2 * 2 * 64 * out_h * out_w * 3 * 5 * 5  # 2 × batch × C_out × H_out × W_out × C_in × k²
    return counted, by_hand


class PlainLoop:
    """WGAN-GP (or the autoencoder) as one writes it with torch alone, on the library's Table 1 nets."""

    def __init__(self, images: torch.Tensor, dim: int, width: int, batch: int, penalty: bool = True,
                 channels_last: bool = False, autoencoder: bool = False):
        torch.manual_seed(0)
        c, size = images.shape[1], images.shape[-1]
        self.generator, self.critic = image_networks(ls.ARCHITECTURE, dim, c, size, width, "none")
        if autoencoder:
            config = ls.ae_config("celeba", dim, width, size, 1, batch, None)
            self.critic, self.generator = image_training.build_autoencoder(config, c, size)
        self.format = torch.channels_last if channels_last else torch.contiguous_format
        self.generator.to(memory_format=self.format), self.critic.to(memory_format=self.format)
        self.images = images.contiguous(memory_format=self.format)
        self.dim, self.batch, self.penalty, self.autoencoder = dim, batch, penalty, autoencoder
        if autoencoder:
            self.opt = torch.optim.Adam([*self.critic.parameters(), *self.generator.parameters()])
        else:
            self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=1e-4, betas=(0.0, 0.9))
            self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=1e-4, betas=(0.0, 0.9))

    def real(self) -> torch.Tensor:
        return self.images[torch.randint(self.images.shape[0], (self.batch,))]

    def iteration(self) -> None:
        if self.autoencoder:
            x = self.real()
            loss = F.mse_loss(self.generator(self.critic(x)), x)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            return
        for _ in range(5):
            real = self.real()
            with torch.no_grad():
                fake = self.generator(torch.randn(self.batch, self.dim))
            loss = self.critic(fake).mean() - self.critic(real).mean()
            if self.penalty:
                eps = torch.rand(self.batch, 1, 1, 1)
                mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
                grad, = torch.autograd.grad(self.critic(mix).sum(), mix, create_graph=True)
                loss = loss + LAMBDA * (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
            self.opt_d.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_d.step()
        self.critic.requires_grad_(False)
        loss = -self.critic(self.generator(torch.randn(self.batch, self.dim))).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        self.critic.requires_grad_(True)

    def run(self, iters: int) -> None:
        for _ in range(iters):
            self.iteration()


def library_run(config, iters: int) -> float:
    """Wall time of the library trainer for ``iters`` iterations, set-up (nets, images) included."""
    train = image_training._train if isinstance(config, image_training.ImageGANConfig) else \
        image_training._train_autoencoder
    cfg = dataclasses.replace(config, n_iter=iters)
    return _time(lambda: train(cfg, torch.device("cpu"), None))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="celeba", choices=sorted(CHANNELS))
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--iters", type=int, default=10, help="timed iterations per row and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    parser.add_argument("--n-train", type=int, default=4000)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    gan = ls.gan_config(args.dataset, args.dim, args.width, args.size, 1, args.batch, args.n_train)
    ae = ls.ae_config(args.dataset, args.dim, args.width, args.size, 1, args.batch, args.n_train)
    images = image_training.training_images(gan)  # also fills the decoded-image cache before any timing

    counted, by_hand = check_counter()
    # Operations per iteration at this batch: two iterations minus one (the set-up is not counted).
    gan_ops = per_iteration(image_training._train, gan)
    ae_ops = per_iteration(image_training._train_autoencoder, ae)
    penalty_free = PlainLoop(images, args.dim, args.width, args.batch, penalty=False)
    no_gp_ops = flops(lambda: penalty_free.iteration())

    rows = {
        "plain loop, WGAN-GP": (PlainLoop(images, args.dim, args.width, args.batch).run, gan_ops),
        "plain loop, WGAN-GP, channels-last": (
            PlainLoop(images, args.dim, args.width, args.batch, channels_last=True).run, gan_ops),
        "plain loop, WGAN without the penalty": (penalty_free.run, no_gp_ops),
        "plain loop, autoencoder": (PlainLoop(images, args.dim, args.width, args.batch, autoencoder=True).run, ae_ops),
    }
    times: dict[str, list[float]] = {name: [] for name in rows}
    configs = {"library _train (WGAN-GP)": gan,
               "library _train (WGAN-GP), channels_last=True": dataclasses.replace(gan, channels_last=True),
               "library _train (WGAN-GP), channels_last=True, bf16": dataclasses.replace(gan, channels_last=True,
                                                                                          precision="bf16"),
               "library _train_autoencoder": ae,
               "library _train_autoencoder, channels_last=True": dataclasses.replace(ae, channels_last=True),
               "library _train_autoencoder, channels_last=True, bf16": dataclasses.replace(ae, channels_last=True,
                                                                                           precision="bf16")}
    library: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}
    mm_rates, mm_rates_bf16 = [], []
    for name, (run, _) in rows.items():  # warm-up
        run(1)
    for _ in range(args.repeats):
        mm_rates.append(matmul_rate())
        mm_rates_bf16.append(matmul_rate(dtype=torch.bfloat16))
        for name, (run, _) in rows.items():
            times[name].append(_time(lambda: run(args.iters)) / args.iters)
        for name, config in configs.items():
            short, long = library_run(config, 1), library_run(config, 1 + args.iters)
            per_it = (long - short) / args.iters
            library[name].append((per_it, short - per_it))
    mm, mm_bf16 = statistics.median(mm_rates), statistics.median(mm_rates_bf16)

    print(f"# Image WGAN-GP / autoencoder iteration, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print()
    print(f"- machine: {platform.processor() or platform.machine()}; {os.cpu_count()} logical cores; "
          f"{platform.system()} {platform.release()}; load average {os.getloadavg()[0]:.2f} at the end")
    print(f"- torch {torch.__version__}; threads {torch.get_num_threads()}; python {platform.python_version()}")
    print(f"- {args.dataset} at {args.size} px, Table 1's nets at width {args.width}, batch {args.batch}, "
          f"dim(z) = {args.dim}, {args.n_train} training images; {args.iters} timed iterations per row and repeat, "
          f"{args.repeats} repeats round robin after one warm-up iteration")
    print(f"- operation counter check: one 5×5 stride-2 convolution 3→64 on 2×3×32×32 counted {counted:,}, by hand "
          f"{by_hand:,} ({'equal' if counted == by_hand else 'DIFFERENT'})")
    print(f"- torch.mm 1024² float32 in this process: {mm:.1f} GFLOP/s (median of {args.repeats}; "
          f"range {min(mm_rates):.1f}–{max(mm_rates):.1f}); bfloat16: {mm_bf16:.1f} GFLOP/s "
          f"(range {min(mm_rates_bf16):.1f}–{max(mm_rates_bf16):.1f})")
    print(f"- operations per iteration: WGAN-GP {gan_ops / 1e9:.3f} GFLOP (without the penalty "
          f"{no_gp_ops / 1e9:.3f}: the penalty's double backward is {100 * (1 - no_gp_ops / gan_ops):.0f}% of the "
          f"arithmetic); autoencoder {ae_ops / 1e9:.3f} GFLOP")
    print()
    print("| trainer | ms per iteration (median) | range | GFLOP/s | share of torch.mm (its precision) "
          "| fixed cost per run (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (_, ops) in rows.items():
        med = statistics.median(times[name])
        print(f"| {name} | {1e3 * med:.1f} | {1e3 * min(times[name]):.1f}–{1e3 * max(times[name]):.1f} | "
              f"{ops / med / 1e9:.1f} | {ops / med / 1e9 / mm:.0%} | – |")
    for name, pairs in library.items():
        per = [p for p, _ in pairs]
        med = statistics.median(per)
        ops = gan_ops if "WGAN" in name else ae_ops
        reference = mm_bf16 if name.endswith("bf16") else mm
        print(f"| {name} | {1e3 * med:.1f} | {1e3 * min(per):.1f}–{1e3 * max(per):.1f} | {ops / med / 1e9:.1f} | "
              f"{ops / med / 1e9 / reference:.0%} | {statistics.median(f for _, f in pairs):.2f} |")
    gp, no_gp = statistics.median(times["plain loop, WGAN-GP"]), statistics.median(
        times["plain loop, WGAN without the penalty"])
    print()
    print(f"The gradient penalty's share of the WGAN-GP iteration's time: {100 * (1 - no_gp / gp):.0f}%.")
    for what in ("_train (WGAN-GP)", "_train_autoencoder"):
        fp32 = statistics.median(p for p, _ in library[f"library {what}, channels_last=True"])
        bf16 = statistics.median(p for p, _ in library[f"library {what}, channels_last=True, bf16"])
        print(f"bf16 over fp32, channels-last, library {what}: {fp32 / bf16:.2f}× (target ≥ 1.5×)")


if __name__ == "__main__":
    main()
