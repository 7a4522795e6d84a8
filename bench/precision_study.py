"""The pre-registered bf16 ↔ fp32 equivalence study (issue 25, item 2): does training in bf16 change a chapter's gate
measurements?

    python bench/precision_study.py [--settings wgan_gp_toy wgan jsd_minimax jsd_non_saturating geometric_view
                                     celeba_wgan_gp] [--seeds 10] [--first-seed 300] [--iters N | NAME=N ...]
                                     [--device cpu|cuda] [--threads T]
                                     [--precisions fp32|bf16|fp32-ulp ...] [--candidate bf16|fp32-ulp]
                                     [--save DIR] [--combine DIR ...]

For each setting, ``--seeds`` held-out seeds (300, 301, …: never the chapters' seeds 0–4, 100–102 or the pilots'
200–204) are trained twice, in ``precision="fp32"`` and in ``precision="bf16"`` (the same seed: the same initial
networks and batches), and each gate measurement is printed per seed, with the 95% percentile-bootstrap interval
(10,000 resamples of the seeds, fixed bootstrap seed 0) of the paired difference bf16 − fp32.

THE RULE, fixed before any run (do not edit it after seeing numbers): a setting PASSES when, for every gate
measurement, the 95% bootstrap interval of the mean paired difference (bf16 − fp32) lies inside ± TOLERANCE, where
TOLERANCE is 10% of the fp32 mean of that measurement (|mean|, so the band is symmetric), or ± 1 mode for a count of
modes. It FAILS when an interval reaches outside its band; a setting that passes may use bf16 in the profiles, a
setting that fails stays fp32 and the chapter says so. No setting is re-run with other seeds or lengths after a fail.

The settings (the chapters' reference settings; ``--iters`` shortens them for a trial, and the printed table says
the length used — a pass counts only at the default lengths):

* ``wgan_gp_toy`` — the level-set chapter's WGAN-GP reference (λ = 0.1): 8 Gaussians, 3 × 512 ReLU MLPs, Adam 1e-4,
  β = (0.5, 0.9), 5 critic steps, batch 256, Gaussian 2-d latent, 4,000 generator iterations. Gates: modes within
  0.1 of a centre (of 8, ≥ 20 of 2,500 samples), on-support (3σ) share.
* ``wgan`` — its WGAN (clipping) reference: RMSprop 5e-5, clip 0.01, 5 critic steps, uniform 2-d latent, 10,000
  iterations. Gates as above.
* ``jsd_minimax``, ``jsd_non_saturating`` — the manifold-alignment chapter's JSD baselines on 8 Gaussians as its
  ``cpu`` profile trains them (issue 28): 3 × 128 ReLU MLPs, the DCGAN reference optimizer (Adam 2e-4, β = (0.5,
  0.999)), one D step, every net initialised as ``gan_toy.py``'s (``init="he_uniform"``), 3,000 iterations. Gates:
  modes covered (3σ, ≥ 20 of 2,500), on-support share
  (:func:`lsgan_lib.chapters.manifold_alignment.support_statistics`). (Changed 2026-12-04 17:27 UTC, commit ccdbac4,
  before any run of the study, from RMSprop 1e-3 at 2,000 iterations: the chapter's settings moved; the rule did not.)
* ``geometric_view`` — paper 002's Fig. 2(a) pairing (unit square → nine squares) at ``original_code``, 10,000
  iterations, batch 256. Gates: the fit ratio (:func:`lsgan_lib.chapters.geometric_view.fit_ratio`, final against
  initial samples, on 2,000 data points) and the share of samples within 0.05 of the support.
* ``celeba_wgan_gp`` — the latent-space chapter's WGAN-GP (:func:`lsgan_lib.chapters.latent_space.gan_config`) on
  CelebA at 32 px, width 64, dim(z) 64, batch 64, 5 critic steps, 2,000 generator iterations, channels-last. Gate:
  the Fréchet ratio on 8 × 8 average-pooled pixels (192 features) — the Fréchet distance of 1,000 generated images to
  1,000 held-out images, over that of the same generator at initialisation (< 1: it learned). A pixel proxy, not the
  chapter's LeNet/Inception features, so that the study needs no feature network.

THE NULL CONTROL (added 2026-12-05, before any of its runs; the rule above is unchanged): ``--candidate fp32-ulp``
applies the same rule to fp32 against ``fp32-ulp`` — fp32 training whose initial networks differ from fp32's by one
unit in the last place in every parameter (a random direction per element, :func:`one_ulp_apart`): the same
distribution of outcomes, other rounding from the first step. Read, fixed before the run: where the null control
FAILS, the paired ±10% rule cannot certify *any* change of rounding for that setting (single-seed outcomes are
chaotic in the rounding), so a bf16 FAIL there says nothing about bf16 in particular; where it PASSES and bf16
failed, bf16 moved the outcomes beyond rounding noise. Toy settings only (the networks come from
:func:`lsgan_lib.train.config.build_networks`); its runs are kept apart from fp32's in the temporary cache.

Runs go to a results cache of their own (a temporary folder) and are never written to the chapters' cache. On a GPU
(``--device cuda``) the whole study at the default sizes is meant to fit one 8-minute call for the toy settings;
the CelebA setting needs ``LSGAN_DATA`` with CelebA.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, NamedTuple

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsgan_lib.chapters import geometric_view as gv  # noqa: E402
from lsgan_lib.chapters import latent_space  # noqa: E402
from lsgan_lib.chapters.manifold_alignment import support_statistics  # noqa: E402
from lsgan_lib.data.distributions import data_manifold  # noqa: E402
from lsgan_lib.measure.metrics import frechet_distance, mode_statistics  # noqa: E402
from lsgan_lib.train import batched  # noqa: E402
from lsgan_lib.train.batched import train_sweep  # noqa: E402
from lsgan_lib.train.config import PRECISIONS, GANConfig  # noqa: E402
from lsgan_lib.train.images import ImageGANConfig, build_image_networks, train_image_gan  # noqa: E402

TOLERANCE_SHARE, TOLERANCE_MODES = 0.10, 1.0  # the rule's bands (see the docstring): ±10% of the fp32 mean, ±1 mode
BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED = 10_000, 0
N_EVAL, NEAR, MIN_PER_MODE = 2_500, 0.1, 20
NULL = "fp32-ulp"  # the null control's variant: fp32 from initial networks one ulp apart
VARIANTS = (*PRECISIONS, NULL)


class Setting(NamedTuple):
    """A reference setting: how to build a seed's configuration at a length and precision, its default length, and
    its gate measurements (name → function of a trained run; ``counts`` names those that count modes)."""

    name: str
    default_iters: int
    build: Callable[[int, int, str], object]
    gates: Callable[[list], list[dict[str, float]]]
    counts: tuple[str, ...] = ()


def toy_reference(objective: str, latent: str, lr: float, width: int, n_critic: int, **fields):
    def build(seed: int, n_iter: int, precision: str) -> GANConfig:
        return GANConfig(data="eight_gaussians", latent=latent, latent_dim=2, objective=objective, n_iter=n_iter,
                         batch_size=256, lr=lr, lr_decay=1.0, n_critic=n_critic, widths=(width,) * 3,
                         batch_norm=False, activation="relu", snapshots=(n_iter,), n_eval=N_EVAL, seed=seed,
                         precision=precision, **fields)
    return build


def mode_gates(runs: list) -> list[dict[str, float]]:
    manifold = data_manifold("eight_gaussians")
    centres = torch.tensor(manifold.centres)
    out = []
    for run in runs:
        near = mode_statistics(run.final, centres, manifold.std, radius_in_std=NEAR / manifold.std,
                               min_per_mode=MIN_PER_MODE)
        support = support_statistics("eight_gaussians", run.final)
        out.append({"modes within 0.1": float(near["modes_covered"]), "modes covered (3σ)": support["modes_covered"],
                    "on-support share": support["high_quality"]})
    return out


def geometric_view_config(seed: int, n_iter: int, precision: str) -> GANConfig:
    p = gv.panel("unit_square", "nine_squares")
    return gv.config("original_code", p, seed, n_iter=n_iter, snapshots=(0, n_iter), n_eval=N_EVAL,
                     precision=precision)


def geometric_view_gates(runs: list) -> list[dict[str, float]]:
    stream = torch.Generator().manual_seed(BOOTSTRAP_SEED)
    data_points = data_manifold("nine_squares").sample(2_000, stream)
    return [{"fit ratio": gv.fit_ratio(run.final, run.at(0), data_points),
             "share within 0.05": gv.near_share(run.final, "nine_squares", 0.05)} for run in runs]


def celeba_config(seed: int, n_iter: int, precision: str) -> ImageGANConfig:
    return replace(latent_space.gan_config("celeba", 64, 64, 32, n_iter, 64, None, 5, seed, snapshots=(0, n_iter),
                                           n_samples=64, channels_last=True), precision=precision)


def pooled(images: torch.Tensor) -> torch.Tensor:
    """Images ``(n, C, H, W)`` as 8 × 8 average-pooled pixel features ``(n, C·64)``."""
    return torch.nn.functional.adaptive_avg_pool2d(images, 8).flatten(1)


def celeba_gates(runs: list) -> list[dict[str, float]]:
    held_out, _ = latent_space.evaluation_images("celeba", "val", 1_000, 32)
    real = pooled(held_out)
    out = []
    for run in runs:
        untrained, _ = build_image_networks(run.config, held_out.shape[1], 32)
        untrained.eval()
        with torch.no_grad():
            z = torch.randn(1_000, run.config.latent_dim, generator=torch.Generator().manual_seed(1))
            before = pooled(untrained(z))
        after = pooled(run.sample(1_000, seed=1))
        out.append({"Fréchet ratio (pooled pixels)": frechet_distance(after, real) / frechet_distance(before, real)})
    return out


DCGAN_REFERENCE = dict(optimizer="adam", adam_betas=(0.5, 0.999), init="he_uniform")  # manifold_alignment's JSD GANs

SETTINGS = {s.name: s for s in (
    Setting("wgan_gp_toy", 4_000, toy_reference("wgan_gp_toy", "gaussian", 1e-4, 512, 5), mode_gates,
            ("modes within 0.1", "modes covered (3σ)")),
    Setting("wgan", 10_000, toy_reference("wgan", "uniform", 5e-5, 512, 5), mode_gates,
            ("modes within 0.1", "modes covered (3σ)")),
    Setting("jsd_minimax", 3_000, toy_reference("minimax", "gaussian", 2e-4, 128, 1, **DCGAN_REFERENCE), mode_gates,
            ("modes within 0.1", "modes covered (3σ)")),
    Setting("jsd_non_saturating", 3_000, toy_reference("non_saturating", "gaussian", 2e-4, 128, 1, **DCGAN_REFERENCE),
            mode_gates,
            ("modes within 0.1", "modes covered (3σ)")),
    Setting("geometric_view", 10_000, geometric_view_config, geometric_view_gates),
    Setting("celeba_wgan_gp", 2_000, celeba_config, celeba_gates),
)}


def bootstrap_interval(differences: list[float], resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval of the mean of ``differences`` (one per seed)."""
    values = torch.tensor(differences, dtype=torch.float64)
    stream = torch.Generator().manual_seed(BOOTSTRAP_SEED)
    index = torch.randint(len(values), (resamples, len(values)), generator=stream)
    means = values[index].mean(dim=1)
    return float(means.quantile(0.025)), float(means.quantile(0.975))


