"""The level-set chapter's tools: Algorithm 1 with the critic's level sets recorded, and the paper's claims as numbers.

Sagel & Gottwald's Level Set GAN (Eq. (4)) trains a critic f whose zero level set f⁻¹(0) should model the data
manifold: the critic minimises L = E[f(x)²] − E[f(G(z))²], the generator minimises E[f(G(z))²] (Algorithm 1: one
critic step per data batch, then ``n_gen`` generator steps, each on a fresh latent batch, RMSprop). The loss and
networks live in :mod:`lsgan_lib.models.objectives` and :mod:`lsgan_lib.train`; this module adds what the chapter needs:

* :func:`train_level_set` — the toy loop of ``train_gan`` (the same loop, so a run that stays finite has the same
  numbers), whose snapshot hook (:func:`critic_fields_hook`) additionally stores the critic's values on a grid over
  the plane at every snapshot (the level-set view), and which *records* an explosion of L instead of raising: a run
  whose loss becomes non-finite is frozen there, keeps what it had, and is cached with ``diverged_at`` set, so the
  chapter can count divergences over seeds; :func:`train_level_set_runs` trains a sweep of them batched
  (:func:`lsgan_lib.train.batched.train_sweep`), cached per batch (:func:`lsgan_lib.train.batched.batch_keys`);
* :func:`loss_explosion` — how far L grew relative to its own scale at the start of training, and whether it
  exploded (the same relative criterion on every problem);
* :func:`circle_shares` and :func:`curve_visits` — "the WGAN primarily learns the circle" and Fig. 1's left panel;
* :func:`choose_grid_point` and :func:`phenomenon_shares` — the Level Set GAN's grid of settings and its
  pre-registered selection;
* :func:`mode_summary` and :func:`snapshot_schedule` — summaries over seeds.

The reusable measurements the chapter also uses live in :mod:`lsgan_lib.measure`: the image gate, feature nets and
the MNIST classifier in :mod:`lsgan_lib.measure.features`; Jacobian determinants, orientation, contraction at the
centres and the anomaly curves in :mod:`lsgan_lib.measure.metrics`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from ..data.distributions import data_manifold
from ..models.objectives import objective, traits
from ..train.batched import StackedFC, train_gan, train_sweep
from ..train.config import GANConfig, GANRun, default_device

CACHE_KIND = "level_set_toy"
FIELD_POINTS = 81  # points per axis of the plane grid on which the critic's values are stored at each snapshot


@dataclass
class LevelSetRun:
    """A toy run with its critic's level sets.

    ``run`` is the ordinary :class:`~lsgan_lib.train.toy.GANRun` (snapshots, grid images, losses ``(n_iter, 2)``:
    column 0 is L of Eq. (4) for the level-set objectives, recorded before each critic update). ``fields`` is
    ``(snapshots, P, P)``: f on the plane grid ``field_x`` × ``field_y`` (``(P,)`` each; ``fields[s, i, j]`` is f at
    ``(field_x[j], field_y[i])``, the layout of ``plt.contourf``). ``diverged_at`` is ``None`` or the first iteration
    whose loss was not finite: training stopped there, later losses are NaN and later snapshots repeat the last good
    one (``reached`` says how many snapshots were really taken).
    """

    run: GANRun
    fields: torch.Tensor
    field_x: torch.Tensor
    field_y: torch.Tensor
    diverged_at: int | None
    reached: int
    extra: dict = field(default_factory=dict)

    @property
    def config(self) -> GANConfig:
        return self.run.config

    @property
    def losses(self) -> torch.Tensor:
        return self.run.losses


def plane_grid(bounds: tuple[float, float, float, float], points: int = FIELD_POINTS
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A regular ``points × points`` grid over ``bounds = (xmin, xmax, ymin, ymax)``.

    Returns ``x`` ``(P,)``, ``y`` ``(P,)`` and the grid's points ``(P*P, 2)`` in row-major order over (y, x), so
    ``f(points).reshape(P, P)[i, j]`` is f at ``(x[j], y[i])``."""
    if points < 2:
        raise ValueError(f"plane_grid needs at least 2 points per axis, got {points}")
    xmin, xmax, ymin, ymax = bounds
    x, y = torch.linspace(xmin, xmax, points), torch.linspace(ymin, ymax, points)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return x, y, torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


