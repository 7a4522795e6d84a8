"""Benchmark: a toy GAN iteration with a plain PyTorch loop and the library's one toy loop (K = 1 is train_gan).

    python bench/toy_training.py [--iters N] [--repeats R] [--device cpu|cuda] [--members K ...] [--threads T]
                                 [--compile MODE ...] [--profile] [--setting paper_text|original_code] [--only-batched]
                                 [--wgan-widths W ...] [--wgan-iters N] [--precisions fp32 bf16]

The configuration is paper 002's: the FC 20-40-100-200-200-100-40-20 net with batch norm and ELU for both networks,
batch 256, one critic and one generator step per iteration, RMSprop lr 1e-3 with the step schedule, the minimax
objective, nine squares with a 2-d Gaussian latent. Every trainer runs ``--iters`` iterations after a warm-up of
``--warmup`` iterations, then the rows are timed in turn ``--repeats`` times (round robin, so a passing disturbance hits
every row alike); the table gives the median wall time per member-iteration (one iteration of one GAN), the range
over the repeats, and the speed-ups of the median over the plain loop's and over the K = 1 row's (``train_gan``: so the
row at K = 50 against it is a 50-member sweep against 50 sequential single runs), all measured side by side in this
process.

A second table times the WGAN (clipping) toy reference — 3 × W ReLU MLPs for G and D, batch 256, 5 critic steps per
generator step, RMSprop lr 5e-5, clipping at 0.01 — for each ``--wgan-widths`` W and ``--precisions`` (fp32, and bf16:
``torch.autocast`` around the forward passes), a plain PyTorch loop beside the library's loop at K = 1, with the
rate in GFLOP/s (the iteration's matrix-product FLOPs, :func:`wgan_flops`) and its share of a fresh ``torch.mm`` of
the layers' shape ``(256, W) @ (W, W)`` at the same precision, timed in the same run. ``--compile`` adds rows of the
batched trainer under ``torch.compile`` modes (``reduce-overhead`` = compiled kernels replayed as CUDA graphs on a GPU);
their compilation happens in the warm-up and is reported in the warm-up column. It is a benchmark that prints a table,
not a timed test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.train import batched
from lsgan_lib.chapters import geometric_view
from lsgan_lib.train import toy as training
from lsgan_lib.data.distributions import eight_gaussians, gaussian_latent, nine_squares
from lsgan_lib.models.nets import PAPER_002_WIDTHS
from lsgan_lib.train.config import PRECISIONS, autocast
from lsgan_lib.train.toy import GANConfig

BATCH = 256


SETTING = {"setting": "paper_text"}  # set by --setting


def config(n_iter: int, seed: int = 0) -> GANConfig:
    """Paper 002's configuration with ``n_iter`` iterations and one snapshot at the end, at the chosen setting of
    :data:`lsgan_lib.chapters.geometric_view.SETTINGS` (``paper_text`` is the configuration this benchmark always
    timed)."""
    return GANConfig(data="nine_squares", latent="gaussian", latent_dim=2, n_iter=n_iter, snapshots=(n_iter,),
                     seed=seed, **geometric_view.SETTINGS[SETTING["setting"]])


def plain_net(in_dim: int, out_dim: int) -> nn.Sequential:
    """Paper 002's net as one writes it with torch.nn alone (PyTorch's own nn.ELU, not the library's fast ELU)."""
    layers: list[nn.Module] = []
    previous = in_dim
    for width in PAPER_002_WIDTHS:
        layers += [nn.Linear(previous, width), nn.BatchNorm1d(width), nn.ELU()]
        previous = width
    return nn.Sequential(*layers, nn.Linear(previous, out_dim))