def band(name: str, fp32_values: list[float], counts: tuple[str, ...]) -> float:
    """The rule's half-width for a measurement: ±1 mode for mode counts, else ±10% of |fp32 mean|."""
    return TOLERANCE_MODES if name in counts else TOLERANCE_SHARE * abs(statistics.fmean(fp32_values))


def one_ulp_apart(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """``net`` with every parameter moved by one unit in the last place, up or down at random per element (stream
    ``seed``): the null control's initial networks."""
    stream = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            up = torch.rand(p.shape, generator=stream) < 0.5
            p.copy_(torch.nextafter(p, torch.where(up, torch.tensor(float("inf")), torch.tensor(float("-inf")))))
    return net


@contextlib.contextmanager
def initial_networks(variant: str):
    """Within this block the toy trainer builds the initial networks of ``variant``: unchanged for a precision, one
    ulp apart (:func:`one_ulp_apart`, stream ``config.seed``) for the null control."""
    if variant != NULL:
        yield
        return
    build = batched.build_networks

    def apart(config: GANConfig):
        generator, critic = build(config)
        return one_ulp_apart(generator, config.seed), one_ulp_apart(critic, config.seed + 1)
    batched.build_networks = apart
    try:
        yield
    finally:
        batched.build_networks = build


def train(setting: Setting, seeds: list[int], n_iter: int, variant: str, device: str, results: Path) -> list:
    precision = "fp32" if variant == NULL else variant
    configs = [setting.build(seed, n_iter, precision) for seed in seeds]
    if isinstance(configs[0], ImageGANConfig):
        if variant == NULL:
            raise SystemExit(f"{setting.name}: the null control ({NULL}) is for the toy settings only")
        return [train_image_gan(c, device, progress=False, results_root=results / variant) for c in configs]
    with initial_networks(variant):
        return train_sweep(configs, device, progress=False, results_root=results / variant,
                           desc=f"{setting.name} {variant}")


def measure(setting: Setting, seeds: list[int], n_iter: int, precision: str, device: str, results: Path,
            save: Path | None) -> dict:
    """Train one variant (a precision, or the null control) of a setting and return (and with ``save``, write as
    JSON) its gate measurements."""
    started = time.perf_counter()
    image = isinstance(setting.build(seeds[0], n_iter, "fp32"), ImageGANConfig)
    out = dict(setting=setting.name, precision=precision, seeds=[], n_iter=n_iter, device=device, gates=[])
    # image runs are not batched: one seed at a time, saved after each (a call cut off by its time limit keeps them)
    for part in ([[seed] for seed in seeds] if image else [seeds]):
        out["gates"] += setting.gates(train(setting, part, n_iter, precision, device, results))
        out["seeds"] += part
        out["seconds"] = time.perf_counter() - started
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{setting.name}.{precision}.json").write_text(json.dumps(out))
    print(f"{setting.name} {precision}: {out['seconds']:.0f} s", flush=True)
    return out


def study(setting: Setting, measured: dict[str, dict], candidate: str = "bf16") -> bool:
    """Print the setting's table from the measurements of fp32 and ``candidate`` (bf16, or the null control) and
    return whether the candidate passes the rule."""
    measured = {v: measured[v] for v in ("fp32", candidate)}
    common = min(len(m["seeds"]) for m in measured.values())  # a call cut off by its time limit saved fewer seeds
    measured = {p: dict(m, seeds=m["seeds"][:common], gates=m["gates"][:common]) for p, m in measured.items()}
    seeds, n_iter, device = (measured["fp32"][k] for k in ("seeds", "n_iter", "device"))
    if any(measured[candidate][k] != measured["fp32"][k] for k in ("seeds", "n_iter", "device")) or common < 2:
        raise SystemExit(f"{setting.name}: the fp32 and {candidate} measurements were taken on other seeds, lengths "
                         "or devices, or on fewer than 2 common seeds")
    c = candidate
    print(f"\n## {setting.name}, {c} against fp32: {len(seeds)} seeds ({seeds[0]}–{seeds[-1]}), {n_iter:,} iterations"
          f"{'' if n_iter == setting.default_iters else f' (NOT the default {setting.default_iters:,}: a trial)'}, "
          f"{device}; fp32 {measured['fp32']['seconds']:.0f} s, {c} {measured[c]['seconds']:.0f} s")
    print(f"\n| measurement | seed | fp32 | {c} | {c} − fp32 |\n|---|---:|---:|---:|---:|")
    passed = True
    summary = []
    for name in measured["fp32"]["gates"][0]:
        fp32 = [m[name] for m in measured["fp32"]["gates"]]
        other = [m[name] for m in measured[c]["gates"]]
        for seed, a, b in zip(seeds, fp32, other):
            print(f"| {name} | {seed} | {a:.4g} | {b:.4g} | {b - a:+.4g} |")
        low, high = bootstrap_interval([b - a for a, b in zip(fp32, other)])
        half = band(name, fp32, setting.counts)
        inside = -half <= low and high <= half
        passed &= inside
        summary.append(f"| {name} | {statistics.fmean(fp32):.4g} | {statistics.fmean(other):.4g} "
                       f"| [{low:+.4g}, {high:+.4g}] | ±{half:.4g} | {'inside' if inside else 'OUTSIDE'} |")
    print(f"\n| measurement | fp32 mean | {c} mean | 95% interval of {c} − fp32 | band | |\n"
          "|---|---:|---:|---|---:|---|")
    print("\n".join(summary))
    return passed


def merge(first: dict, second: dict) -> dict:
    """One setting and variant's measurements from two calls that trained other seeds of it (``--save`` to two
    folders), ordered by seed; their seconds add up."""
    name = f"{first['setting']} {first['precision']}"
    if any(first[k] != second[k] for k in ("n_iter", "device")):
        raise SystemExit(f"{name}: saved parts differ in length or device ({first['n_iter']} on {first['device']} vs "
                         f"{second['n_iter']} on {second['device']}); combine parts of one study only")
    if set(first["seeds"]) & set(second["seeds"]):
        raise SystemExit(f"{name}: seeds {sorted(set(first['seeds']) & set(second['seeds']))} were saved twice; "
                         "give --combine each seed's measurement once")
    rows = sorted(zip(first["seeds"] + second["seeds"], first["gates"] + second["gates"]))
    return dict(first, seeds=[seed for seed, _ in rows], gates=[gates for _, gates in rows],
                seconds=first["seconds"] + second["seconds"])


def parse_iters(items: list[str], names: list[str]) -> dict[str, int]:
    """``--iters N`` (every setting) or ``NAME=N`` items; the settings' defaults otherwise."""
    out = {name: SETTINGS[name].default_iters for name in names}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not value.isdigit() or int(value) < 1 or (sep and name not in SETTINGS):
            raise SystemExit(f"--iters takes N or NAME=N with NAME in {sorted(SETTINGS)} and N >= 1, got {item!r}")
        for target in ([name] if sep else names):
            out[target] = int(value)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=[n for n in SETTINGS if n != "celeba_wgan_gp"],
                        choices=sorted(SETTINGS), help="default: every toy setting (add celeba_wgan_gp with CelebA)")
    parser.add_argument("--seeds", type=int, default=10, help="held-out seeds per setting (default 10)")
    parser.add_argument("--first-seed", type=int, default=300, help="the first held-out seed (default 300, >= 300)")
    parser.add_argument("--iters", nargs="*", default=[], help="N for every setting, or NAME=N (default: the rule's)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    parser.add_argument("--precisions", nargs="+", default=None, choices=VARIANTS,
                        help="train only these (with --save, to combine later; default: fp32 and the candidate)")
    parser.add_argument("--candidate", default="bf16", choices=[v for v in VARIANTS if v != "fp32"],
                        help=f"compared with fp32: bf16 (the study) or {NULL} (the null control)")
    parser.add_argument("--save", type=Path, default=None, help="write each setting's measurements as JSON here")
    parser.add_argument("--combine", type=Path, nargs="+", default=None,
                        help="train nothing: print the tables from the JSON files --save wrote in these folders "
                             "(the seeds of one setting and variant may be split between folders)")
    args = parser.parse_args(argv)
    if args.seeds < 2 or args.first_seed < 300:
        raise SystemExit("--seeds must be >= 2 (a paired interval) and --first-seed >= 300 (held-out seeds only)")
    if args.threads:
        torch.set_num_threads(args.threads)
    iters = parse_iters(args.iters, args.settings)
    pair = {"fp32", args.candidate}
    variants = args.precisions or ["fp32", args.candidate]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"# bf16 vs fp32 equivalence study ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}); torch "
          f"{torch.__version__}, {args.device}, {torch.get_num_threads()} threads")
    print(f"Rule (fixed before the runs): the 95% bootstrap interval of {args.candidate} − fp32 within "
          f"±{TOLERANCE_SHARE:.0%} of the fp32 mean, or ±{TOLERANCE_MODES:g} mode for mode counts, for every gate "
          "measurement.")
    if args.combine:  # the tables from measurements saved by earlier (e.g. parallel) calls
        found = {}
        for folder in args.combine:
            for path in sorted(folder.glob("*.json")):
                m = json.loads(path.read_text())
                variants = found.setdefault(m["setting"], {})
                variants[m["precision"]] = merge(variants[m["precision"]], m) if m["precision"] in variants else m
        outcomes = {name: study(SETTINGS[name], found[name], args.candidate) for name in args.settings
                    if pair <= set(found.get(name, {}))}
        iters = {name: found[name]["fp32"]["n_iter"] for name in outcomes}
        short = {name: min(len(m["seeds"]) for m in found[name].values()) for name in outcomes}
        missing = [name for name in args.settings if name not in outcomes]
    else:
        outcomes, missing, short = {}, [], {}
        with tempfile.TemporaryDirectory() as results:
            for name in args.settings:
                measured = {variant: measure(SETTINGS[name], seeds, iters[name], variant, args.device,
                                             Path(results), args.save) for variant in variants}
                if pair <= set(measured):
                    outcomes[name] = study(SETTINGS[name], measured, args.candidate)
    print()
    for name, passed in outcomes.items():
        trial = "" if iters[name] == SETTINGS[name].default_iters else " (a trial length: does not count)"
        if short.get(name, args.seeds) < args.seeds:  # a cut-off call: too few seeds for the rule
            print(f"{name}: INCOMPLETE ({short[name]} of {args.seeds} seeds in both variants: does not count; "
                  f"it would read {'PASS' if passed else 'FAIL'}){trial}")
        else:
            print(f"{name}: {'PASS' if passed else 'FAIL'}{trial}"
                  f"{'' if args.candidate == 'bf16' else ' (null control)'}")
    for name in missing:
        print(f"{name}: not run (no saved measurement for fp32 and {args.candidate})")


if __name__ == "__main__":
    main()