@torch.no_grad()
def critic_field(critic: nn.Module | StackedFC, points: torch.Tensor, side: int) -> torch.Tensor:
    """The critic's values on a plane grid ``(side*side, 2)`` as ``(side, side)`` (CPU), in eval mode; for a stacked
    critic of K members (:class:`lsgan_lib.train.batched.StackedFC`) each member's, ``(K, side, side)``."""
    was_training = critic.training
    critic.eval()
    if isinstance(critic, StackedFC):
        values = critic(points.expand(critic.members, -1, -1)).reshape(critic.members, side, side).cpu()
    else:
        values = critic(points).reshape(side, side).cpu()
    critic.train(was_training)
    return values


def critic_fields_hook(data: str, field_points: int, device: torch.device):
    """The snapshot hook of the toy loop (``snapshot_extra``) that stores the stacked critic's values on the plane
    grid over ``data``'s bounds (:func:`plane_grid`) as ``fields`` ``(K, P, P)`` at every snapshot."""
    _, _, plane = plane_grid(data_manifold(data).bounds, field_points)
    plane = plane.to(device)
    return lambda generator, critic: {"fields": critic_field(critic, plane, field_points)}


def _check_has_critic(configs: Sequence[GANConfig], caller: str) -> None:
    for config in configs:
        if not traits(objective(config.objective)).uses_critic:
            raise ValueError(f"{caller} draws the critic's level sets; objective {config.objective!r} has no critic")


def _level_set_run(run: GANRun, field_points: int) -> LevelSetRun:
    field_x, field_y, _ = plane_grid(data_manifold(run.config.data).bounds, field_points)
    return LevelSetRun(run=run, fields=run.extra["fields"], field_x=field_x, field_y=field_y,
                       diverged_at=run.extra["diverged_at"], reached=int(run.extra["reached"]))


def _cache_key(field_points: int):
    return lambda config: config.as_dict() | {"field_points": field_points}


def train_level_set(config: GANConfig, device: torch.device | str | None = None, field_points: int = FIELD_POINTS,
                    progress: bool = True, results_root=None, _bar=None) -> LevelSetRun:
    """Train ``config`` with the critic's field stored at every snapshot (or load it from the results cache).

    Diverged runs are cached too (with ``diverged_at``): an explosion of L is a result of this chapter, not an
    error. The returned networks are on the CPU in eval mode."""
    _check_has_critic([config], "train_level_set")
    device = torch.device(device) if device is not None else default_device()
    run = train_gan(config, device, progress, results_root, _bar,
                    snapshot_extra=critic_fields_hook(config.data, field_points, device), record_divergence=True,
                    cache_kind=CACHE_KIND, cache_key=_cache_key(field_points))
    return _level_set_run(run, field_points)


def train_level_set_runs(configs: Sequence[GANConfig], device: torch.device | str | None = None,
                         field_points: int = FIELD_POINTS, progress: bool = True, results_root=None,
                         desc: str = "training") -> list[LevelSetRun]:
    """:func:`train_level_set` for a sweep of configurations, batched: the runs of one data set and shape train as one
    model (:func:`lsgan_lib.train.batched.train_sweep`), cached per batch (:func:`lsgan_lib.train.batched.batch_keys`:
    batching changes float rounding, so these entries are not those of :func:`train_level_set`). Returns the runs in the
    order given."""
    configs = list(configs)
    _check_has_critic(configs, "train_level_set_runs")
    device = torch.device(device) if device is not None else default_device()
    runs: list[LevelSetRun | None] = [None] * len(configs)
    by_data: dict[str, list[int]] = {}
    for j, config in enumerate(configs):
        by_data.setdefault(config.data, []).append(j)
    for data, members in by_data.items():
        trained = train_sweep([configs[j] for j in members], device, progress, results_root, f"{desc}: {data}",
                              snapshot_extra=critic_fields_hook(data, field_points, device), record_divergence=True,
                              cache_kind=CACHE_KIND, cache_key=_cache_key(field_points))
        for j, run in zip(members, trained):
            runs[j] = _level_set_run(run, field_points)
    return runs


# ---------------------------------------------------------------------------------------------------------------------
# The paper's claims as numbers
# ---------------------------------------------------------------------------------------------------------------------