def plain_loop(n_iter: int, device: torch.device) -> None:
    """The reference: the loop as one would write it in a notebook, without the library's trainer or nets."""
    torch.manual_seed(0)
    stream = torch.Generator(device=device).manual_seed(0)
    g, d = plain_net(2, 2).to(device), plain_net(2, 1).to(device)
    opt_g, opt_d = torch.optim.RMSprop(g.parameters(), lr=1e-3), torch.optim.RMSprop(d.parameters(), lr=1e-3)
    sched_g = torch.optim.lr_scheduler.StepLR(opt_g, 300, 0.98)
    sched_d = torch.optim.lr_scheduler.StepLR(opt_d, 300, 0.98)
    for _ in range(n_iter):
        real = nine_squares(BATCH, stream)
        with torch.no_grad():
            fake = g(gaussian_latent(BATCH, 2, stream))
        d_loss = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        d.requires_grad_(False)
        g_loss = -F.softplus(d(g(gaussian_latent(BATCH, 2, stream)))).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        d.requires_grad_(True)
        sched_d.step(), sched_g.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def library_batched(k: int, compile_mode: str | None = None):
    def run(n_iter: int, device: torch.device) -> None:
        batched._train_batched([config(n_iter, seed) for seed in range(k)], device, None, compile_mode=compile_mode)
    return run


def seconds(fn, n_iter: int, device: torch.device) -> float:
    """Wall seconds of ``fn(n_iter, device)``."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    fn(n_iter, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def header(device: torch.device, n_iter: int, warmup: int, repeats: int) -> str:
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    now = datetime.datetime.now(datetime.timezone.utc)
    return "\n".join([
        f"# Toy GAN training: ms per member-iteration ({now:%Y-%m-%d %H:%M} UTC)",
        "",
        f"- machine: {where}; {os.cpu_count()} logical cores; {platform.system()} {platform.release()}",
        (f"- device: {device}; torch {torch.__version__}; torch threads: {torch.get_num_threads()}; "
         f"python {platform.python_version()}"),
        (f"- paper 002's FC net for G and D, batch {BATCH}, setting {SETTING['setting']} (library rows), RMSprop; "
         f"{n_iter} timed iterations per row and repeat, {repeats} repeats (round robin) after {warmup} warm-up "
         "iterations"),
        "",
    ])


def profile(k: int, device: torch.device, n_iter: int = 20) -> str:
    """The operators that dominate the batched trainer at ``k`` members (self time)."""
    return profile_run(library_batched(k), device, n_iter)


def profile_run(fn, device: torch.device, n_iter: int = 20) -> str:
    """The operators that dominate ``fn(n_iter, device)`` (self time), after 5 iterations of warm-up."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    fn(5, device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=activities) as prof:
        fn(n_iter, device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=15)


# ---------------------------------------------------------------------------------------------------------------------
# The WGAN (clipping) toy reference at width W, fp32 and bf16, against the matmul rate
# ---------------------------------------------------------------------------------------------------------------------

WGAN_LR, WGAN_CLIP, WGAN_CRITIC_STEPS, WGAN_DEPTH = 5e-5, 0.01, 5, 3


def wgan_config(width: int, precision: str, n_iter: int, seed: int = 0) -> GANConfig:
    """The WGAN (clipping) toy reference: 8 Gaussians, 3 × ``width`` ReLU MLPs without batch norm, batch 256."""
    return GANConfig(data="eight_gaussians", objective="wgan", lr=WGAN_LR, n_critic=WGAN_CRITIC_STEPS, n_iter=n_iter,
                     batch_size=BATCH, widths=(width,) * WGAN_DEPTH, batch_norm=False, activation="relu",
                     snapshots=(n_iter,), n_eval=BATCH, seed=seed, precision=precision)


def wgan_flops(width: int) -> float:
    """Matrix-product FLOPs of one WGAN iteration: a forward pass costs F = 2·B·Σ in·out per net; a critic step is
    a generator forward on B latents, critic forwards on the real and the generated batch and their backward passes
    (2F each): G + 6D; the generator step is G and D forward, D's backward to its input (D) and G's backward (2G):
    3G + 2D. So 5 critic steps and one generator step are 8G + 32D."""
    dims = [2] + [width] * WGAN_DEPTH
    g = 2 * BATCH * sum(a * b for a, b in zip(dims, dims[1:] + [2]))
    d = 2 * BATCH * sum(a * b for a, b in zip(dims, dims[1:] + [1]))
    return 8 * g + 32 * d