def loss_explosion(losses: torch.Tensor, start: int, factor: float) -> dict[str, float | bool]:
    """How far the loss L (column 0 of ``losses`` ``(n_iter, 2)``) ran away, *relative to its own scale* at the start.

    The scale of a run's L is set early in training, and differs by orders of magnitude between problems (8
    Gaussians, MNIST, CelebA), so an absolute threshold judges them unequally. Here the reference is the median |L|
    over iterations ``[start // 2, start)`` (after the critic's first steps, before any run-away); ``growth`` is the
    largest |L| over the finite iterations divided by it. A run **exploded** when L became non-finite, or when
    ``growth >= factor``.

    Returns ``reference``, ``max_abs``, ``growth`` (``inf`` when L became non-finite or the reference is 0),
    ``non_finite`` and ``exploded``. Raises ``ValueError`` for ``start < 2``, ``factor <= 1``, or a run shorter than
    ``start + 1`` iterations (no growth after the reference window can be measured)."""
    if start < 2 or not factor > 1:
        raise ValueError(f"loss_explosion needs start >= 2 and factor > 1, got start={start}, factor={factor}")
    values = losses[:, 0].double()
    if values.numel() <= start:
        raise ValueError(f"loss_explosion needs more than start={start} iterations to measure growth after the "
                         f"reference window, got {values.numel()}; lower `start` (the explosion_start parameter)")
    finite = torch.isfinite(values)
    non_finite = bool((~finite).any())
    window = values[start // 2:start]
    window = window[torch.isfinite(window)].abs()
    reference = float(window.median()) if window.numel() else math.nan
    kept = values[finite].abs()
    max_abs = float(kept.max()) if kept.numel() else math.inf
    if non_finite or not math.isfinite(reference) or reference == 0:
        growth = math.inf
    else:
        growth = max_abs / reference
    return {"reference": reference, "max_abs": max_abs, "growth": growth, "non_finite": non_finite,
            "exploded": non_finite or growth >= factor}


def circle_shares(samples: torch.Tensor, centres: torch.Tensor, band: float, near: float) -> dict[str, float]:
    """Where samples ``(n, 2)`` sit relative to the circle through the mode centres ``(k, 2)`` (radius: the centres'
    mean norm) — "the WGAN primarily learns the low-dimensional geometry of the circle", as numbers.

    Returns ``on_circle`` (share within ``band`` of the circle), ``near_centre`` (share within ``near`` of a centre)
    and ``between_on_circle`` (share on the circle but farther than ``near`` from every centre: mass spread *along*
    the circle rather than at the modes). Non-finite samples give NaN shares."""
    if samples.ndim != 2 or samples.shape[1] != 2 or centres.ndim != 2 or centres.shape[1] != 2:
        raise ValueError(f"circle_shares needs (n, 2) samples and (k, 2) centres, got {tuple(samples.shape)} and "
                         f"{tuple(centres.shape)}")
    if not (band > 0 and near > 0):
        raise ValueError(f"circle_shares needs band > 0 and near > 0, got band={band}, near={near}")
    if not bool(torch.isfinite(samples).all()):
        return {"on_circle": math.nan, "near_centre": math.nan, "between_on_circle": math.nan}
    centres = centres.to(samples)
    radius = centres.norm(dim=1).mean()
    on_circle = (samples.norm(dim=1) - radius).abs() <= band
    near_centre = torch.cdist(samples, centres).min(dim=1).values <= near
    return {"on_circle": float(on_circle.float().mean()), "near_centre": float(near_centre.float().mean()),
            "between_on_circle": float((on_circle & ~near_centre).float().mean())}


def curve_visits(curve: torch.Tensor, centres: torch.Tensor, near: float) -> int:
    """How many mode centres ``(k, 2)`` a generated curve ``(n, 2)`` (the image of a 1-d latent line) passes within
    ``near`` of — Fig. 1's left panel (dim(z) = 1) as a number. Non-finite points count as no visit."""
    if curve.ndim != 2 or centres.ndim != 2 or curve.shape[1] != centres.shape[1]:
        raise ValueError(f"curve_visits needs (n, d) points and (k, d) centres, got {tuple(curve.shape)} and "
                         f"{tuple(centres.shape)}")
    kept = curve[torch.isfinite(curve).all(dim=1)]
    if kept.numel() == 0:
        return 0
    return int((torch.cdist(centres.to(kept), kept).min(dim=1).values <= near).sum())


def phenomenon_shares(flags: dict[tuple, Sequence[bool]]) -> dict[tuple, float]:
    """For each grid point (a key) the share of its runs ``(seeds,)`` showing a phenomenon (collapse, explosion,
    coverage); the notebook reports these over the Level Set GAN's fixed grid."""
    return {point: (sum(bool(f) for f in values) / len(values) if len(values) else math.nan)
            for point, values in flags.items()}


def choose_grid_point(ratios: dict[tuple, Sequence[float]], learned: float, needed: int, tie: float) -> tuple:
    """The Level Set GAN's grid point, chosen by the rule the chapter fixes before its runs.

    ``ratios`` maps each point ``(lr, n_gen)`` to its selection seeds' learned-gate measurements ``(seeds,)`` (the
    samples' distance to the data over the untrained generator's:
    :func:`lsgan_lib.measure.metrics.support_distance_ratio`; NaN or infinite for a diverged run). A seed *learned* when
    its ratio is ≤ ``learned``; a point learned when at least ``needed`` of its seeds did (the quorum). The rule:

    1. the points with the most learned seeds — the learned points when any reached the quorum, otherwise every point
       with the most (its rows then read *not tested*: the learned gate fails);
    2. among them, the smallest median ratio over the seeds (the median: one seed cannot move it far), where every
       point within ``tie`` of that smallest median counts as tied;
    3. ties go to the larger n_gen (the only setting the paper states a direction for: Sec. 3 repeats the generator
       step "to prevent the loss function from exploding"), then to the grid's order (the first listed).
    """
    if not ratios:
        raise ValueError("choose_grid_point needs at least one grid point")
    if needed < 1 or not tie >= 0:
        raise ValueError(f"choose_grid_point needs needed >= 1 and tie >= 0, got needed={needed}, tie={tie}")
    order = list(ratios)
    values = {p: torch.nan_to_num(torch.as_tensor(ratios[p], dtype=torch.float64), nan=math.inf) for p in order}
    passed = {p: int((values[p] <= learned).sum()) for p in order}
    most = max(passed.values())
    candidates = [p for p in order if passed[p] == most]
    medians = {p: float(values[p].median()) for p in candidates}
    best = min(medians.values())
    tied = [p for p in candidates if medians[p] <= best + tie or medians[p] == best]
    return max(tied, key=lambda p: (p[1], -order.index(p)))


# ---------------------------------------------------------------------------------------------------------------------
# A small MNIST classifier for counting the digit classes of generated images
# ---------------------------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------------------------
# Summaries over seeds
# ---------------------------------------------------------------------------------------------------------------------


def snapshot_schedule(n_iter: int, count: int) -> tuple[int, ...]:
    """``count + 1`` evenly spaced snapshot iterations from 0 to ``n_iter`` (both included, no repeats)."""
    if n_iter < 1 or count < 1:
        raise ValueError(f"snapshot_schedule needs n_iter >= 1 and count >= 1, got {n_iter} and {count}")
    return tuple(sorted({round(i * n_iter / count) for i in range(count + 1)}))


def mode_summary(samples: Sequence[torch.Tensor], centres: Sequence[Sequence[float]], std: float, min_per_mode: int,
                 radius_in_std: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`lsgan_lib.measure.metrics.mode_statistics` over runs: ``(modes covered, high-quality share)``, each
    ``(runs,)`` (a sample is "high quality" within ``radius_in_std``·σ of a centre: 3 in the literature).

    A run's samples ``(n, 2)`` that hold non-finite values (a diverged generator) cover no mode and have no
    high-quality sample."""
    from ..measure.metrics import mode_statistics

    grid = torch.tensor(centres)
    modes, quality = [], []
    for s in samples:
        if not bool(torch.isfinite(s).all()):
            modes.append(0.0), quality.append(0.0)
            continue
        stats = mode_statistics(s, grid, std, radius_in_std=radius_in_std, min_per_mode=min_per_mode)
        modes.append(float(stats["modes_covered"])), quality.append(stats["high_quality"])
    return torch.tensor(modes), torch.tensor(quality)