def wgan_plain(width: int, precision: str):
    """The WGAN (clipping) loop as one writes it with torch.nn and torch.optim, ``precision`` by autocast."""
    def run(n_iter: int, device: torch.device) -> None:
        torch.manual_seed(0)
        stream = torch.Generator(device=device).manual_seed(0)

        def mlp(in_dim, out_dim):
            layers, previous = [], in_dim
            for _ in range(WGAN_DEPTH):
                layers += [nn.Linear(previous, width), nn.ReLU()]
                previous = width
            return nn.Sequential(*layers, nn.Linear(previous, out_dim)).to(device)

        g, d = mlp(2, 2), mlp(2, 1)
        opt_g, opt_d = torch.optim.RMSprop(g.parameters(), lr=WGAN_LR), torch.optim.RMSprop(d.parameters(), lr=WGAN_LR)
        cast = autocast(precision, device)
        for _ in range(n_iter):
            for _ in range(WGAN_CRITIC_STEPS):
                real = eight_gaussians(BATCH, stream)
                with torch.no_grad(), cast:
                    fake = g(gaussian_latent(BATCH, 2, stream))
                with cast:
                    d_loss = d(fake).float().mean() - d(real).float().mean()
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                with torch.no_grad():
                    for p in d.parameters():
                        p.clamp_(-WGAN_CLIP, WGAN_CLIP)
            d.requires_grad_(False)
            with cast:
                g_loss = -d(g(gaussian_latent(BATCH, 2, stream))).float().mean()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            d.requires_grad_(True)
        if device.type == "cuda":
            torch.cuda.synchronize()
    return run


def wgan_library(width: int, precision: str, k: int = 1):
    def run(n_iter: int, device: torch.device) -> None:
        batched._train_batched([wgan_config(width, precision, n_iter, seed) for seed in range(k)], device, None)
    return run


def mm_rate(width: int, precision: str, device: torch.device, seconds_budget: float = 0.3) -> float:
    """GFLOP/s of a fresh ``torch.mm`` of ``(256, width) @ (width, width)`` in ``precision`` (bf16 operands for
    bf16)."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(BATCH, width, device=device, dtype=dtype)
    b = torch.randn(width, width, device=device, dtype=dtype)
    for _ in range(3):
        torch.mm(a, b)
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds_budget:
        for _ in range(10):
            torch.mm(a, b)
        n += 10
        if device.type == "cuda":
            torch.cuda.synchronize()
    return 2 * BATCH * width * width * n / (time.perf_counter() - started) / 1e9


def wgan_table(widths: list[int], precisions: list[str], n_iter: int, warmup: int, repeats: int,
               device: torch.device) -> str:
    """The WGAN (clipping) rows: plain loop and the library's loop at K = 1 per width and precision, each with its
    rate and its share of the mm rate of its precision."""
    rows = [(f"{label}, width {w}, {p}", w, p, fn) for w in widths for p in precisions
            for label, fn in (("plain PyTorch loop", wgan_plain(w, p)), ("library loop, K = 1", wgan_library(w, p)))]
    for _, _, _, fn in rows:
        fn(max(1, warmup // 4), device)
    times = [[] for _ in rows]
    for _ in range(repeats):
        for j, (_, _, _, fn) in enumerate(rows):
            times[j].append(seconds(fn, n_iter, device) / n_iter * 1e3)
    rates = {(w, p): mm_rate(w, p, device) for w in widths for p in precisions}
    lines = [f"WGAN (clipping), 3 × W ReLU MLPs, batch {BATCH}, {WGAN_CRITIC_STEPS} critic steps, RMSprop; "
             f"{n_iter} timed iterations per row and repeat, {repeats} repeats; "
             f"torch threads: {torch.get_num_threads()}",
             "",
             "| loop | ms per iteration (median) | range | GFLOP/s | torch.mm (256, W) @ (W, W) GFLOP/s "
             "| share of mm |",
             "|---|---:|---:|---:|---:|---:|"]
    for (name, w, p, _), ms in zip(rows, times):
        mid = statistics.median(ms)
        rate = wgan_flops(w) / (mid / 1e3) / 1e9
        lines.append(f"| {name} | {mid:.3g} | {min(ms):.3g}–{max(ms):.3g} | {rate:.0f} | {rates[w, p]:.0f} "
                     f"| {rate / rates[w, p]:.0%} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=200, help="timed iterations per row (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up iterations per row (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row, round robin (default 3)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--members", type=int, nargs="*", default=None,
                        help="K values of the batched trainer (default 1 4 10, plus 50 100 on a GPU)")
    parser.add_argument("--compile", nargs="*", default=[], choices=batched.COMPILE_MODES, metavar="MODE",
                        help=f"also time the batched trainer under these torch.compile modes {batched.COMPILE_MODES}")
    parser.add_argument("--profile", action="store_true", help="also print the top operators of the batched trainer")
    parser.add_argument("--setting", default="paper_text", choices=sorted(geometric_view.SETTINGS),
                        help="the library rows' training setting (default paper_text: minimax, one joint critic "
                             "update; original_code: non-saturating, split real/generated critic updates, RMSprop "
                             "α 0.9, ε 1, weight decay 5e-4); the plain loop is always paper_text")
    parser.add_argument("--only-batched", action="store_true",
                        help="time only the library's rows (no plain-loop row, no speed-up over it)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own count)")
    parser.add_argument("--wgan-widths", type=int, nargs="*", default=[128, 512],
                        help="widths of the WGAN (clipping) table (default 128 512; none: no table)")
    parser.add_argument("--wgan-iters", type=int, default=20, help="timed iterations per WGAN row (default 20)")
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS,
                        help="precisions of the WGAN table (default fp32 bf16)")
    args = parser.parse_args(argv)
    SETTING["setting"] = args.setting
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else training.default_device()
    members = args.members or ([1, 4, 10, 50, 100] if device.type == "cuda" else [1, 4, 10])

    print(header(device, args.iters, args.warmup, args.repeats))
    rows = [] if args.only_batched else [("plain PyTorch loop (in this benchmark)", 1, plain_loop)]
    rows += [("lsgan_lib.train.batched._train_batched" + (" (train_gan)" if k == 1 else ""), k, library_batched(k))
             for k in members]
    rows += [(f"lsgan_lib.train.batched._train_batched, compile_mode={mode!r}", k, library_batched(k, mode))
             for mode in args.compile for k in members]
    warmups = [seconds(fn, args.warmup, device) for _, _, fn in rows]
    times = [[] for _ in rows]
    for _ in range(args.repeats):
        for j, (_, k, fn) in enumerate(rows):
            times[j].append(seconds(fn, args.iters, device) / (args.iters * k) * 1e3)
    print("| trainer | K | ms per member-iteration (median) | range over repeats | speed-up over the plain loop "
          "| speed-up over K = 1 (train_gan) | warm-up (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    plain = math.nan if args.only_batched else statistics.median(times[0])
    ones = [statistics.median(ms) for (_, k, fn), ms in zip(rows, times) if k == 1 and fn is not plain_loop]
    single = ones[0] if ones else math.nan
    for (name, k, _), ms, warm in zip(rows, times, warmups):
        mid = statistics.median(ms)
        print(f"| {name} | {k} | {mid:.3g} | {min(ms):.3g}–{max(ms):.3g} | {plain / mid:.2f}× | {single / mid:.2f}× "
              f"| {warm:.1f} |")
    print()
    print(f"Warm-up: the first {args.warmup} iterations of each row, untimed in the table; for a compiled row it "
          "includes torch.compile's compilation.")
    if args.wgan_widths:
        print()
        print(wgan_table(args.wgan_widths, args.precisions, args.wgan_iters, args.warmup, args.repeats, device))
    if args.profile:
        print()
        print(f"Top operators of the batched trainer at K = {members[-1]} (self time):")
        print(profile(members[-1], device))
        for width in args.wgan_widths:
            for precision in args.precisions:
                print(f"\nTop operators of the WGAN (clipping) loop at width {width}, {precision}, K = 1 (self time):")
                print(profile_run(wgan_library(width, precision, 1), device))


if __name__ == "__main__":
    main()
